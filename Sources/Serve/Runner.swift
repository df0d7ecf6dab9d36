import Foundation
import JobFile
import Planner
import PushOutput
import Pusher
import Run
import State
import Threading

/// Executes `serve`'s runs, one at a time, on its own thread: scheduled jobs and coalesced
/// registry events, each an apply through `ApplyRun` with the apply lock held only while it runs
/// (docs/serve.md "Runs").
final class Runner: Sendable {
    private let ledger: any Ledger
    private let jobs: JobSet
    private let log: ServeLog
    private let clock: any ServeClock
    private let board: LockedValue<RunBoard>
    private let counters: LockedValue<ServiceCounters>
    /// The cancellation flag of the run in progress (raised on SIGTERM/SIGINT).
    private let current = LockedValue<CancellationFlag?>(nil)
    private let done = LockedValue(false)
    /// How long events wait for the apply lock another process holds before they are tried again.
    static let lockRetrySeconds: TimeInterval = 5

    init(
        ledger: any Ledger, jobs: JobSet, log: ServeLog, clock: any ServeClock, board: RunBoard,
        counters: LockedValue<ServiceCounters>
    ) {
        self.ledger = ledger
        self.jobs = jobs
        self.log = log
        self.clock = clock
        self.board = LockedValue(board)
        self.counters = counters
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            done.withLock { $0 = true }
            done.broadcast()
        }
        thread.name = "pushctl.serve.runner"
        thread.start()
    }

    /// Events just stored as pending.
    func add(events: [EventRecord]) {
        let now = clock.now()
        let pending = board.withLock { board in
            board.add(events: events, at: now)
            return board.pendingCount
        }
        counters.withLock { $0.eventsPending = pending }
        board.broadcast()
    }

    /// A job's schedule came due: queued, or skipped and said so when its previous run still goes.
    func scheduleDue(_ due: Scheduler.Due) {
        let queued = board.withLock { $0.offer(job: due.job, due: due.time) }
        if queued {
            board.broadcast()
        } else {
            log.line(
                "schedule: job \(due.job) due at \(due.time.formatted(.iso8601)) skipped: its previous run is still going (no overlap)")
        }
    }

    /// Stops taking work and interrupts the run in progress (it is recorded `interrupted`);
    /// returns once the runner's thread has ended.
    func stop() {
        board.withLock { $0.stop() }
        board.broadcast()
        current.withLock { $0?.cancel() }
        done.withLock(whenReady: { $0 }) { _ in }
    }

    private func loop() {
        while true {
            let work: RunBoard.Work? = board.withLock { board in
                while true {
                    if board.stopping { return nil }
                    let (work, lookAgain) = board.next(at: clock.now())
                    if let work { return work }
                    // Woken by new work or a stop; else at the coalescing deadline, or each second.
                    let wait = min(max(lookAgain.map { $0.timeIntervalSince(clock.now()) } ?? 1, 0.01), 1)
                    _ = self.board.lock.wait(until: Lock.deadline(afterSeconds: wait))
                }
            }
            guard let work else { return }
            switch work {
            case .schedule(let job, let due): runScheduled(job, due: due)
            case .events(let events): runEvents(events)
            }
            let pending = board.withLock { board in
                board.finished()
                return board.pendingCount
            }
            counters.withLock { $0.eventsPending = pending }
        }
    }

    private func runScheduled(_ name: String, due: Date) {
        guard let job = jobs.jobs.first(where: { $0.name == name }) else { return }
        let outcome = apply(job, items: Planner.plan(job).items, kind: .schedule, note: "due \(due.formatted(.iso8601))")
        if case .locked = outcome {
            log.line("schedule: job \(name) due at \(due.formatted(.iso8601)) skipped: another process holds the apply lock")
        }
    }

    private func runEvents(_ events: [EventRecord]) {
        let current = jobs.jobs
        // Per job, the items the events matched (each once) and the events that matched them.
        var groups: [(job: Job, items: [PlanItem], events: [EventRecord])] = []
        var ignored: [EventRecord] = []
        for event in events {
            var matched = false
            for job in current {
                let items = RegistryEvents.items(of: job, matching: event)
                guard !items.isEmpty else { continue }
                matched = true
                if let index = groups.firstIndex(where: { $0.job.name == job.name }) {
                    let known = Set(groups[index].items.map(\.id))
                    groups[index].items += items.filter { !known.contains($0.id) }
                    groups[index].events.append(event)
                } else {
                    groups.append((job, items, [event]))
                }
            }
            if !matched { ignored.append(event) }
        }
        if !ignored.isEmpty { markIgnored(ignored) }
        board.withLock { $0.running(jobs: Set(groups.map(\.job.name))) }
        for group in groups {
            let ids = group.events.map(\.id)
            let outcome = apply(group.job, items: group.items, kind: .event, note: "events \(ids.joined(separator: ","))")
            switch outcome {
            case .ran(let run, let status):
                // An interrupted run leaves its events pending: the next start runs them.
                guard status != .interrupted else { continue }
                do { try ledger.markEvents(ids, status: .ran, run: run) } catch { log.line("error: recording events \(ids): \(error)") }
            case .locked:
                let now = clock.now()
                board.withLock { $0.putBack(events: group.events, at: now, after: Self.lockRetrySeconds) }
            case .failed:
                break
            }
        }
    }

    func markIgnored(_ events: [EventRecord]) {
        for event in events {
            log.line(
                "event \(event.id) (\(event.host.map { $0 + "/" } ?? "")\(event.repository):\(event.tag ?? "")) ignored: no docker:// item reads it"
            )
        }
        counters.withLock { $0.eventsIgnored += events.count }
        do { try ledger.markEvents(events.map(\.id), status: .ignored, run: nil) } catch {
            log.line("error: recording ignored events: \(error)")
        }
    }

    enum Outcome {
        case ran(RunID, RunStatus)
        case locked
        case failed
    }

    /// One apply of `items` of `job`, recorded with `kind`; one log line when it ends.
    private func apply(_ job: Job, items: [PlanItem], kind: RunKind, note: String) -> Outcome {
        let lock: any ApplyLock
        do {
            lock = try ledger.acquireApplyLock()
        } catch {
            if case .locked = error {
                log.line("\(kind) run of job \(job.name) waits: \(error)")
                return .locked
            }
            log.line("error: \(kind) run of job \(job.name): \(error)")
            return .failed
        }
        defer { lock.release() }
        let cancellation = CancellationFlag()
        let stopping = board.withLock { $0.stopping }
        current.withLock { $0 = cancellation }
        defer { current.withLock { $0 = nil } }
        if stopping { return .failed }
        let sink = ServeLogSink(log: log, prefix: "\(kind) job \(job.name): ")
        let run = ApplyRun(store: ledger, sink: sink, cancellation: cancellation) { [log] in log.line("\(kind) job \(job.name): \($0)") }
        var request = ApplyRequest(
            jobs: [job], work: [(job, items)], shard: nil, concurrency: nil, images: nil, retries: nil, environment: jobs.environment)
        request.kind = kind
        let summary: RunSummary
        do {
            summary = try run.run(request)
        } catch {
            log.line("error: \(kind) run of job \(job.name): \(error)")
            return .failed
        }
        let status: RunStatus = summary.interrupted ? .interrupted : summary.exitCode != 0 ? .failed : .ok
        log.line("run \(summary.runID) \(kind) job \(job.name) \(status) (\(note)): \(SummaryText.line(summary))")
        return .ran(RunID(summary.runID), status)
    }
}
