#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// An HTTP proxy on a loopback port in front of a plain-http registry that injects faults:
/// a status (e.g. 429 with `Retry-After`) instead of forwarding, or a connection dropped after
/// part of a request body. Each request gets its own upstream connection (`Connection: close`),
/// so faults hit exactly the request they match.
public final class FaultProxy: Sendable {
    public enum Fault: Sendable {
        /// Answer `status` (with `Retry-After` when given) instead of forwarding.
        case status(Int, retryAfter: String?)
        /// Forward the head and `bytes` bytes of the body, then drop both connections.
        case dropAfterBodyBytes(Int)
    }

    /// A fault for the next `times` requests matching `method` (any when nil) and `pathContains`.
    public struct Rule: Sendable {
        public var method: String?
        public var pathContains: String
        public var fault: Fault
        public var times: Int

        public init(method: String? = nil, pathContains: String = "", fault: Fault, times: Int = 1) {
            self.method = method
            self.pathContains = pathContains
            self.fault = fault
            self.times = times
        }
    }

    /// One request seen by the proxy.
    public struct Entry: Sendable {
        public let method: String
        public let target: String
        /// Whether a fault was injected instead of (or while) forwarding.
        public let faulted: Bool
        public let time: Date
    }

    public let upstreamPort: UInt16
    public let port: UInt16
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var host: String { "127.0.0.1:\(port)" }

    private let listener: LoopbackListener
    private let state: Shared

    private final class Shared: Sendable {
        let rules = Mutex<[Rule]>([])
        let log = Mutex<[Entry]>([])
    }

    public init(upstreamPort: UInt16) throws {
        self.upstreamPort = upstreamPort
        let state = Shared()
        self.state = state
        listener = try LoopbackListener { fd in FaultProxy.serve(fd, upstreamPort: upstreamPort, state: state) }
        port = listener.port
    }

    public func add(_ rule: Rule) { state.rules.withLock { $0.append(rule) } }

    public var entries: [Entry] { state.log.withLock { $0 } }

    public func stop() { listener.stop() }

    deinit { listener.stop() }

    private static func serve(_ client: Int32, upstreamPort: UInt16, state: Shared) {
        guard let head = HTTPRequestHead.read(from: client) else { return }
        let fault: Fault? = state.rules.withLock { rules in
            guard let index = rules.firstIndex(where: { ($0.method == nil || $0.method == head.method) && head.target.contains($0.pathContains) && $0.times > 0 }) else { return nil }
            rules[index].times -= 1
            return rules[index].fault
        }
        state.log.withLock { $0.append(Entry(method: head.method, target: head.target, faulted: fault != nil, time: Date())) }

        if case .status(let status, let retryAfter) = fault {
            _ = head.readBody(from: client)
            var response = "HTTP/1.1 \(status) Injected Fault\r\nContent-Length: 0\r\nConnection: close\r\n"
            if let retryAfter { response += "Retry-After: \(retryAfter)\r\n" }
            _ = Sockets.writeAll(client, Array((response + "\r\n").utf8))
            return
        }
        guard let upstream = try? Sockets.connect(port: upstreamPort) else { return }
        defer { close(upstream) }
        guard Sockets.writeAll(upstream, head.serialized(connection: "close")) else { return }

        var body = head.leftover
        let total = head.contentLength
        var forwarded = 0
        let limit: Int
        if case .dropAfterBodyBytes(let bytes) = fault { limit = min(bytes, total) } else { limit = total }
        while forwarded < limit {
            if body.isEmpty {
                guard let more = Sockets.readSome(client, max: min(65536, total - forwarded - body.count)) else { return }
                body = more
            }
            let piece = Array(body.prefix(limit - forwarded))
            guard Sockets.writeAll(upstream, piece) else { return }
            forwarded += piece.count
            body.removeFirst(piece.count)
        }
        if case .dropAfterBodyBytes = fault {
            // Drop both sides: the client sees the connection die mid-upload, the registry a
            // client that went away.
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            return
        }
        while let chunk = Sockets.readSome(upstream) {
            guard Sockets.writeAll(client, chunk) else { return }
        }
    }
}
