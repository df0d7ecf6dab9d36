import Threading
import Curl
import Foundation
import OCI
import Planner
import PusherFakes
import JobFile
import Registry
import RegistryHarness
import Testing
@testable import Pusher
@testable import Run
@testable import RegistrySource

/// A big layer replicated registry → registry goes through memory in bounded pieces: the
/// executor's copy of a 256 MiB layer grows the peak resident set by far less than the layer.
@Suite(.serialized) struct ReplicationMemoryTests {
    static let layerSize: Int64 = 256 << 20
    static let limit: Int64 = 64 << 20

    /// Deterministic bytes generated while read (no file, no array of the blob's size).
    final class PatternStream: BlobStream {
        private var position: Int64
        private let size: Int64
        init(size: Int64, offset: Int64) { self.size = size; self.position = offset }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = Int(min(Int64(buffer.count), size - position))
            guard n > 0 else { return 0 }
            for i in 0..<n { buffer[i] = UInt8(truncatingIfNeeded: (position + Int64(i)) &* 2654435761 >> 13) }
            position += Int64(n)
            return n
        }
    }

    static func patternDigest(size: Int64) throws -> Digest {
        let stream = PatternStream(size: size, offset: 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = DigestHasher()
        while true {
            let n = try stream.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize()
    }

    func status(_ key: String) throws -> Int64 {
        let text = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(key + ":") })
        return try #require(Int64(line.split(separator: " ").dropFirst().first ?? "")) * 1024
    }

    @Test func bigLayerIsCopiedBetweenRegistriesInBoundedMemory() throws {
        let source = try RegistryServer.start(.plain)
        defer { source.stop() }
        let target = try RegistryServer.start(.plain)
        defer { target.stop() }

        // Seed the source: a 256 MiB layer streamed up, a config, a manifest tagged `big`.
        let size = Self.layerSize
        let layer = Descriptor(mediaType: MediaType.ociLayer, digest: try Self.patternDigest(size: size), size: size)
        let seeder = RegistryClient(endpoint: RegistryEndpoint(url: source.baseURL))
        try seeder.uploadBlob("up/big", BlobPayload(descriptor: layer) { offset in PatternStream(size: size, offset: offset) })
        let configBytes = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let config = Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count))
        try seeder.uploadBlob("up/big", BlobPayload(descriptor: config) { offset in MemoryBlobStream(configBytes, offset: Int(offset)) })
        let manifest = Array(
            """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"\(config.mediaType)","digest":"\(config.digest)","size":\(config.size)},"layers":[{"mediaType":"\(layer.mediaType)","digest":"\(layer.digest)","size":\(size)}]}
            """.utf8)
        let manifestDigest = try seeder.putManifest("up/big", reference: "big", bytes: manifest, mediaType: MediaType.ociManifest)

        let access = plainSourceAccess(source.baseURL, key: source.host)
        let root = try #require(
            try access.read { client throws(RegistryError) in try client.manifestDescriptor("up/big", reference: "big") })
        let image = RegistryImageSource(description: "docker://\(source.host)/up/big:big", access: access, repository: "up/big", root: root)
        let job = PushJob(
            target: PushTarget(
                itemID: "0000000000000000", job: "memory", source: image.description, registry: "target",
                host: target.host, repository: "mirror/big", tags: ["big"]),
            registryKey: target.host,
            endpoints: RegistryConnection(
                name: "target", registryKey: target.host, identityMaterial: "test",
                endpoints: EndpointSet(registry: "target", members: [RegistryEndpoint(url: target.baseURL)]) { member, _ in
                    RegistryClient(endpoint: RegistryEndpoint(url: member.url))
                }),
            image: image.sourceImage, credentialIdentity: "test", concurrency: 2)
        let executor = Executor(state: FakeState(), sink: EventLog(), cancellation: CancellationFlag())

        if let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            try? handle.write(contentsOf: Data("5".utf8))
            try? handle.close()
        }
        let before = try status("VmRSS")
        let outcomes = executor.run([job], images: 1)
        let growth = try status("VmHWM") - before

        #expect(outcomes.first?.status == .pushed, "\(String(describing: outcomes.first?.error))")
        #expect(outcomes.first?.counts.bytesUploaded == size + config.size)
        let targetClient = RegistryClient(endpoint: RegistryEndpoint(url: target.baseURL))
        #expect(try targetClient.manifestDescriptor("mirror/big", reference: "big")?.digest == manifestDigest)
        #expect(try targetClient.blobExists("mirror/big", layer.digest) == size)
        #expect(growth < Self.limit, "peak RSS grew by \(growth >> 20) MiB copying a \(size >> 20) MiB layer")
    }
}
