#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import RegistryHarness
import Testing

/// The harness's ports for servers the tests start: never one an outgoing connection can hold
/// (below the kernel's ephemeral range), never the same twice, and free to listen on.
@Suite struct FreePortTests {
    @Test func portsAreDistinctBelowTheEphemeralRangeAndFree() throws {
        let range = try #require(
            Sockets.portsBelowEphemeralRange, "this machine's ip_local_port_range leaves no room below it")
        let ports = try (0..<300).map { _ in try Sockets.freePort() }
        #expect(Set(ports).count == ports.count)
        #expect(ports.allSatisfy { range.contains($0) }, "\(ports.filter { !range.contains($0) })")
        // A server can take each one.
        for port in ports.prefix(20) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(bound == 0, "bind 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
    }
}
