import CLibPQShim
import Testing

/// libpq is loaded with dlopen when a PostgreSQL ledger is first opened (CLibPQShim); the
/// loader's failures name the library and what is wrong with it, and `Postgres.Connection`
/// throws that message as a connection error.
@Suite struct LibpqLoadingTests {
    func probe(_ name: String) -> (status: Int32, message: String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = pushctl_pq_probe_library(name, &buffer, buffer.count)
        return (status, String(cString: buffer))
    }

    @Test func theInstalledLibpqLoadsWithEveryFunctionPushctlCalls() {
        #expect(probe(PUSHCTL_LIBPQ_SONAME).status == 0)
        #expect(pushctl_pq_load() == nil)
    }

    @Test func aMissingLibraryIsNamedWithTheLoadersReason() {
        let (status, message) = probe("libpushctl-no-such-library.so.9")
        #expect(status == -1)
        #expect(message.hasPrefix("cannot load libpushctl-no-such-library.so.9: "), "\(message)")
        #expect(message.contains("No such file"), "\(message)")
    }

    @Test func aLibraryWithoutLibpqsFunctionsIsRefusedByName() {
        let (status, message) = probe("libz.so.1")
        #expect(status == -1)
        #expect(message == "cannot load libz.so.1: it has no PQcmdTuples", "\(message)")
    }
}
