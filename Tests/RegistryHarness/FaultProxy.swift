#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading

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
        /// Read `bytes` bytes of the body from the client but forward only the head, then drop
        /// both connections: the upload dies in transit and the registry keeps none of it.
        case dropInTransit(Int)
        /// Forward everything, but the request body at most `bytesPerSecond`: a slow link, so a
        /// test can act (signal, start a second process) while an upload is under way.
        case throttle(bytesPerSecond: Int)
        /// Forward the whole request and let the registry act on it, then close the client's
        /// connection without relaying the answer: a response lost on the way back.
        case dropResponse
        /// Forward, but point the response's `Location` header at `baseURL` (scheme, host and
        /// port replaced; path and query kept), e.g. at a second proxy that records whether
        /// credentials followed the upload session there.
        case rewriteLocation(to: String)
        /// Forward, but relay the response head and then its body at most `bytesPerSecond`,
        /// after first holding the head back for `headDelaySeconds`: a registry or network
        /// that trickles.
        case trickleResponse(bytesPerSecond: Int, headDelaySeconds: Double)
        /// Forward, relay the first `bytes` bytes of the response (head included), then drop both
        /// connections: a server that goes away in the middle of its answer.
        case dropResponseAfterBytes(Int)
        /// Read the whole request, forward nothing and answer nothing for `seconds` (then drop
        /// the connection): a registry that stalls.
        case stall(seconds: Double)
        /// Answer `status` with a JSON `body` (a registry's own error) instead of forwarding.
        case answer(Int, body: String)
        /// Forward as usual, counting the matching requests in flight at once in `gauge`, and hold
        /// each one before forwarding until the gauge has seen `gauge.gather` of them in flight
        /// together (or `gauge.patience` seconds have passed): how many requests a client sends
        /// at once, without asserting any time.
        case gather(InFlightGauge)
    }

    /// Counts requests in flight at once (`Fault.gather`).
    public final class InFlightGauge: Sendable {
        private let counts = LockedValue((now: 0, most: 0))
        /// Requests are held until this many were in flight at once.
        public let gather: Int
        /// How long a request is held at most, in seconds.
        public let patience: Double

        public init(gather: Int, patience: Double = 5) {
            self.gather = gather
            self.patience = patience
        }

        /// The most requests that were in flight at once.
        public var most: Int { counts.withLock { $0.most } }

        func enter() {
            counts.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            let deadline = Date().addingTimeInterval(patience)
            while counts.withLock({ $0.most }) < gather, Date() < deadline { usleep(1_000) }
        }

        func leave() { counts.withLock { $0.now -= 1 } }
    }

    /// A fault for the next `times` requests matching `method` (any when nil) and `pathContains`.
    public struct Rule: Sendable {
        public var method: String?
        public var pathContains: String
        public var fault: Fault
        public var times: Int
        /// Matching requests to let through untouched before the fault applies.
        public var skip: Int

        public init(method: String? = nil, pathContains: String = "", fault: Fault, times: Int = 1, skip: Int = 0) {
            self.method = method
            self.pathContains = pathContains
            self.fault = fault
            self.times = times
            self.skip = skip
        }
    }

    /// One request seen by the proxy.
    public struct Entry: Sendable {
        public let method: String
        public let target: String
        /// Whether a fault was injected instead of (or while) forwarding.
        public let faulted: Bool
        public let time: Date
        /// The request's `Authorization` header, if it had one.
        public let authorization: String?
    }

    public let upstreamPort: UInt16
    public let port: UInt16
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var host: String { "127.0.0.1:\(port)" }

    private let listener: LoopbackListener
    private let state: Shared

    private final class Shared: Sendable {
        let rules = LockedValue<[Rule]>([])
        let log = LockedValue<[Entry]>([])
        /// Header lines added to forwarded responses whose request target contains the key.
        let responseHeaders = LockedValue<[(method: String?, pathContains: String, headers: [(String, String)])]>([])
    }

    /// With `paginateTagLists`, `GET …/tags/list?n=N[&last=T]` is answered in pages with `Link`
    /// headers as the distribution spec describes, from the registry's full (sorted) list:
    /// distribution 2.8 ignores `n` and never paginates tag lists.
    public init(upstreamPort: UInt16, paginateTagLists: Bool = false) throws {
        self.upstreamPort = upstreamPort
        let state = Shared()
        self.state = state
        listener = try LoopbackListener { fd in
            FaultProxy.serve(fd, upstreamPort: upstreamPort, state: state, paginateTagLists: paginateTagLists)
        }
        port = listener.port
    }

    public func add(_ rule: Rule) { state.rules.withLock { $0.append(rule) } }

    /// Forgets every fault rule not spent yet: requests pass through untouched again.
    public func clearRules() { state.rules.withLock { $0.removeAll() } }

    /// Adds `headers` to every forwarded response to a request with `method` (any when nil) whose
    /// target contains `pathContains` (all when empty), e.g. rate-limit headers as Docker Hub sends them.
    public func addResponseHeaders(_ headers: [(String, String)], method: String? = nil, pathContains: String = "") {
        state.responseHeaders.withLock { $0.append((method, pathContains, headers)) }
    }

    /// Removes every header added with `addResponseHeaders`.
    public func removeResponseHeaders() { state.responseHeaders.withLock { $0.removeAll() } }

    public var entries: [Entry] { state.log.withLock { $0 } }

    public func stop() { listener.stop() }

    deinit { listener.stop() }

    private static func serve(_ client: Int32, upstreamPort: UInt16, state: Shared, paginateTagLists: Bool) {
        guard let head = HTTPRequestHead.read(from: client) else { return }
        let fault: Fault? = state.rules.withLock { rules in
            guard
                let index = rules.firstIndex(where: {
                    ($0.method == nil || $0.method == head.method) && head.target.contains($0.pathContains) && $0.times > 0
                })
            else { return nil }
            if rules[index].skip > 0 {
                rules[index].skip -= 1
                return nil
            }
            rules[index].times -= 1
            return rules[index].fault
        }
        state.log.withLock {
            $0.append(
                Entry(
                    method: head.method, target: head.target, faulted: fault != nil, time: Date(),
                    authorization: head.header("Authorization")))
        }

        var gauge: InFlightGauge?
        if case .gather(let g) = fault { gauge = g }
        gauge?.enter()
        defer { gauge?.leave() }  // a request that ends before its answer is relayed

        if case .stall(let seconds) = fault {
            _ = head.readBody(from: client)
            let end = Date().addingTimeInterval(seconds)
            while Date() < end { usleep(50_000) }
            shutdown(client, Int32(SHUT_RDWR))
            return
        }
        if case .answer(let status, let body) = fault {
            _ = head.readBody(from: client)
            let bytes = Array(body.utf8)
            let response =
                "HTTP/1.1 \(status) Injected Answer\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
            _ = Sockets.writeAll(client, Array(response.utf8) + bytes)
            return
        }
        if case .status(let status, let retryAfter) = fault {
            _ = head.readBody(from: client)
            var response = "HTTP/1.1 \(status) Injected Fault\r\nContent-Length: 0\r\nConnection: close\r\n"
            if let retryAfter { response += "Retry-After: \(retryAfter)\r\n" }
            _ = Sockets.writeAll(client, Array((response + "\r\n").utf8))
            return
        }
        if paginateTagLists, head.method == "GET", head.path.hasSuffix("/tags/list"),
            let n = head.query.first(where: { $0.0 == "n" }).flatMap({ Int($0.1) })
        {
            return servePagedTags(client, head: head, n: n, upstreamPort: upstreamPort)
        }
        guard let upstream = try? Sockets.connect(port: upstreamPort) else { return }
        defer { close(upstream) }
        guard Sockets.writeAll(upstream, head.serialized(connection: "close")) else { return }
        if case .dropInTransit(let bytes) = fault {
            var read = head.leftover.count
            while read < min(bytes, head.contentLength), let more = Sockets.readSome(client) { read += more.count }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            return
        }

        var body = head.leftover
        let total = head.contentLength
        var forwarded = 0
        let limit: Int
        if case .dropAfterBodyBytes(let bytes) = fault { limit = min(bytes, total) } else { limit = total }
        var rate: Int?
        if case .throttle(let bytesPerSecond) = fault { rate = max(1, bytesPerSecond) }
        let started = Date()
        while forwarded < limit {
            if let rate {
                // Sleep until the bytes forwarded so far are due at `rate`.
                let due = Double(forwarded) / Double(rate) - Date().timeIntervalSince(started)
                if due > 0 { usleep(UInt32(min(due, 1) * 1_000_000)) }
            }
            if body.isEmpty {
                let piece = rate.map { max(1024, min(65536, $0 / 20)) } ?? 65536
                guard let more = Sockets.readSome(client, max: min(piece, total - forwarded - body.count)) else { return }
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
        if case .dropResponse = fault {
            // Wait for the registry's answer (it has acted on the request), then drop it.
            while Sockets.readSome(upstream) != nil {}
            shutdown(client, Int32(SHUT_RDWR))
            return
        }
        if case .rewriteLocation(let baseURL) = fault {
            return relayRewritingLocation(from: upstream, to: client, baseURL: baseURL)
        }
        if case .dropResponseAfterBytes(let limit) = fault {
            var relayed = 0
            while relayed < limit, let chunk = Sockets.readSome(upstream) {
                let piece = Array(chunk.prefix(limit - relayed))
                guard Sockets.writeAll(client, piece) else { break }
                relayed += piece.count
            }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            return
        }
        if case .trickleResponse(let bytesPerSecond, let headDelay) = fault {
            usleep(UInt32(max(0, headDelay) * 1_000_000))
            let rate = max(1, bytesPerSecond)
            while let chunk = Sockets.readSome(upstream) {
                for byte in chunk {
                    guard Sockets.writeAll(client, [byte]) else { return }
                    usleep(UInt32(1_000_000 / rate))
                }
            }
            return
        }
        let extra = state.responseHeaders.withLock { all in
            all.filter {
                ($0.method == nil || $0.method == head.method) && ($0.pathContains.isEmpty || head.target.contains($0.pathContains))
            }
            .flatMap(\.headers)
        }
        if let counted = gauge {
            // The whole answer first, and the request out of the count before the client can
            // read it and send its next one.
            var answer: [UInt8] = []
            while let chunk = Sockets.readSome(upstream) { answer += chunk }
            counted.leave()
            gauge = nil
            _ = Sockets.writeAll(client, answer)
            return
        }
        var injected = extra.isEmpty
        while var chunk = Sockets.readSome(upstream) {
            // The status line comes first; the extra header lines go right after it.
            if !injected, let lineEnd = chunk.firstRange(of: [13, 10] as [UInt8]) {
                let lines = extra.map { "\($0.0): \($0.1)\r\n" }.joined()
                chunk.insert(contentsOf: Array(lines.utf8), at: lineEnd.upperBound)
                injected = true
            }
            guard Sockets.writeAll(client, chunk) else { return }
        }
    }

    /// Relays a response with its `Location` header moved to `baseURL`.
    private static func relayRewritingLocation(from upstream: Int32, to client: Int32, baseURL: String) {
        var response: [UInt8] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        while response.firstRange(of: separator) == nil {
            guard let chunk = Sockets.readSome(upstream) else { break }
            response += chunk
        }
        guard let end = response.firstRange(of: separator) else {
            _ = Sockets.writeAll(client, response)
            return
        }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n").map { line -> String in
            guard line.lowercased().hasPrefix("location:") else { return line }
            var value = line.dropFirst("location:".count).trimmingCharacters(in: .whitespaces)
            // Absolute: drop scheme://host:port; relative (`/v2/…`): keep as is.
            if let r = value.range(of: "://") {
                let rest = value[r.upperBound...]
                value = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
            }
            return "Location: \(baseURL)\(value)"
        }
        guard Sockets.writeAll(client, Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + Array(response[end.upperBound...]))
        else { return }
        while let chunk = Sockets.readSome(upstream) {
            guard Sockets.writeAll(client, chunk) else { return }
        }
    }

    /// Fetches the whole tag list from the registry and answers one page of it.
    private static func servePagedTags(_ client: Int32, head: HTTPRequestHead, n: Int, upstreamPort: UInt16) {
        guard let upstream = try? Sockets.connect(port: upstreamPort) else { return }
        defer { close(upstream) }
        var whole = head
        whole.target = head.path
        guard Sockets.writeAll(upstream, whole.serialized(connection: "close")) else { return }
        var response: [UInt8] = []
        while let chunk = Sockets.readSome(upstream) { response += chunk }
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = response.firstRange(of: separator) else { return }
        let statusLine = String(decoding: response[..<end.lowerBound], as: UTF8.self).split(separator: " ")
        let body = Data(response[end.upperBound...])
        guard statusLine.count > 1, statusLine[1] == "200",
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        else {
            _ = Sockets.writeAll(client, response)
            return
        }
        let name = object["name"] as? String ?? ""
        let last = head.query.first { $0.0 == "last" }?.1
        let all = ((object["tags"] as? [String]) ?? []).sorted().filter { last == nil || $0 > last! }
        let page = Array(all.prefix(n))
        let json = try! JSONSerialization.data(withJSONObject: ["name": name, "tags": page], options: [.sortedKeys])
        var text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.count)\r\nConnection: close\r\n"
        if all.count > n, let lastOnPage = page.last {
            text += "Link: <\(head.path)?n=\(n)&last=\(lastOnPage)>; rel=\"next\"\r\n"
        }
        _ = Sockets.writeAll(client, Array((text + "\r\n").utf8) + Array(json))
    }
}

extension RegistryServer {
    /// A registry (`variant`) behind a fault proxy that applies `rules`: talk to `proxy.baseURL`.
    public static func behindFaultProxy(_ variant: Variant = .plain, _ rules: FaultProxy.Rule...) throws -> (
        server: RegistryServer, proxy: FaultProxy
    ) {
        let server = try start(variant)
        let proxy = try FaultProxy(upstreamPort: server.port)
        for rule in rules { proxy.add(rule) }
        return (server, proxy)
    }
}
