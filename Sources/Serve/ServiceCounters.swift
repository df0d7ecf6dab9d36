import State

/// What `/metrics` says about the service itself since it started (docs/serve.md "Metrics"):
/// registry events received, ignored and pending, and runs by kind and status.
public struct ServiceCounters: Sendable, Equatable {
    /// Push events accepted by the hook (repeated ids not counted).
    public var eventsReceived = 0
    /// Events that matched no item (stored as `ignored`) or could start nothing (not a tagged push).
    public var eventsIgnored = 0
    /// Accepted events not yet run.
    public var eventsPending = 0
    /// Scheduled runs skipped because the job's previous run was still going.
    public var schedulesSkipped = 0
    /// Runs finished since start, by kind (`event`, `schedule`) and status (`ok`, `failed`, `interrupted`).
    public var runs: [RunCount] = []

    public struct RunCount: Sendable, Equatable, Hashable {
        public var kind: String
        public var status: String
        public var count: Int
    }

    public init() {}

    mutating func countRun(kind: RunKind, status: RunStatus) {
        if let index = runs.firstIndex(where: { $0.kind == kind.rawValue && $0.status == status.rawValue }) {
            runs[index].count += 1
        } else {
            runs.append(RunCount(kind: kind.rawValue, status: status.rawValue, count: 1))
        }
    }
}
