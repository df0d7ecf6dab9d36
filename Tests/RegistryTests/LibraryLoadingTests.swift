import CCurlShim
import CLibPQShim
import Testing

/// libcurl and libpq are loaded with dlopen when first needed (CLibraryLoader, through
/// CCurlShim and CLibPQShim). The loader's failures name the library and what is wrong with it:
/// `CurlTransport` stops with that message (exit 127), `Postgres.Connection` throws it.
@Suite struct LibraryLoadingTests {
    enum Library: String, CaseIterable, CustomTestStringConvertible {
        case curl, pq
        var testDescription: String { rawValue }

        var soname: String { self == .curl ? PUSHCTL_LIBCURL_SONAME : PUSHCTL_LIBPQ_SONAME }
        /// The first function of the shim's list, the one a library without them lacks first.
        var firstFunction: String { self == .curl ? "curl_global_init" : "PQcmdTuples" }

        func load() -> String? {
            (self == .curl ? pushctl_curl_load() : pushctl_pq_load()).map { String(cString: $0) }
        }

        func probe(_ name: String) -> (status: Int32, message: String) {
            var buffer = [CChar](repeating: 0, count: 512)
            let status =
                self == .curl
                ? pushctl_curl_probe_library(name, &buffer, buffer.count) : pushctl_pq_probe_library(name, &buffer, buffer.count)
            let message = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return (status, String(decoding: message, as: UTF8.self))
        }
    }

    @Test(arguments: Library.allCases) func theInstalledLibraryLoadsWithEveryFunctionPushctlCalls(_ library: Library) {
        #expect(library.probe(library.soname).status == 0)
        #expect(library.load() == nil)
        #expect(library.load() == nil, "a second load answers as the first")
    }

    @Test(arguments: Library.allCases) func aMissingLibraryIsNamedWithTheLoadersReason(_ library: Library) {
        let (status, message) = library.probe("libpushctl-no-such-library.so.9")
        #expect(status == -1)
        #expect(message.hasPrefix("cannot load libpushctl-no-such-library.so.9: "), "\(message)")
        #expect(message.contains("No such file"), "\(message)")
    }

    @Test(arguments: Library.allCases) func aLibraryWithoutItsFunctionsIsRefusedByName(_ library: Library) {
        let (status, message) = library.probe("libz.so.1")
        #expect(status == -1)
        #expect(message == "cannot load libz.so.1: it has no \(library.firstFunction)", "\(message)")
    }
}
