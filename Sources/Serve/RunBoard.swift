import Foundation
import State

/// What the runner does next, decided without I/O (so the rules are tested directly): one run
/// at a time; a scheduled job already queued or running is skipped (no overlap); events are
/// coalesced — they wait until none arrived for `quiet` seconds, at most `maxWait` after the first.
public struct RunBoard: Sendable {
    public enum Work: Sendable, Equatable {
        case events([EventRecord])
        case schedule(job: String, due: Date)
    }

    public var quiet: TimeInterval
    public var maxWait: TimeInterval
    private(set) var pending: [EventRecord] = []
    private var firstEventAt: Date?
    private var lastEventAt: Date?
    /// Not before this time (the apply lock was held by another process).
    private var eventsNotBefore: Date?
    private(set) var queued: [(job: String, due: Date)] = []
    /// The jobs of the run in progress.
    public private(set) var running: Set<String> = []
    public private(set) var stopping = false

    public init(quiet: TimeInterval, maxWait: TimeInterval) {
        self.quiet = quiet
        self.maxWait = maxWait
    }

    public var pendingCount: Int { pending.count }

    /// Accepted events, waiting to be coalesced into the next event run.
    public mutating func add(events: [EventRecord], at now: Date) {
        guard !events.isEmpty else { return }
        let known = Set(pending.map(\.id))
        pending += events.filter { !known.contains($0.id) }
        if firstEventAt == nil { firstEventAt = now }
        lastEventAt = now
    }

    /// Events a run could not take (the apply lock was busy): tried again `after` seconds.
    public mutating func putBack(events: [EventRecord], at now: Date, after: TimeInterval) {
        add(events: events, at: now)
        eventsNotBefore = now.addingTimeInterval(after)
    }

    /// A job's schedule came due: true when queued, false when skipped because its previous run
    /// is still going or already waiting (no overlap).
    public mutating func offer(job: String, due: Date) -> Bool {
        if running.contains(job) || queued.contains(where: { $0.job == job }) { return false }
        queued.append((job, due))
        return true
    }

    /// The work to start now (nil while a run is in progress, or nothing is ready) and when to
    /// look again when nothing is.
    public mutating func next(at now: Date) -> (work: Work?, lookAgainAt: Date?) {
        guard !stopping, running.isEmpty else { return (nil, nil) }
        if !queued.isEmpty {
            let (job, due) = queued.removeFirst()
            running = [job]
            return (.schedule(job: job, due: due), nil)
        }
        guard let first = firstEventAt, let last = lastEventAt, !pending.isEmpty else { return (nil, nil) }
        var ready = min(last.addingTimeInterval(quiet), first.addingTimeInterval(maxWait))
        if let notBefore = eventsNotBefore { ready = max(ready, notBefore) }
        guard now >= ready else { return (nil, ready) }
        let events = pending
        pending = []
        firstEventAt = nil
        lastEventAt = nil
        eventsNotBefore = nil
        running = ["events"]
        return (.events(events), nil)
    }

    /// The jobs an event run turned out to touch (for the no-overlap rule).
    public mutating func running(jobs: Set<String>) { running = jobs.union(["events"]) }

    public mutating func finished() { running = [] }

    public mutating func stop() { stopping = true }
}
