import Curl
import OCI
import Foundation
import Registry
import RegistryHarness
import Testing

/// An endpoint with a fallback after it gives up on a refused connection at once
/// (`RetryPolicy.retriesConnectFailures == false`), so `apply` moves to the mirror without backoff.
@Suite struct ConnectFailureRetryTests {
    @Test func refusedConnectionIsNotRetriedWhenAFallbackExists() throws {
        let port = try Sockets.freePort()
        var policy = RetryPolicy(attempts: 5, baseDelaySeconds: 0.5, jitter: 0)
        policy.retriesConnectFailures = false
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "http://127.0.0.1:\(port)"), retryPolicy: policy)
        let started = Date()
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        guard case .unreachable = error else {
            Issue.record("expected unreachable, got \(error)")
            return
        }
        #expect(error.isEndpointFailure)
        #expect(client.requestCount == 1)
        #expect(Date().timeIntervalSince(started) < 0.5, "no backoff")
    }

    @Test func serverErrorsAreStillRetriedWhenAFallbackExists() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "GET", pathContains: "/v2/", fault: .status(503, retryAfter: nil), times: 1))
        defer { proxy.stop(); server.stop() }
        var policy = RetryPolicy(attempts: 3, baseDelaySeconds: 0.01, jitter: 0)
        policy.retriesConnectFailures = false
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: policy)
        try client.ping()
        #expect(proxy.entries.count == 2)
    }
}
