import Synchronization

/// A flag shared by everything one run does: raising it (on SIGINT, say) makes every transfer in
/// flight abort at its next progress callback and every retry loop stop.
public final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    public init() {}

    public func cancel() { raised.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { raised.load(ordering: .relaxed) }
}
