import Curl
import Foundation
import Threading
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// Pushes against a real plain-http docker-registry.
@Suite struct PlainRegistryTests {
    @Test func pingAnswersAndIsLogged() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        try client.ping()
        #expect(client.requestCount == 1)
        #expect(server.requestCount(method: "GET", pathContains: "/v2/") >= 1)
    }

    @Test func monolithicUploadThenHeadFindsIt() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let blob = TestBlob.random(size: 300_000)
        #expect(try client.blobExists("team/app", blob.digest) == nil)
        let progress = ProgressLog()
        try client.uploadBlob("team/app", blob.payload(), progress: { progress.record($0) })
        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
        #expect(progress.last == Int64(blob.bytes.count))
        // One POST and one PUT: a monolithic upload.
        #expect(server.requestCount(method: "POST", pathContains: "/v2/team/app/blobs/uploads/") == 1)
        #expect(server.requestCount(method: "PUT", pathContains: "/v2/team/app/blobs/uploads/") == 1)
        #expect(server.requestCount(method: "PATCH") == 0)
    }

    @Test func chunkedUploadSendsSeveralPatches() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let blob = TestBlob.random(size: 2_500_000)
        try client.uploadBlob("team/app", blob.payload(), chunkSize: 1_000_000)
        #expect(server.requestCount(method: "PATCH", pathContains: "/v2/team/app/blobs/uploads/") == 3)
        #expect(server.requestCount(method: "PUT", pathContains: "/v2/team/app/blobs/uploads/") == 1)
        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
    }

    /// The one PATCH's connection dies mid-body: the upload goes on from what the session holds
    /// (or, when docker-registry refuses the torn session, from the start in a new one) and lands.
    @Test func aDroppedSinglePatchIsCompleted() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PATCH", pathContains: "/blobs/uploads/", fault: .dropInTransit(4_000_000), times: 1))
        defer { proxy.stop(); server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: RegistryClient.monolithicLimit + 1_000_000)
        try client.uploadBlob("team/app", blob.payload())
        #expect(proxy.entries.filter { $0.faulted }.count == 1)
        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
    }
}

/// Collects progress callbacks from the transfer thread.
final class ProgressLog: Sendable {
    private let values = LockedValue<[Int64]>([])
    func record(_ value: Int64) { values.withLock { $0.append(value) } }
    var all: [Int64] { values.withLock { $0 } }
    var last: Int64? { all.last }
}

extension PlainRegistryTests {
    static let fastRetries = RetryPolicy(attempts: 4, baseDelaySeconds: 0.05, maxDelaySeconds: 5, jitter: 0)

