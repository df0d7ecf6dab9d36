/// What `/metrics` says about the service itself since it started (docs/serve.md "Metrics"):
/// registry events received, ignored and pending (runs by kind and status come from the ledger,
/// so they survive a restart; a skipped schedule is a log line).
public struct ServiceCounters: Sendable, Equatable {
    /// Push events accepted by the hook (repeated ids not counted).
    public var eventsReceived = 0
    /// Events that matched no item (stored as `ignored`) or could start nothing (not a tagged push).
    public var eventsIgnored = 0
    /// Accepted events not yet run.
    public var eventsPending = 0

    public init() {}
}
