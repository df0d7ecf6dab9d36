import Curl
import Foundation
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// Credentials stay with the registry's origin: an upload `Location` or a redirect elsewhere
/// gets no `Authorization`, and nothing is moved from https to plain http.
@Suite struct CredentialOriginTests {
    static let fastRetries = RetryPolicy(attempts: 3, baseDelaySeconds: 0.05, maxDelaySeconds: 1, jitter: 0)

    /// Two proxies in front of `server`: `front` points every new upload session at `elsewhere`.
    static func uploadsSentElsewhere(_ server: RegistryServer) throws -> (front: FaultProxy, elsewhere: FaultProxy) {
        let elsewhere = try FaultProxy(upstreamPort: server.port)
        let front = try FaultProxy(upstreamPort: server.port)
        front.add(.init(method: "POST", pathContains: "/blobs/uploads/", fault: .rewriteLocation(to: elsewhere.baseURL), times: 10))
        return (front, elsewhere)
    }

    /// Two proxies in front of one registry: the first (the configured endpoint) points every
    /// new upload session at the second, which records what it is sent.
    @Test(arguments: [nil, 4_000])
    func credentialsDoNotFollowAnUploadLocationToAnotherOrigin(chunkSize: Int?) throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let (front, elsewhere) = try Self.uploadsSentElsewhere(server)
        defer { front.stop(); elsewhere.stop() }

