import Testing
@testable import JobFile

@Suite struct RegistryURLTests {
    @Test(arguments: [
        ("https://registry.example.com", "https://registry.example.com"),
        ("HTTPS://Registry.Example.COM/", "https://registry.example.com"),
        ("http://localhost:5000", "http://localhost:5000"),
        ("https://[::1]:5000", "https://[::1]:5000"),
        ("https://[2001:db8::1]", "https://[2001:db8::1]"),
        ("https://10.0.0.1:443", "https://10.0.0.1:443")
    ])
    func parses(input: String, expected: String) throws {
        #expect(try RegistryURL.parse(input).get().string == expected)
    }

    @Test(arguments: [
        ("example.com", RegistryURLError.missingScheme("example.com")),
        ("user:pw@example.com", .credentials),
        ("ssh://example.com", .unsupportedScheme("ssh")),
        ("https://u:p@example.com", .credentials),
        ("https://example.com/v2/", .path("/v2/")),
        ("https://example.com/?a", .query("?a")),
        ("https://example.com#x", .query("#x")),
        ("https://", .missingHost),
        ("https://exa_mple.com", .invalidHost("exa_mple.com")),
        ("https://[::1", .invalidHost("[::1")),
        ("https://[zz]:5000", .invalidHost("[zz]")),
        ("https://example.com:", .invalidPort("")),
        ("https://example.com:65536", .invalidPort("65536")),
        ("https://example.com:-1", .invalidPort("-1"))
    ])
    func rejects(input: String, expected: RegistryURLError) {
        #expect(RegistryURL.parse(input) == .failure(expected))
    }

    @Test func credentialsNeverAppearInTheMessage() {
        #expect(!"\(RegistryURLError.credentials)".contains("p@"))
    }

    @Test(arguments: [
        ("http://localhost", true), ("http://LOCALHOST:1", true), ("http://127.0.0.1", true), ("http://127.255.255.254:5000", true),
        ("http://[::1]", true), ("http://[0:0:0:0:0:0:0:1]", true), ("http://[::ffff:127.0.0.1]", true),
        ("http://128.0.0.1", false), ("http://127.0.0.256", false), ("http://127.0.0", false), ("http://[::2]", false),
        ("http://localhost.example.com", false), ("http://10.0.0.1", false)
    ])
    func loopback(url: String, expected: Bool) throws {
        #expect(try RegistryURL.parse(url).get().isLoopback == expected)
    }

    @Test func dockerHub() throws {
        #expect(try RegistryURL.parse("https://docker.io").get().isDockerHub)
        #expect(try RegistryURL.parse("https://index.docker.io").get().isDockerHub)
        #expect(try !RegistryURL.parse("https://docker.io:443").get().isDockerHub)
        #expect(try !RegistryURL.parse("https://registry-1.docker.io").get().isDockerHub)
    }
}
