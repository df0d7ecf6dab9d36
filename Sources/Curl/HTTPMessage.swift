/// One HTTP request, as data. Bodies are either small byte arrays (manifests, forms) or a
/// stream read piece by piece through CURLOPT_READFUNCTION, so a layer never sits in memory.
public struct HTTPRequest {
    public enum Body {
        case none
        case bytes([UInt8])
        /// A stream of exactly `length` bytes.
        case stream(any RequestBodyStream, length: Int64)

        public var length: Int64 {
            switch self {
            case .none: 0
            case .bytes(let b): Int64(b.count)
            case .stream(_, let length): length
            }
        }
    }

    public var method: String
    public var url: String
    public var headers: HTTPHeaders
    public var body: Body
    /// Sent even after the shared cancellation flag was raised: clean-up requests after an
    /// interrupt (deleting an open upload session), which must stay short (`timeoutSeconds`).
    public var ignoresCancellation = false
    /// A limit on the whole exchange, in seconds; nil for none (uploads may take long).
    public var timeoutSeconds: Int?

    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: Body = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Where a response body goes.
public enum ResponseSink: Sendable {
    /// Dropped (HEAD, uploads, error bodies nobody reads).
    case discard
    /// Kept in memory, up to `limit` bytes; a longer body fails the request with
    /// `TransportError.responseTooLarge` (small JSON documents only).
    case memory(limit: Int)
    /// Handed piece by piece to a consumer (blob downloads); a throw aborts the transfer.
    case stream(@Sendable (UnsafeRawBufferPointer) throws -> Void)
}

/// A completed HTTP exchange (any status).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// The body when the sink was `.memory`; empty otherwise.
    public var body: [UInt8]
    /// The URL that answered (after any redirects this layer followed).
    public var url: String

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], url: String = "") {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Sends HTTP requests. `CurlTransport` is the real one; tests may substitute their own.
/// Implementations are synchronous: call them from worker threads, not from Swift's
/// cooperative pool.
public protocol HTTPTransport: Sendable {
    /// Sends one request (no redirects followed) and returns whatever the server answered.
    /// `progress` receives the number of request-body bytes sent so far.
    func perform(
        _ request: HTTPRequest, sink: ResponseSink,
        progress: (@Sendable (Int64) -> Void)?
    ) throws(TransportError) -> HTTPResponse
}

/// A request body read in pieces (an upload streamed from its source), so memory never grows
/// with the size of a blob. The registry client adapts its blob streams to this.
public protocol RequestBodyStream: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A body already in memory, read once per transfer (a retry makes a new one). The transport
/// cannot use `OCI.MemoryBlobStream`: `Curl` sits below the OCI vocabulary (docs/run.md).
final class MemoryBodyStream: RequestBodyStream {
    private var rest: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { rest = bytes[...] }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, rest.count)
        rest.prefix(n).withUnsafeBytes { buffer.copyMemory(from: $0) }
        rest.removeFirst(n)
        return n
    }
}