        // A bearer credential is sent on every registry request, challenge or not: the plain
        // registry ignores it, which lets the upload itself succeed at the second origin.
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: front.baseURL), credentials: .bearer("secret-token"),
            retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 10_000)
        try client.uploadBlob("team/app", blob.payload(), chunkSize: chunkSize)
        #expect(try client.blobExists("team/app", blob.digest) == 10_000)

        let there = elsewhere.entries
        #expect(there.contains { $0.method == "PUT" })
        #expect(
            there.allSatisfy { $0.authorization == nil },
            "sent to the other origin: \(there.map { "\($0.method) \($0.authorization ?? "-")" })")
        #expect(front.entries.allSatisfy { $0.authorization == "Bearer secret-token" })
    }

    /// With a registry that insists on its credentials at the other origin too, the upload fails
    /// (as docker's would) rather than hand the password to a host it was not configured for.
    @Test func basicCredentialsDoNotFollowAnUploadLocationEvenWhenThatFailsThePush() throws {
        let server = try RegistryServer.start(.basicAuth)
        defer { server.stop() }
        let (front, elsewhere) = try Self.uploadsSentElsewhere(server)
        defer { front.stop(); elsewhere.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: front.baseURL),
            credentials: .basic(username: try #require(server.username), password: try #require(server.password)),
            retryPolicy: Self.fastRetries)
        try client.ping()
        let blob = TestBlob.random(size: 5_000)
        let error = try #require(throws: RegistryError.self) { try client.uploadBlob("team/app", blob.payload()) }
        #expect(error.code == "UNAUTHORIZED")
        #expect(!elsewhere.entries.isEmpty)
        #expect(elsewhere.entries.allSatisfy { $0.authorization == nil })
        #expect(front.entries.contains { $0.method == "POST" && $0.authorization?.hasPrefix("Basic ") == true })
    }

    // MARK: https → http, against scripted registries

    static func httpsClient(_ transport: any HTTPTransport, credentials: Credentials = .bearer("secret-token")) -> RegistryClient {
        RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"), credentials: credentials,
            retryPolicy: RetryPolicy(attempts: 2, baseDelaySeconds: 0.01, jitter: 0), transport: transport)
    }

    @Test func anUploadLocationFromHttpsToHttpIsRefused() throws {
        let transport = FunctionTransport { request in
            if request.method == "POST" {
                return HTTPResponse(status: 202, headers: ["Location": "http://reg.test/v2/team/app/blobs/uploads/u1?_state=SECRET"])
            }
            return HTTPResponse(status: 201, headers: ["Docker-Content-Digest": "x"])
        }
        let blob = TestBlob.random(size: 100)
        let error = try #require(throws: RegistryError.self) { try Self.httpsClient(transport).uploadBlob("team/app", blob.payload()) }
        guard case .insecureRedirect(let registry, _, let target) = error else {
            Issue.record("expected insecureRedirect, got \(error)")
            return
        }
        #expect(registry == "reg.test")
        #expect(target == "http://reg.test/v2/team/app/blobs/uploads/u1")
        #expect(error.description.contains("reg.test") && error.description.contains("plain-http"))
        #expect(!error.description.contains("SECRET"))
        #expect(transport.requests.allSatisfy { $0.url.hasPrefix("https://") })
    }

    @Test func aRedirectFromHttpsToHttpIsRefused() throws {
        let transport = FunctionTransport { request in
            request.url.hasPrefix("https://reg.test/")
                ? HTTPResponse(status: 307, headers: ["Location": "http://storage.test/blob?sig=1"])
                : HTTPResponse(status: 200)
        }
        let error = try #require(throws: RegistryError.self) { _ = try Self.httpsClient(transport).blobExists("team/app", TestDigests.one) }
        guard case .insecureRedirect(_, _, let target) = error else {
            Issue.record("expected insecureRedirect, got \(error)")
            return
        }
        #expect(target == "http://storage.test/blob")
        #expect(transport.requests.map(\.url) == ["https://reg.test/v2/team/app/blobs/\(TestDigests.one)"])
    }

    @Test func aPlainHttpTokenRealmOfAnHttpsRegistryIsRefused() throws {
        let transport = FunctionTransport { request in
            if request.url.hasPrefix("https://reg.test/") {
                return HTTPResponse(
                    status: 401, headers: ["WWW-Authenticate": #"Bearer realm="http://auth.other.test/token",service="reg""#])
            }
            return HTTPResponse(status: 200, body: Array(#"{"token":"t"}"#.utf8))
        }
        let client = Self.httpsClient(transport, credentials: .basic(username: "u", password: "p"))
        try client.ping()
        let error = try #require(throws: RegistryError.self) { _ = try client.blobExists("team/app", TestDigests.one) }
        guard case .insecureTokenRealm(let registry, let realm) = error else {
            Issue.record("expected insecureTokenRealm, got \(error)")
            return
        }
        #expect(registry == "reg.test")
        #expect(realm == "http://auth.other.test/token")
        #expect(!transport.requests.contains { $0.url.contains("auth.other.test") })
    }

    /// Another origin's 401 must not teach the client a challenge: its realm would receive the
    /// registry's credentials with the next token request.
    @Test func aChallengeFromTheUploadLocationsOriginIsNotLearned() throws {
        let transport = FunctionTransport { request in
            if request.url.hasPrefix("https://evil.test/token") { return HTTPResponse(status: 200, body: Array(#"{"token":"t"}"#.utf8)) }
            if request.url.hasPrefix("https://evil.test/") {
                return HTTPResponse(status: 401, headers: ["WWW-Authenticate": #"Bearer realm="https://evil.test/token",service="evil""#])
            }
            return HTTPResponse(status: 202, headers: ["Location": "https://evil.test/upload/1"])
        }
        let client = Self.httpsClient(transport, credentials: .basic(username: "u", password: "p"))
        let blob = TestBlob.random(size: 100)
        #expect(throws: RegistryError.self) { try client.uploadBlob("team/app", blob.payload()) }
        #expect(!transport.requests.contains { $0.url.hasPrefix("https://evil.test/token") })
        #expect(transport.requests.filter { $0.url.hasPrefix("https://evil.test/") }.allSatisfy { $0.authorization == nil })
    }

    @Test func originsCompareSchemeHostAndPort() {
        #expect(RegistryClient.sameOrigin("https://r.test/v2/", "https://R.test:443/x"))
        #expect(RegistryClient.sameOrigin("http://r.test:80/a", "http://r.test"))
        #expect(!RegistryClient.sameOrigin("https://r.test/a", "http://r.test/a"))
        #expect(!RegistryClient.sameOrigin("https://r.test:5000/a", "https://r.test/a"))
        #expect(!RegistryClient.sameOrigin("https://r.test.evil/a", "https://r.test/a"))
        #expect(!RegistryClient.sameOrigin("https://r.test@evil.test/a", "https://r.test/a"))
    }
}
