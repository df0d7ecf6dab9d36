import CCurlShim
import Testing

/// libcurl is loaded with dlopen when the first transport is made (CCurlShim). The loader's
/// failures name the library and what is wrong with it; `CurlTransport` stops with that message.
@Suite struct LibcurlLoadingTests {
    func probe(_ name: String) -> (status: Int32, message: String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = pushctl_curl_probe_library(name, &buffer, buffer.count)
        return (status, String(cString: buffer))
    }

    @Test func theInstalledLibcurlLoadsWithEveryFunctionPushctlCalls() {
        #expect(probe(PUSHCTL_LIBCURL_SONAME).status == 0)
        #expect(pushctl_curl_load() == nil)
    }

    @Test func aMissingLibraryIsNamedWithTheLoadersReason() {
        let (status, message) = probe("libpushctl-no-such-library.so.9")
        #expect(status == -1)
        #expect(message.hasPrefix("cannot load libpushctl-no-such-library.so.9: "), "\(message)")
        #expect(message.contains("No such file"), "\(message)")
    }

    @Test func aLibraryWithoutCurlsFunctionsIsRefusedByName() {
        let (status, message) = probe("libz.so.1")
        #expect(status == -1)
        #expect(message == "cannot load libz.so.1: it has no curl_global_init", "\(message)")
    }
}
