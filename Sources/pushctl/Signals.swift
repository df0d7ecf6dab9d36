import Dispatch
import Foundation

/// SIGINT/SIGTERM during `apply`: the first one stops new work and cancels transfers (curl aborts
/// them, open upload sessions are deleted by the client), so the run can be recorded as
/// interrupted and exit 130; a second one exits at once.
final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    /// - Parameter interrupt: stops the run; false when it was stopped already.
    init(interrupt: @escaping @Sendable () -> Bool, onFirst: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "pushctl.signals")
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                guard interrupt() else { _exit(130) }
                onFirst(number)
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
