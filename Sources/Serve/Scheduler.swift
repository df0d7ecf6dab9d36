import Foundation
import JobFile

/// What time it is, for the scheduler: the system clock in `serve`, a clock the test moves in
/// the tests (docs/serve.md "Schedules").
public protocol ServeClock: Sendable {
    func now() -> Date
}

/// The system's wall clock (schedules are wall-clock times in a time zone).
public struct SystemClock: ServeClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// When each scheduled job is due next. Pure: `due(at:)` is asked with the clock's time and
/// says which jobs came due since the last ask; a due time missed by more than one period (the
/// process was stopped, the machine slept) fires once, not once per missed period.
public struct Scheduler: Sendable {
    public struct Due: Sendable, Equatable {
        public var job: String
        /// The time the schedule named.
        public var time: Date

        public init(job: String, time: Date) {
            self.job = job
            self.time = time
        }
    }

    private var schedules: [String: CronSchedule] = [:]
    private var nextDue: [String: Date] = [:]

    /// `jobs`: name and schedule of every scheduled job; nothing is due before `now`.
    public init(jobs: [(name: String, schedule: CronSchedule)], now: Date) {
        replace(jobs: jobs, now: now)
    }

    /// New jobs (SIGHUP): a job whose schedule did not change keeps its next due time.
    public mutating func replace(jobs: [(name: String, schedule: CronSchedule)], now: Date) {
        let old = (schedules, nextDue)
        schedules = [:]
        nextDue = [:]
        for (name, schedule) in jobs {
            schedules[name] = schedule
            if old.0[name] == schedule, let next = old.1[name] {
                nextDue[name] = next
            } else {
                nextDue[name] = schedule.next(after: now)
            }
        }
    }

    /// The jobs due at or before `now` since the last call, in due-time order; each moves on to
    /// its next time after `now`.
    public mutating func due(at now: Date) -> [Due] {
        var out: [Due] = []
        for (name, time) in nextDue where time <= now {
            out.append(Due(job: name, time: time))
            nextDue[name] = schedules[name]?.next(after: now)
        }
        return out.sorted { ($0.time, $0.job) < ($1.time, $1.job) }
    }

    /// The next due time of a job (nil: not scheduled, or never due again).
    public func nextTime(of job: String) -> Date? { nextDue[job] ?? nil }
}
