#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Synchronization

/// Small blocking POSIX-socket helpers for the test servers (token issuer, fault proxy).
public enum Sockets {
    public struct SocketError: Error, CustomStringConvertible {
        public let description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    /// A TCP socket listening on 127.0.0.1 (port 0 = any free port).
    public static func listen(port: UInt16 = 0) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { let e = SocketError("bind"); close(fd); throw e }
        guard Glibc.listen(fd, 64) == 0 else { let e = SocketError("listen"); close(fd); throw e }
        return (fd, localPort(fd))
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A port that was free a moment ago, for a server a test starts later (a registry, `serve`,
    /// PostgreSQL) or for a port nobody listens on.
    ///
    /// Why not the kernel's choice (`bind` to port 0): that port comes from the ephemeral range,
    /// the same range every outgoing connection's local port is taken from. While the suite runs,
    /// thousands of connections (curl, skopeo, docker-registry's notifications) draw from it, and
    /// one drawing the chosen port between this probe and the server's `bind` makes that bind
    /// fail with "Address already in use" (CI saw it once in `serve`'s test). So the port is drawn
    /// from below the ephemeral range, which no outgoing connection uses, and never handed out
    /// twice by this process. Where the range starts too low to leave room, the kernel chooses.
    public static func freePort() throws -> UInt16 {
        guard let range = portsBelowEphemeralRange else {
            let (fd, port) = try listen()
            close(fd)
            return port
        }
        for _ in 0..<200 {
            let candidate = UInt16.random(in: range)
            guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            // Probed, so that a port a server of another process listens on is not handed out.
            guard let (fd, _) = try? listen(port: candidate) else { continue }
            close(fd)
            return candidate
        }
        throw SocketError("no free port in \(range)")
    }

    /// Ports handed out by `freePort` in this process.
    private static let handedOut = Mutex(Set<UInt16>())

    /// 20000 up to the first ephemeral port (Linux's `ip_local_port_range`, 32768 by default), or
    /// nil where that leaves fewer than 1,000 ports.
    public static let portsBelowEphemeralRange: ClosedRange<UInt16>? = {
        let first =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { UInt16($0) }
        guard let first, first > 21_000 else { return nil }
        return 20_000...(first - 1)
    }()

    /// Connects to 127.0.0.1:port.
    public static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { let e = SocketError("connect to 127.0.0.1:\(port)"); close(fd); throw e }
        return fd
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    static func readSome(_ fd: Int32, max: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        guard n > 0 else { return nil }
        return Array(buffer[..<n])
    }
}

/// A parsed HTTP/1.1 request head read off a socket, with any body bytes that came along.
struct HTTPRequestHead {
    var method: String
    var target: String
    var version: String
    var headers: [(String, String)]
    var leftover: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var contentLength: Int { header("Content-Length").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0 }

    var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }

    var query: [(String, String)] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
        return q.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }

    /// Reads until the blank line ending the head; nil on EOF or garbage.
    static func read(from fd: Int32) -> HTTPRequestHead? {
        var data: [UInt8] = []
        let terminator: [UInt8] = [13, 10, 13, 10]
        while true {
            if let end = data.firstRange(of: terminator) {
                let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let requestLine = lines.removeFirst().split(separator: " ")
                guard requestLine.count == 3 else { return nil }
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
                }
                return HTTPRequestHead(
                    method: String(requestLine[0]), target: String(requestLine[1]), version: String(requestLine[2]),
                    headers: headers, leftover: Array(data[end.upperBound...]))
            }
            guard data.count < 1 << 20, let more = Sockets.readSome(fd) else { return nil }
            data += more
        }
    }

    /// Reads the rest of a Content-Length body.
    func readBody(from fd: Int32) -> [UInt8]? {
        var body = leftover
        while body.count < contentLength {
            guard let more = Sockets.readSome(fd, max: min(65536, contentLength - body.count)) else { return nil }
            body += more
        }
        return Array(body.prefix(contentLength))
    }

    /// The head as bytes, with `Connection` replaced (the proxy forces one request per connection).
    func serialized(connection: String) -> [UInt8] {
        var text = "\(method) \(target) \(version)\r\n"
        for (name, value) in headers where name.lowercased() != "connection" { text += "\(name): \(value)\r\n" }
        text += "Connection: \(connection)\r\n\r\n"
        return Array(text.utf8)
    }
}

/// Accepts connections on a loopback port and hands each to `handle` on its own thread.
final class LoopbackListener: Sendable {
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    let fd: Int32
    let port: UInt16
    private let stopped = Flag()

    init(handle: @escaping @Sendable (Int32) -> Void) throws {
        (fd, port) = try Sockets.listen()
        let fd = fd
        let stopped = stopped
        let thread = Thread {
            while !stopped.value.load(ordering: .relaxed) {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    break
                }
                let worker = Thread {
                    handle(client)
                    close(client)
                }
                worker.start()
            }
        }
        thread.start()
    }

    func stop() {
        guard !stopped.value.exchange(true, ordering: .relaxed) else { return }
        // shutdown() wakes the thread blocked in accept() on Linux; then the fd can go.
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    deinit { stop() }
}
