import Curl
import Foundation
import Registry
import Threading

/// The pull budgets of the source registries of a run, as their responses announce them
/// (`RateLimitStatus`), keyed by registry (`host[:port]`). Filled by `RateLimitObservingTransport`,
/// read by `RateLimitGate` before the run and by registry sources before each manifest `GET`
/// (the request Docker Hub counts as a pull; `HEAD` is free).
public final class RateLimitBook: Sendable {
    private let statuses = LockedValue<[String: RateLimitStatus]>([:])

    public init() {}

    /// Keeps the newest status per registry.
    public func record(_ status: RateLimitStatus, registry: String) {
        statuses.withLock { all in
            if let known = all[registry], known.observedAt > status.observedAt { return }
            all[registry] = status
        }
    }

    public func status(of registry: String) -> RateLimitStatus? { statuses.withLock { $0[registry] } }

    public var all: [String: RateLimitStatus] { statuses.withLock { $0 } }

    /// Before a counted request (a manifest `GET`): takes one from the known budget, or throws when
    /// the registry said nothing is left and the window has not reset yet.
    public func spend(registry: String, now: Date = Date()) throws(RateLimitExhausted) {
        try statuses.withLock { all throws(RateLimitExhausted) in
            guard var status = all[registry] else { return }
            if status.remaining <= 0 {
                if let refill = status.refillBy, refill <= now { all[registry] = nil; return }
                throw RateLimitExhausted(registry: registry, status: status)
            }
            status.remaining -= 1
            all[registry] = status
        }
    }
}

/// A source registry has no pulls left in its current window.
public struct RateLimitExhausted: Error, Sendable, CustomStringConvertible {
    public var registry: String
    public var status: RateLimitStatus

    public var description: String {
        let when = status.refillBy.map { " after \(RateLimitStatus.format($0))" } ?? " later"
        return "rate limit of \(registry) exhausted (\(status)); pushctl stops here rather than provoke 429s: run again\(when)"
    }
}

/// Wraps a transport and records the rate-limit headers of every response in a `RateLimitBook`.
public struct RateLimitObservingTransport: HTTPTransport {
    let inner: any HTTPTransport
    let registry: String
    let book: RateLimitBook

    public init(inner: any HTTPTransport, registry: String, book: RateLimitBook) {
        self.inner = inner
        self.registry = registry
        self.book = book
    }

    public func perform(_ request: HTTPRequest, sink: ResponseSink, progress: (@Sendable (Int64) -> Void)?) throws(TransportError)
        -> HTTPResponse
    {
        let response = try inner.perform(request, sink: sink, progress: progress)
        if let status = RateLimitStatus.parse(status: response.status, headers: response.headers) {
            book.record(status, registry: registry)
        }
        return response
    }
}
