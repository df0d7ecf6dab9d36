import Foundation
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// The closing PUT of an upload is idempotent: a lost answer is settled by asking for the blob.
@Suite struct UploadCompletionTests {
    static let fastRetries = RetryPolicy(attempts: 4, baseDelaySeconds: 0.05, maxDelaySeconds: 1, jitter: 0)

    /// The registry completes the upload, the answer never arrives: a repeated PUT would reach a
    /// closed session (`404 BLOB_UPLOAD_UNKNOWN`); a HEAD finds the blob instead.
    @Test(arguments: [nil, 10_000])
    func aLostAnswerToTheFinalPutIsNotAFailure(chunkSize: Int?) throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PUT", pathContains: "digest=", fault: .dropResponse))
        defer { proxy.stop(); server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 25_000)
        let opens = TestBlob.OpenLog()

        try client.uploadBlob("team/app", blob.payload(opens: opens), chunkSize: chunkSize)

        #expect(try client.blobExists("team/app", blob.digest) == 25_000)
        let methods = proxy.entries.map(\.method)
        // One session, one closing PUT (dropped), then the HEAD that found the blob: no re-upload.
        #expect(methods.filter { $0 == "POST" }.count == 1)
        #expect(methods.filter { $0 == "PUT" }.count == 1)
        #expect(proxy.entries.first { $0.method == "PUT" }?.faulted == true)
        #expect(opens.all == [0])
    }

    /// The answer is lost and the first HEAD fails too (503): the PUT is repeated, meets the
    /// closed session (404), and the next HEAD settles it.
    @Test func aFailedCheckAfterALostAnswerIsRetriedNotFatal() throws {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PUT", pathContains: "digest=", fault: .dropResponse))
        defer { proxy.stop(); server.stop() }
        proxy.add(.init(method: "HEAD", pathContains: "/blobs/", fault: .status(503, retryAfter: nil)))
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.fastRetries)
        let blob = TestBlob.random(size: 25_000)

        try client.uploadBlob("team/app", blob.payload(), chunkSize: 10_000)

        #expect(try client.blobExists("team/app", blob.digest) == 25_000)
        #expect(proxy.entries.filter { $0.method == "PUT" }.count == 2)
        #expect(proxy.entries.filter { $0.method == "POST" }.count == 1)
    }

    /// A plain registry whose final upload PUT (`?digest=`) is answered `status` once by a fault
    /// proxy, a client through the proxy, and a 25 kB blob to upload.
    static func finalPut(answered status: Int) throws -> (server: RegistryServer, proxy: FaultProxy, client: RegistryClient, blob: TestBlob)
    {
        let (server, proxy) = try RegistryServer.behindFaultProxy(
            .plain, .init(method: "PUT", pathContains: "digest=", fault: .status(status, retryAfter: nil)))
        let client = RegistryClient(endpoint: RegistryEndpoint(url: proxy.baseURL), retryPolicy: Self.fastRetries)
        return (server, proxy, client, TestBlob.random(size: 25_000))
    }

    /// The final PUT fails before the registry saw it: the HEAD finds nothing, so the PUT is
    /// repeated on the still-open session.
    @Test func aFinalPutThatNeverArrivedIsRepeated() throws {
        let (server, proxy, client, blob) = try Self.finalPut(answered: 503)
        defer { proxy.stop(); server.stop() }

        try client.uploadBlob("team/app", blob.payload(), chunkSize: 10_000)

        #expect(try client.blobExists("team/app", blob.digest) == 25_000)
        let methods = proxy.entries.map(\.method)
        #expect(methods.filter { $0 == "PUT" }.count == 2)
        #expect(methods.filter { $0 == "POST" }.count == 1)
    }

    /// A session the registry no longer knows and a blob it does not have: the 404 is final.
    @Test func anUnknownSessionWithoutTheBlobIsReported() throws {
        let (server, proxy, client, blob) = try Self.finalPut(answered: 404)
        defer { proxy.stop(); server.stop() }

        let error = try #require(throws: RegistryError.self) { try client.uploadBlob("team/app", blob.payload(), chunkSize: 10_000) }
        #expect(error.description.contains("404"))
        #expect(try client.blobExists("team/app", blob.digest) == nil)
        #expect(proxy.entries.filter { $0.method == "PUT" }.count == 1)
    }
}
