import Foundation
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// https registries with a CA made for the test.
@Suite struct TLSRegistryTests {
    @Test func unknownCAFailsVerificationAsATLSError() throws {
        let (server, client) = try RegistryServer.startWithClient(.tls)
        defer { server.stop() }
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        guard case .tls(let registry, _) = error else {
            Issue.record("expected a TLS error, got \(error)")
            return
        }
        #expect(registry == server.host)
        #expect(error.isTLSHandshakeFailure)
        #expect(error.isEndpointFailure)
        #expect(!error.isRegistryAnswer)
        // Verification failures are not retried.
        #expect(client.requestCount == 1)
    }

    @Test func givenCAIsTrustedAndPushWorks() throws {
        let server = try RegistryServer.start(.tls)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL), tls: TLSOptions(caFile: server.caPath))
        try client.ping()
        let blob = TestBlob.random(size: 100_000)
        try client.uploadBlob("team/app", blob.payload())
        #expect(try client.blobExists("team/app", blob.digest) == 100_000)
        #expect(server.requestCount(method: "PUT", pathContains: "/blobs/uploads/") == 1)
    }

    @Test func insecureSkipsVerification() throws {
        let server = try RegistryServer.start(.tls)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL, insecure: true))
        try client.ping()
        #expect(server.requestCount(method: "GET", pathContains: "/v2/") == 1)
    }

    @Test func tlsAgainstAPlainHTTPRegistryIsAHandshakeFailure() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "https://\(server.host)"))
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        #expect(error.isTLSHandshakeFailure)
    }

    @Test func basicAuthOverTLS() throws {
        let server = try RegistryServer.start(.basicAuthTLS)
        defer { server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL), tls: TLSOptions(caFile: server.caPath),
            credentials: .basic(username: try #require(server.username), password: try #require(server.password)))
        let blob = TestBlob.random(size: 3_000_000)
        try client.uploadBlob("team/app", blob.payload(), chunkSize: 1_000_000)
        #expect(try client.blobExists("team/app", blob.digest) == 3_000_000)
        #expect(server.requestCount(method: "PATCH") == 3)
    }

    @Test func mutualTLSNeedsTheClientCertificate() throws {
        let server = try RegistryServer.start(.mutualTLS)
        defer { server.stop() }
        let without = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL), tls: TLSOptions(caFile: server.caPath),
            retryPolicy: RetryPolicy(attempts: 1))
        // With TLS 1.3 the server rejects the missing certificate after the handshake, so curl
        // reports a lost connection rather than a handshake error.
        let error = try #require(throws: RegistryError.self) { try without.ping() }
        #expect(error.isEndpointFailure)
        #expect(error.description.contains(server.host))
        let with = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL),
            tls: TLSOptions(caFile: server.caPath, clientCert: server.clientCertificate, clientKey: server.clientKey))
        try with.ping()
        let blob = TestBlob.random(size: 1_000)
        try with.uploadBlob("team/app", blob.payload())
        #expect(try with.blobExists("team/app", blob.digest) == 1_000)
    }
}
