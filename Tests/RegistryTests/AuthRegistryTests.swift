import Foundation
import Threading
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// Authentication against real registries: htpasswd Basic and a token service.
@Suite struct AuthRegistryTests {
    static let fastRetries = RetryPolicy(attempts: 4, baseDelaySeconds: 0.05, maxDelaySeconds: 5, jitter: 0)

    @Test func basicAuthPushesWithTheRightPassword() throws {
        let server = try RegistryServer.start(.basicAuth)
        defer { server.stop() }
        let client = try Self.client(for: server)
        try client.ping()
        let blob = TestBlob.random(size: 50_000)
        try client.uploadBlob("team/app", blob.payload())
        #expect(try client.blobExists("team/app", blob.digest) == 50_000)
        // Only the ping went unauthenticated: the Basic challenge is known from then on.
        #expect(server.accessLog().filter { $0.status == 401 }.count == 1)
    }

    @Test func wrongPasswordIsAClearUnauthorizedErrorAndNotRetried() throws {
        let server = try RegistryServer.start(.basicAuth)
        defer { server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL),
            credentials: .basic(username: try #require(server.username), password: "wrong"),
            retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 1_000)
        let error = try #require(throws: RegistryError.self) { try client.uploadBlob("team/app", blob.payload()) }
        #expect(error.code == "UNAUTHORIZED")
        #expect(error.isRegistryAnswer)
        #expect(!error.isEndpointFailure)
        #expect(error.description.contains("UNAUTHORIZED"))
        #expect(error.description.contains(server.host))
        #expect(!error.description.contains("wrong"))
        // One anonymous request to learn the challenge, one with the credentials: no retries.
        #expect(server.accessLog().count == 2)
        #expect(client.requestCount == 2)
    }

    @Test func tokenAuthPushesAndReusesOneTokenPerScope() throws {
        let (server, issuer, client) = try Self.tokenRegistry()
        defer { server.stop() }
        try client.ping()
        let blobs = (0..<3).map { _ in TestBlob.random(size: 20_000) }
        for blob in blobs {
            #expect(try client.blobExists("team/app", blob.digest) == nil)
            try client.uploadBlob("team/app", blob.payload())
            #expect(try client.blobExists("team/app", blob.digest) == 20_000)
        }
        // Twelve registry requests after the ping, two tokens: one pull token for the first
        // HEAD, one push,pull token for the first upload, which then also covers every later
        // HEAD and upload of the repository.
        #expect(client.requestCount == 13)
        // Tokens were sent up front: the ping was the only request the registry refused.
        #expect(server.accessLog().filter { $0.status == 401 }.map(\.path) == ["/v2/"])
        #expect(issuer.requestCount == 2)
        #expect(client.tokenRequestCount == 2)
        #expect(issuer.requests.map(\.scopes) == [["repository:team/app:pull"], ["repository:team/app:push,pull"]])
        #expect(issuer.requests.map(\.user) == [server.username, server.username])
        #expect(issuer.requests.last?.granted == ["repository:team/app:push", "repository:team/app:pull"])
    }

    @Test func threadsStartingTogetherShareOneTokenFetch() throws {
        let (server, issuer, client) = try Self.tokenRegistry()
        defer { server.stop() }
        try client.ping()
        let blobs = (0..<6).map { _ in TestBlob.random(size: 10_000) }
        let failures = LockedValue(0)
        // Six threads released at the same moment, as a push's first blobs are.
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for blob in blobs {
            done.enter()
            Thread {
                start.wait()
                do { try client.uploadBlob("team/app", blob.payload()) } catch { failures.withLock { $0 += 1 } }
                done.leave()
            }.start()
        }
        for _ in blobs { start.signal() }
        done.wait()
        #expect(failures.withLock { $0 } == 0)
        // Six uploads started at once in one repository: one push,pull token, fetched once.
        #expect(issuer.requestCount == 1)
        #expect(client.tokenRequestCount == 1)
    }

