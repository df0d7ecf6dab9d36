import Foundation
import OCI
import RegistryHarness
import Threading
import Testing
@testable import Registry

/// Retries through the fault-injecting proxy.
@Suite struct RetryTests {
    final class Events: Sendable {
        let list = LockedValue<[RetryPolicy.Event]>([])
    }

    @Test func retryAfterOnA429IsHonoured() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "HEAD", pathContains: "/blobs/", fault: .status(429, retryAfter: "2")))
        defer { proxy.stop(); server.stop() }
        let events = Events()
        // Backoff alone would wait 10 ms: the 2 s can only come from Retry-After.
        let policy = RetryPolicy(attempts: 3, baseDelaySeconds: 0.01, maxDelaySeconds: 10, jitter: 0) { event in
            events.list.withLock { $0.append(event) }
        }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: policy)
        let blob = TestBlob.random(size: 10)
        #expect(try client.blobExists("team/app", blob.digest) == nil)

        let heads = proxy.entries.filter { $0.method == "HEAD" }
        #expect(heads.count == 2)
        #expect(heads.first?.faulted == true)
        if heads.count == 2 {
            #expect(heads[1].time.timeIntervalSince(heads[0].time) >= 1.9)
        }
        let recorded = events.list.withLock { $0 }
        #expect(recorded.map(\.delaySeconds) == [2])
        #expect(recorded.first?.reason == "HTTP 429")
        #expect(recorded.first?.operation.contains(blob.digest.string) == true)
    }

    @Test func serverErrorsAreRetriedThenReportedAsEndpointFailure() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "GET", pathContains: "/v2/", fault: .status(503, retryAfter: nil), times: 10))
        defer { proxy.stop(); server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: proxy.baseURL),
            retryPolicy: RetryPolicy(attempts: 3, baseDelaySeconds: 0.01, jitter: 0))
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        #expect(error.isEndpointFailure)
        #expect(!error.isRegistryAnswer)
        #expect(proxy.entries.count == 3)
    }

    @Test func unreachableEndpointIsRetriedThenAnEndpointFailure() throws {
        let port = try Sockets.freePort()
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "http://127.0.0.1:\(port)"),
            retryPolicy: RetryPolicy(attempts: 2, baseDelaySeconds: 0.01, jitter: 0))
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        guard case .unreachable(let registry, _, _) = error else {
            Issue.record("expected unreachable, got \(error)")
            return
        }
        #expect(registry == "127.0.0.1:\(port)")
        #expect(error.isEndpointFailure)
        #expect(client.requestCount == 2)
    }
}
