/// What the read-only web view, the JSON API and /metrics answer (module LedgerWeb renders them;
/// `serve` only routes GET requests to it).
public struct ServeViewResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// Answers every GET that is not a route of `serve` itself (`/`, `/runs/…`, `/api/v1/…`, `/metrics`).
public typealias ViewHandler = @Sendable (_ path: String, _ query: [String: String]) -> ServeViewResponse
