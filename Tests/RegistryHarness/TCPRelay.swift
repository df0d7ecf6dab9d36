#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading
import Synchronization

/// A byte relay on a loopback port in front of another port, TLS or not (it does not look into
/// the bytes): what a client sees as "the registry at this port". `switchUpstream(to:)` drops
/// every open connection and sends new ones to another port, as if the registry had been
/// restarted on the same port with another configuration (https, then plain http).
public final class TCPRelay: Sendable {
    public let port: UInt16
    /// `127.0.0.1:PORT`.
    public var host: String { "127.0.0.1:\(port)" }
    private let listener: LoopbackListener
    private let state: Shared

    private final class Shared: Sendable {
        let upstream: Atomic<UInt16>
        /// Client→upstream bytes per second (0: unlimited).
        let bytesPerSecond: Atomic<Int>
        let open = LockedValue<Set<Int32>>([])
        init(upstream: UInt16, bytesPerSecond: Int) {
            self.upstream = Atomic(upstream)
            self.bytesPerSecond = Atomic(bytesPerSecond)
        }
    }

    public init(upstreamPort: UInt16, bytesPerSecond: Int = 0) throws {
        let state = Shared(upstream: upstreamPort, bytesPerSecond: bytesPerSecond)
        self.state = state
        listener = try LoopbackListener { client in TCPRelay.relay(client, state: state) }
        port = listener.port
    }

    /// Drops every open connection; new ones go to `port`.
    public func switchUpstream(to port: UInt16) {
        state.upstream.store(port, ordering: .relaxed)
        state.open.withLock { fds in
            for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Client→upstream bytes per second from now on (0: unlimited).
    public func throttle(bytesPerSecond: Int) { state.bytesPerSecond.store(bytesPerSecond, ordering: .relaxed) }

    public func stop() { listener.stop() }

    deinit { listener.stop() }

    private static func relay(_ client: Int32, state: Shared) {
        guard let upstream = try? Sockets.connect(port: state.upstream.load(ordering: .relaxed)) else { return }
        state.open.withLock { _ = $0.insert(client) }
        let done = DispatchSemaphore(value: 0)
        let back = Thread {
            while let chunk = Sockets.readSome(upstream) {
                guard Sockets.writeAll(client, chunk) else { break }
            }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            done.signal()
        }
        back.start()
        while true {
            let rate = state.bytesPerSecond.load(ordering: .relaxed)
            guard let chunk = Sockets.readSome(client, max: rate > 0 ? max(512, rate / 10) : 65536) else { break }
            guard Sockets.writeAll(upstream, chunk) else { break }
            if rate > 0 { usleep(UInt32(min(1.0, Double(chunk.count) / Double(rate)) * 1_000_000)) }
        }
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(upstream, Int32(SHUT_RDWR))
        done.wait()
        state.open.withLock { _ = $0.remove(client) }
        close(upstream)
    }
}
