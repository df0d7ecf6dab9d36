import SafeText

/// Why a request got no HTTP answer. HTTP error statuses are not transport errors: they come back
/// as `HTTPResponse`s for the caller to interpret.
public enum TransportError: Error, Sendable, Equatable {
    /// DNS failure, connection refused, connect timeout.
    case connect(url: String, message: String)
    /// The TLS handshake or certificate verification failed.
    case tls(url: String, message: String)
    /// The connection dropped or stalled (below the low-speed limit) mid-exchange.
    case connectionLost(url: String, message: String)
    /// The overall or low-speed timeout fired.
    case timeout(url: String, message: String)
    /// The request body stream failed (e.g. a verifying source found a digest mismatch).
    case bodySource(url: String, message: String)
    /// The response sink threw or its size limit was exceeded.
    case responseTooLarge(url: String, limit: Int)
    case responseConsumer(url: String, message: String)
    /// The shared cancellation flag was raised.
    case cancelled(url: String)
    /// Anything else libcurl reported (code and message).
    case other(url: String, code: Int, message: String)

    public var url: String {
        switch self {
        case .connect(let u, _), .tls(let u, _), .connectionLost(let u, _), .timeout(let u, _),
            .bodySource(let u, _), .responseTooLarge(let u, _), .responseConsumer(let u, _),
            .cancelled(let u), .other(let u, _, _):
            u
        }
    }

    /// Failures worth retrying at the same endpoint (a new connection may succeed).
    public var isRetryable: Bool {
        switch self {
        case .connect, .connectionLost, .timeout: true
        case .tls, .bodySource, .responseTooLarge, .responseConsumer, .cancelled, .other: false
        }
    }
}

extension TransportError: CustomStringConvertible {
    /// The failure in one line; URLs lose their query strings (upload state, signatures) and
    /// control characters from the server are escaped (see `DisplayText`).
    public var description: String { DisplayText.safe(rawDescription) }

    private var rawDescription: String {
        switch self {
        case .connect(let u, let m): "cannot connect to \(u): \(m)"
        case .tls(let u, let m): "TLS failure talking to \(u): \(m)"
        case .connectionLost(let u, let m): "connection to \(u) lost: \(m)"
        case .timeout(let u, let m): "request to \(u) timed out: \(m)"
        case .bodySource(let u, let m): "reading the request body for \(u) failed: \(m)"
        case .responseTooLarge(let u, let limit): "response from \(u) is larger than \(limit) bytes"
        case .responseConsumer(let u, let m): "storing the response from \(u) failed: \(m)"
        case .cancelled(let u): "request to \(u) cancelled"
        case .other(let u, let code, let m): "request to \(u) failed (curl error \(code)): \(m)"
        }
    }
}
