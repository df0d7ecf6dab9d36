import Curl
import Foundation
import Synchronization
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// Pushes against a real plain-http docker-registry.
@Suite struct PlainRegistryTests {
    @Test func pingAnswersAndIsLogged() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL))
        try client.ping()
        #expect(client.requestCount == 1)
        #expect(server.requestCount(method: "GET", pathContains: "/v2/") >= 1)
    }

    @Test func monolithicUploadThenHeadFindsIt() throws {
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL))
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
        let server = try RegistryServer.start(.plain)
        defer { server.stop() }
        let client = RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL))
        let blob = TestBlob.random(size: 2_500_000)
        try client.uploadBlob("team/app", blob.payload(), chunkSize: 1_000_000)
        #expect(server.requestCount(method: "PATCH", pathContains: "/v2/team/app/blobs/uploads/") == 3)
        #expect(server.requestCount(method: "PUT", pathContains: "/v2/team/app/blobs/uploads/") == 1)
        #expect(try client.blobExists("team/app", blob.digest) == Int64(blob.bytes.count))
    }
}

/// Collects progress callbacks from the transfer thread.
final class ProgressLog: Sendable {
    private let values = Mutex<[Int64]>([])
    func record(_ value: Int64) { values.withLock { $0.append(value) } }
    var all: [Int64] { values.withLock { $0 } }
    var last: Int64? { all.last }
}
