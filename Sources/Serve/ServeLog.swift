import Foundation
import Pusher
import Threading

/// The service's log: one line per event, on stderr, each starting with the UTC time
/// (docs/serve.md "Log"). Nothing written here carries a credential: job files' secrets are never
/// part of a message, and the hook token is never echoed.
public final class ServeLog: Sendable {
    private let lock = Lock()
    private let write: @Sendable (String) -> Void

    public init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.write = write
    }

    public func line(_ text: String) {
        let stamp = Date().formatted(.iso8601)
        // One line per call: a newline inside a message (a registry's error text) is escaped.
        let flat = text.replacingOccurrences(of: "\n", with: "\\n")
        lock.withLock { write("\(stamp) \(flat)") }
    }
}

/// The run's events as the service logs them: not one line per push (the run's summary line is
/// written when it ends) but what needs a person: errors and notices.
struct ServeLogSink: PushEventSink {
    let log: ServeLog
    let prefix: String

    func emit(_ event: PushEvent) {
        switch event {
        case .notice(let text): log.line("\(prefix)\(text)")
        case .error(let message, _): log.line("\(prefix)error: \(message)")
        case .pushEnd(let target, let outcome) where outcome.status == .failed:
            log.line("\(prefix)error: \(target.source) → \(target.registry)/\(target.repository): \(outcome.error ?? "failed")")
        default: break
        }
    }
}
