#if canImport(Glibc)
    import Glibc
#endif

/// A flag shared by everything one run does: raising it (on SIGINT, say) makes every transfer in
/// flight abort at its next progress callback, every retry loop stop, and every wait end at once
/// (docs/concurrency.md "Cancellation").
public final class CancellationFlag: Sendable {
    private let raised = LockedValue(false)

    public init() {}

    /// Raises the flag and wakes every `sleep(seconds:)`.
    public func cancel() {
        raised.withLock { $0 = true }
        raised.broadcast()
    }

    public var isCancelled: Bool { raised.withLock { $0 } }

    /// Waits `seconds` (a retry's back-off, a rate limit's reset) unless the flag is raised
    /// first. Returns false when it was cancelled: the caller stops instead of going on.
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        guard seconds > 0 else { return !isCancelled }
        let deadline = Lock.deadline(afterSeconds: seconds)
        return raised.withLock { (cancelled: inout Bool) -> Bool in
            while !cancelled {
                guard raised.lock.wait(until: deadline) else { break }
            }
            return !cancelled
        }
    }
}
