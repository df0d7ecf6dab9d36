import Curl
import Foundation
import OCI
import RegistryHarness
import Synchronization
import Testing
@testable import Registry

/// A registry that trickles: small requests meet an overall deadline, blob transfers a
/// minimum throughput, so neither hangs for as long as a byte a minute keeps arriving.
@Suite struct TransferLimitsTests {
    static let once = RetryPolicy(attempts: 1)

    /// The answer is held back, then sent a byte a second: only a deadline ends this early.
    @Test func aTricklingAnswerToASmallRequestHitsTheDeadline() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "GET", pathContains: "/v2/", fault: .trickleResponse(bytesPerSecond: 1, headDelaySeconds: 0.5)))
        defer { proxy.stop(); server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.once,
            limits: TransferLimits(requestTimeoutSeconds: 2))
        let started = Date()
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        let elapsed = Date().timeIntervalSince(started)
        print("trickled ping gave up after \(String(format: "%.1f", elapsed)) s: \(error)")
        guard case .unreachable(_, _, let message) = error else {
            Issue.record("expected unreachable (timed out), got \(error)")
            return
        }
        #expect(message.contains("timed out"))
        #expect(elapsed >= 1.5 && elapsed < 10)
    }

    @Test func theDefaultDeadlineIsSixtySeconds() {
        #expect(TransferLimits().requestTimeoutSeconds == 60)
        #expect(CurlConfiguration().requestTimeoutSeconds == 60)
    }

    /// A download slower than the minimum throughput is abandoned after the window.
    @Test func aTricklingBlobDownloadFallsBelowTheMinimumThroughput() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let setup = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL))
        let blob = TestBlob.random(size: 50_000)
        try setup.uploadBlob("team/app", blob.payload())

        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.add(.init(method: "GET", pathContains: "/blobs/sha256:", fault: .trickleResponse(bytesPerSecond: 200, headDelaySeconds: 0)))
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.once,
            limits: TransferLimits(requestTimeoutSeconds: nil, blobMinimumBytesPerSecond: 5_000, blobSpeedWindowSeconds: 2))
        let received = Atomic<Int>(0)
        let started = Date()
        let error = try #require(throws: RegistryError.self) {
            try client.fetchBlob("team/app", blob.digest) { bytes in received.add(bytes.count, ordering: .relaxed) }
        }
        let elapsed = Date().timeIntervalSince(started)
        print(
            "trickled download gave up after \(String(format: "%.1f", elapsed)) s with \(received.load(ordering: .relaxed)) bytes: \(error)"
        )
        #expect(error.description.contains("timed out"))
        #expect(elapsed < 15)
        #expect(received.load(ordering: .relaxed) < 50_000)
    }

    /// A slow but steady upload takes longer than the deadline of small requests and still
    /// succeeds: blob transfers are bounded by throughput, not by time.
    @Test func aSlowSteadyUploadOutlastsTheRequestDeadline() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PUT", pathContains: "digest=", fault: .throttle(bytesPerSecond: 60_000)))
        defer { proxy.stop(); server.stop() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.once,
            limits: TransferLimits(requestTimeoutSeconds: 1, blobMinimumBytesPerSecond: 1_000, blobSpeedWindowSeconds: 2))
        let blob = TestBlob.random(size: 150_000)
        let started = Date()
        try client.uploadBlob("team/app", blob.payload())
        #expect(Date().timeIntervalSince(started) > 1.5)
        #expect(try client.blobExists("team/app", blob.digest) == 150_000)
    }
}