    /// A 2.5 MB blob uploaded in 1 MB chunks to a plain registry through a fault proxy whose
    /// `fault` meets the second chunk's PATCH once.
    static func chunkedUpload(secondChunk fault: FaultProxy.Fault) throws -> (
        server: RegistryServer, proxy: FaultProxy, client: RegistryClient, blob: TestBlob, opens: TestBlob.OpenLog
    ) {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PATCH", pathContains: "/blobs/uploads/", fault: fault, times: 1, skip: 1))
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 2_500_000)
        let opens = TestBlob.OpenLog()
        try client.uploadBlob("team/app", blob.payload(opens: opens), chunkSize: 1_000_000)
        return (server, proxy, client, blob, opens)
    }

    @Test func chunkedUploadResumesAfterDroppedConnection() throws {
        // The second chunk's connection dies after the client sent 300 kB of its body.
        let (server, proxy, client, blob, opens) = try Self.chunkedUpload(secondChunk: .dropInTransit(300_000))
        defer { proxy.stop(); server.stop() }

        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
        #expect(proxy.entries.filter { $0.faulted }.count == 1)
        // The client asked the session how far it got, and reopened the source there rather
        // than at 0: at least the first, completed chunk was kept.
        #expect(proxy.entries.contains { $0.method == "GET" && $0.target.contains("/blobs/uploads/") })
        #expect(opens.all == [0, 1_000_000])
    }

    @Test func uploadRestartsFromSourceWhenTheSessionCannotResume() throws {
        // The registry receives part of the second chunk; distribution 2.8 then refuses the
        // session (its state token no longer matches the stored size): start over from the source.
        let (server, proxy, client, blob, opens) = try Self.chunkedUpload(secondChunk: .dropAfterBodyBytes(300_000))
        defer { proxy.stop(); server.stop() }
        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
        #expect(opens.all.first == 0)
        #expect(opens.all.count == 2)
        #expect(server.requestCount(method: "POST", pathContains: "/v2/team/app/blobs/uploads/") == 2)
    }

    @Test func mountIntoSecondRepository() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let blob = TestBlob.random(size: 10_000)
        try client.uploadBlob("team/a", blob.payload())
        #expect(try client.mountBlob("team/b", blob.digest, from: "team/a"))
        #expect(try client.blobExists("team/b", blob.digest) == 10_000)
        #expect(server.accessLog().contains { $0.method == "POST" && $0.uri.contains("mount=") && $0.status == 201 })
    }

    @Test func mountOfUnknownBlobFallsBackAndDeletesTheSession() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let missing = TestBlob.random(size: 100)
        #expect(try client.mountBlob("team/b", missing.digest, from: "team/a") == false)
        #expect(server.accessLog().contains { $0.method == "POST" && $0.uri.contains("mount=") && $0.status == 202 })
        #expect(server.requestCount(method: "DELETE", pathContains: "/v2/team/b/blobs/uploads/") == 1)
    }

    /// Pushes a config and a layer and returns manifest bytes referencing them, with unusual
    /// whitespace so a client that re-encoded them would be caught.
    static func pushImage(_ client: RegistryClient, repository: String) throws -> [UInt8] {
        let config = TestBlob(bytes: Array(#"{"architecture":"amd64","os":"linux"}"#.utf8), mediaType: MediaType.ociConfig)
        let layer = TestBlob.random(size: 5_000)
        try client.uploadBlob(repository, config.payload())
        try client.uploadBlob(repository, layer.payload())
        var bytes = TestBlob.manifest(config: config.descriptor, layers: [layer.descriptor])
        bytes.insert(contentsOf: Array("  \n".utf8), at: 1)
        return bytes
    }

    @Test func manifestByTagAndByDigestReadsBackByteIdentical() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let bytes = try Self.pushImage(client, repository: "team/app")
        let digest = Digest.of(bytes)

        #expect(try client.manifestDescriptor("team/app", reference: "v1") == nil)
        #expect(try client.putManifest("team/app", reference: "v1", bytes: bytes, mediaType: MediaType.ociManifest) == digest)
        #expect(try client.putManifest("team/app", reference: digest.string, bytes: bytes, mediaType: MediaType.ociManifest) == digest)

        let byTag = try client.getManifest("team/app", reference: "v1")
        #expect(byTag.bytes == bytes)
        #expect(byTag.digest == digest)
        #expect(byTag.mediaType == MediaType.ociManifest)
        let byDigest = try client.getManifest("team/app", reference: digest.string)
        #expect(byDigest.bytes == bytes)

        let descriptor = try #require(try client.manifestDescriptor("team/app", reference: "v1"))
        #expect(descriptor.digest == digest)
        #expect(descriptor.size == Int64(bytes.count))
        #expect(descriptor.mediaType == MediaType.ociManifest)
    }

    @Test func manifestWithMissingBlobIsARegistryAnswer() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL), retryPolicy: Self.fastRetries)
        let bytes = TestBlob.manifest(
            config: TestBlob.random(size: 10, mediaType: MediaType.ociConfig).descriptor,
            layers: [TestBlob.random(size: 10).descriptor])
        let error = try #require(throws: RegistryError.self) {
            try client.putManifest("team/app", reference: "v1", bytes: bytes, mediaType: MediaType.ociManifest)
        }
        #expect(error.code == "MANIFEST_BLOB_UNKNOWN")
        #expect(error.isRegistryAnswer)
        #expect(!error.isEndpointFailure)
        #expect(error.description.contains(server.host))
        #expect(server.requestCount(method: "PUT", pathContains: "/manifests/") == 1)
    }

    @Test func listTagsAcrossPages() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        // distribution 2.8 ignores ?n= and never paginates; the proxy pages its answer the way
        // the distribution spec describes (Link: <…?n=2&last=…>; rel="next").
        let proxy = try FaultProxy(upstreamPort: server.port, paginateTagLists: true)
        defer { proxy.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL))
        let bytes = try Self.pushImage(client, repository: "team/app")
        let tags = ["a1", "b2", "c3", "d4", "e5"]
        for tag in tags.shuffled() {
            try client.putManifest("team/app", reference: tag, bytes: bytes, mediaType: MediaType.ociManifest)
        }
        let paged = try client.listTags("team/app", pageSize: 2)
        #expect(paged == tags)
        #expect(
            proxy.entries.filter { $0.method == "GET" && $0.target.contains("/tags/list") }.map(\.target) == [
                "/v2/team/app/tags/list?n=2", "/v2/team/app/tags/list?n=2&last=b2", "/v2/team/app/tags/list?n=2&last=d4"
            ])
        let whole = try client.listTags("team/app")
        #expect(whole.sorted() == tags)
    }

    @Test func fetchBlobStreamsTheBytesBack() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let blob = TestBlob.random(size: 700_000)
        try client.uploadBlob("team/app", blob.payload())
        let received = LockedValue<[UInt8]>([])
        try client.fetchBlob("team/app", blob.digest) { piece in received.withLock { $0.append(contentsOf: piece) } }
        #expect(received.withLock { $0 } == blob.bytes)
    }

    /// Over `monolithicLimit`, with no chunk size asked for: one session, one streamed PATCH, one
    /// PUT (as skopeo sends it; docs/performance.md "Blob uploads in one request").
    @Test func largeGeneratedBlobGoesUpInOnePatch() throws {
        let (server, client) = try RegistryServer.startWithClient(.plain)
        defer { server.stop() }
        let blob = GeneratedBlob(size: 20 << 20)
        let progress = ProgressLog()
        try client.uploadBlob("team/big", blob.payload(), progress: { progress.record($0) })
        #expect(try client.blobExists("team/big", blob.digest) == 20 << 20)
        #expect(server.requestCount(method: "POST", pathContains: "/v2/team/big/blobs/uploads/") == 1)
        #expect(server.requestCount(method: "PATCH", pathContains: "/v2/team/big/blobs/uploads/") == 1)
        #expect(server.requestCount(method: "PUT", pathContains: "/v2/team/big/blobs/uploads/") == 1)
        #expect(progress.last == 20 << 20)
        #expect(progress.all == progress.all.sorted())
    }
}
