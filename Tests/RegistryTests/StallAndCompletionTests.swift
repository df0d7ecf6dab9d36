import Curl
import Foundation
import OCI
import RegistryHarness
import Synchronization
import Testing
@testable import Registry

/// docs/reliability.md at the client: a stalled endpoint spends one budget (the job file's `timeout`), not
/// one per retry; a tag list ends by time as well as by pages; a failed final PUT is settled by a
/// HEAD; a sha512 blob is confirmed by its own digest. Against docker-registry behind `FaultProxy`.
@Suite struct StallAndCompletionTests {
    /// Sanitizer builds run slower (`scripts/sanitize` sets `PUSHCTL_TEST_TIME_SCALE`).
    static let scale = Double(ProcessInfo.processInfo.environment["PUSHCTL_TEST_TIME_SCALE"] ?? "") ?? 1
    static let budget = 2.0

    static func client(_ url: String, budget: Double = budget) -> RegistryClient {
        // The default retry policy (5 attempts, backoff from 1 s): only the budget bounds the stall.
        RegistryClient(endpoint: RegistryEndpoint(url: url), retryPolicy: RetryPolicy(), limits: .timeout(budget))
    }

    /// `GET /v2/` never answered: one attempt, abandoned at the budget (before: 5 × 60 s plus backoff).
    @Test func aStalledPingEndsWithinTheBudget() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.add(.init(method: "GET", pathContains: "/v2/", fault: .stall(seconds: 30), times: 100))
        for round in 1...2 {
            let before = proxy.entries.count
            let started = Date()
            let error = try #require(throws: RegistryError.self) { try Self.client(proxy.baseURL).ping() }
            let elapsed = Date().timeIntervalSince(started)
            guard case .unreachable(_, _, let message) = error else {
                Issue.record("round \(round): expected unreachable, got \(error)")
                return
            }
            #expect(message.contains("timeout of 2 s is spent"), "\(message)")
            #expect(elapsed < Self.budget * 3 * Self.scale, "round \(round): \(elapsed) s")
            #expect(proxy.entries.count - before == 1, "round \(round): a stalled endpoint is not asked again")
        }
    }

    /// A PATCH (chunked) or the monolithic PUT that never gets an answer: the upload is given up
    /// once the blob has not moved for the budget, not after 5 stalls.
    @Test(arguments: ["PATCH", "PUT"])
    func aStalledUploadEndsWithinTheBudget(method: String) throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.add(.init(method: method, pathContains: "/blobs/uploads/", fault: .stall(seconds: 30), times: 100))
        for round in 1...2 {
            let blob = TestBlob.random(size: 25_000)
            let started = Date()
            let error = try #require(throws: RegistryError.self) {
                try Self.client(proxy.baseURL).uploadBlob("team/app", blob.payload(), chunkSize: method == "PATCH" ? 10_000 : nil)
            }
            let elapsed = Date().timeIntervalSince(started)
            #expect(error.isEndpointFailure && !error.isRegistryAnswer, "round \(round): \(error)")
            #expect(error.description.contains("timeout of 2 s is spent"), "\(error)")
            #expect(elapsed < Self.budget * 3 * Self.scale, "round \(round): \(elapsed) s")
            #expect(
                proxy.entries.filter { $0.method == method && $0.faulted }.count == round,
                "round \(round): one stalled \(method) per upload")
        }
    }

    /// An endless tag list of distinct pages stops when its time budget (5 × `timeout`) is spent.
    @Test func anEndlessTagListStopsAtItsTimeBudget() throws {
        let counter = Atomic<Int>(0)
        let transport = FunctionTransport { _ in
            let n = counter.add(1, ordering: .relaxed).newValue
            Thread.sleep(forTimeInterval: 0.01)
            return HostileRegistryTests.tagPage(["t\(n)"], next: "/v2/team/app/tags/list?last=t\(n)")
        }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"), retryPolicy: RetryPolicy(attempts: 1),
            transport: transport, limits: .timeout(0.2))
        let started = Date()
        let error = try #require(throws: RegistryError.self) { try client.listTags("team/app") }
        let elapsed = Date().timeIntervalSince(started)
        #expect(error.description.contains("still going after 1 s"), "\(error)")
        #expect(elapsed < 1 * 3 * Self.scale)
        #expect(transport.requests.count < 10_000)
    }

    /// An item whose deadline passed starts no new request: a final error, not an endpoint failure.
    @Test func anItemPastItsDeadlineStartsNoRequest() throws {
        let transport = FunctionTransport { _ in HTTPResponse(status: 200) }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"), transport: transport, limits: .timeout(1)
        ).bounded(by: ItemDeadline(seconds: 0))
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        guard case .deadline = error else {
            Issue.record("expected the deadline, got \(error)")
            return
        }
        #expect(EndpointVerdict.final == error.endpointVerdict)
        #expect(transport.requests.isEmpty)
    }

    /// The answer to the final PUT is lost, the check after it fails (503), and the repeated PUT
    /// gets `400 DIGEST_INVALID` (docker-registry's answer while it is still finishing the first
    /// PUT): the blob is asked for before giving up, and it is there.
    @Test(arguments: [nil, 10_000])
    func aRepeatedFinalPutAnswered400IsSettledByAHead(chunkSize: Int?) throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let retries = RetryPolicy(attempts: 4, baseDelaySeconds: 0.05, maxDelaySeconds: 1, jitter: 0)
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: retries)
        let invalid = #"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#
        for round in 1...2 {
            proxy.clearRules()
            proxy.add(.init(method: "PUT", pathContains: "digest=", fault: .dropResponse))
            proxy.add(.init(method: "HEAD", pathContains: "/blobs/", fault: .status(503, retryAfter: nil)))
            proxy.add(.init(method: "PUT", pathContains: "digest=", fault: .answer(400, body: invalid)))
            let before = proxy.entries.count
            let blob = TestBlob.random(size: 25_000)

            try client.uploadBlob("team/app", blob.payload(), chunkSize: chunkSize)

            #expect(try client.blobExists("team/app", blob.digest) == 25_000)
            let seen = proxy.entries.dropFirst(before)
            #expect(seen.filter { $0.method == "PUT" && $0.faulted }.count == 2, "round \(round): the 400 was met")
        }
    }

    /// A sha512 blob: the registry stores it but answers `Docker-Content-Digest: sha256:…`. The
    /// upload is confirmed by a HEAD on our digest, on the first try and again on a second push.
    @Test(arguments: [nil, 10_000])
    func aSha512BlobUploadsOnTheFirstTry(chunkSize: Int?) throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL))
        let bytes = TestBlob.random(size: 25_000).bytes
        let descriptor = Descriptor(
            mediaType: MediaType.ociLayerGzip, digest: Digest.of(bytes, algorithm: .sha512), size: Int64(bytes.count))
        let payload = BlobPayload(descriptor: descriptor) { offset in MemoryBlobStream(bytes, offset: Int(offset)) }
        for round in 1...2 {
            try client.uploadBlob("team/sha512", payload, chunkSize: chunkSize)
            #expect(try client.blobExists("team/sha512", descriptor.digest) == 25_000, "round \(round)")
        }
    }
}
