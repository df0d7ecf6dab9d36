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
            let (fd, bound) = try Sockets.listen(port: port)
            close(fd)
            #expect(bound == port)
        }
    }
}