    @Test func anonymousAgainstTokenRegistryTriesAnAnonymousTokenThenFailsClearly() throws {
        let server = try RegistryServer.start(.tokenAuth)
        defer { server.stop() }
        let issuer = try #require(server.tokenIssuer)
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL), retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 1_000)
        let error = try #require(throws: RegistryError.self) { try client.uploadBlob("team/app", blob.payload()) }
        #expect(error.code == "UNAUTHORIZED")
        #expect(error.description.contains(server.host))
        #expect(error.description.contains("anonymous"))
        #expect(issuer.requests.count == 1)
        #expect(issuer.requests.first?.user == nil)
        #expect(issuer.requests.first?.granted == [])
    }

    @Test func identityTokenIsExchangedWithARefreshGrant() throws {
        let server = try RegistryServer.start(.tokenAuth)
        defer { server.stop() }
        let issuer = try #require(server.tokenIssuer)
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL),
            credentials: .identityToken(try #require(server.identityToken)))
        let blob = TestBlob.random(size: 1_000)
        try client.uploadBlob("team/app", blob.payload())
        #expect(try client.blobExists("team/app", blob.digest) == 1_000)
        #expect(issuer.requests.allSatisfy { $0.method == "POST" && $0.user == server.username })
        #expect(issuer.requestCount == 1)
    }

    @Test func mountAsksForPullOnTheSourceRepository() throws {
        let (server, issuer, client) = try Self.tokenRegistry()
        defer { server.stop() }
        let blob = TestBlob.random(size: 5_000)
        try client.uploadBlob("team/a", blob.payload())
        #expect(try client.mountBlob("team/b", blob.digest, from: "team/a"))
        #expect(
            issuer.requests.contains { $0.scopes.contains("repository:team/b:push,pull") && $0.scopes.contains("repository:team/a:pull") })
        #expect(try client.blobExists("team/b", blob.digest) == 5_000)
    }

    @Test func wrongPasswordAtTheTokenServiceIsUnauthorized() throws {
        let server = try RegistryServer.start(.tokenAuth)
        defer { server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL),
            credentials: .basic(username: try #require(server.username), password: "nope"))
        let error = try #require(throws: RegistryError.self) { try client.listTags("team/app") }
        #expect(error.code == "UNAUTHORIZED")
        #expect(error.description.contains(server.host))
        #expect(server.tokenIssuer?.requests.map(\.status) == [401])
    }

    @Test func oneClientServesManyThreadsAtOnce() throws {
        let server = try RegistryServer.start(.tokenAuth)
        defer { server.stop() }
        let client = try Self.client(for: server)
        let blobs = (0..<8).map { _ in TestBlob.random(size: 400_000) }
        let failures = LockedValue<[String]>([])
        DispatchQueue.concurrentPerform(iterations: blobs.count) { index in
            do {
                // Half of them chunked, so sessions and PATCHes interleave.
                try client.uploadBlob("team/app", blobs[index].payload(), chunkSize: index.isMultiple(of: 2) ? 150_000 : nil)
            } catch {
                failures.withLock { $0.append(String(describing: error)) }
            }
        }
        #expect(failures.withLock { $0 } == [])
        for blob in blobs {
            #expect(try client.blobExists("team/app", blob.digest) == 400_000)
        }
    }

    /// A client for `server` with its valid Basic credentials.
    /// A token-auth registry, its token issuer, and a client with the registry's credentials.
    static func tokenRegistry() throws -> (server: RegistryServer, issuer: TokenIssuer, client: RegistryClient) {
        let server = try RegistryServer.start(.tokenAuth)
        return (server, try #require(server.tokenIssuer), try client(for: server))
    }

    static func client(for server: RegistryServer) throws -> RegistryClient {
        RegistryClient(
            endpoint: RegistryEndpoint(url: server.baseURL),
            credentials: .basic(username: try #require(server.username), password: try #require(server.password)))
    }
}
