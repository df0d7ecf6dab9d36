import Foundation
import ImageSource
import OCI
import Planner
import JobFile
import Registry
import RegistryHarness
import Testing
@testable import Pusher
@testable import Run
@testable import RegistrySource

/// `RegistryImageSource` against a real registry (Debian's docker-registry): graphs of indexes read
/// whole with exact bytes, blobs streamed through the bounded pipe and verified on the way.
@Suite(.serialized) struct RegistryImageSourceTests {
    struct Seeded {
        var registry: RegistryServer
        var config: TestBlob
        var layer: TestBlob
        var manifest: (bytes: [UInt8], digest: Digest)
        var index: (bytes: [UInt8], digest: Digest)
    }

    /// A 24 MiB layer image, tagged `1`, and an index over it, tagged `multi`, in `src/app`.
    static func seed() throws -> Seeded {
        let registry = try RegistryServer.start(.plain)
        let client = RegistryClient(endpoint: RegistryEndpoint(url: registry.baseURL))
        let config = TestBlob(
            bytes: Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8),
            mediaType: MediaType.ociConfig)
        let layer = TestBlob.random(size: 24 << 20)
        try client.uploadBlob("src/app", config.payload())
        try client.uploadBlob("src/app", layer.payload())
        let manifest = Array(
            """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(config.digest)","size":\(config.bytes.count)},"layers":[{"mediaType":"\(MediaType.ociLayerGzip)","digest":"\(layer.digest)","size":\(layer.bytes.count)}]}
            """.utf8)
        let manifestDigest = try client.putManifest("src/app", reference: "1", bytes: manifest, mediaType: MediaType.ociManifest)
        let index = Array(
            """
            {"schemaVersion":2,"mediaType":"\(MediaType.ociIndex)","manifests":[{"mediaType":"\(MediaType.ociManifest)","digest":"\(manifestDigest)","size":\(manifest.count),"platform":{"architecture":"amd64","os":"linux"}}]}
            """.utf8)
        let indexDigest = try client.putManifest("src/app", reference: "multi", bytes: index, mediaType: MediaType.ociIndex)
        return Seeded(registry: registry, config: config, layer: layer, manifest: (manifest, manifestDigest), index: (index, indexDigest))
    }

    static func access(_ registry: RegistryServer) -> RegistrySourceAccess {
        plainSourceAccess(registry.baseURL, key: registry.host)
    }

    static func readAll(_ stream: any BlobStream) throws -> (count: Int, digest: Digest) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = DigestHasher()
        var count = 0
        while true {
            let n = try stream.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            count += n
        }
        return (count, hasher.finalize())
    }

    @Test func indexIsReadWholeWithExactBytesAndBlobsStreamVerified() throws {
        let seeded = try Self.seed()
        defer { seeded.registry.stop() }
        let access = Self.access(seeded.registry)
        let root = try #require(
            try access.read { client throws(RegistryError) in try client.manifestDescriptor("src/app", reference: "multi") })
        #expect(root.digest == seeded.index.digest)
        #expect(root.mediaType == MediaType.ociIndex)

        let requestsBefore = seeded.registry.accessLog().count
        let source = RegistryImageSource(
            description: "docker://\(seeded.registry.host)/src/app:multi", access: access,
            repository: "src/app", root: root)
        let image = source.sourceImage
        // Nothing is read until a push needs it.
        #expect(image.manifests.isEmpty && image.blobs.isEmpty)
        #expect(seeded.registry.accessLog().count == requestsBefore)

        let load = try #require(image.loadContent)
        let loaded = try load()
        #expect(loaded.manifests.map(\.descriptor.digest) == [seeded.manifest.digest, seeded.index.digest])
        #expect(loaded.manifests.map(\.bytes) == [seeded.manifest.bytes, seeded.index.bytes])
        #expect(Set(loaded.blobs.map(\.digest)) == [seeded.config.digest, seeded.layer.digest])
        #expect(try source.loadGraph().platforms == [Platform(architecture: "amd64", os: "linux")])
        // Loaded once: a second load reads nothing more.
        let afterLoad = seeded.registry.accessLog().count
        _ = try source.loadGraph()
        #expect(seeded.registry.accessLog().count == afterLoad)

        let whole = try Self.readAll(loaded.payload(seeded.layer.descriptor).open(0))
        #expect(whole.count == seeded.layer.bytes.count)
        #expect(whole.digest == seeded.layer.digest)

        // Opened at an offset (a resumed upload): the rest, the skipped prefix verified too.
        let offset = 5 << 20
        let rest = try Self.readAll(loaded.payload(seeded.layer.descriptor).open(Int64(offset)))
        #expect(rest.count == seeded.layer.bytes.count - offset)
        #expect(rest.digest == Digest.of(seeded.layer.bytes[offset...]))
    }

    @Test func bytesThatDoNotMatchTheDescriptorFailAtTheEnd() throws {
        let seeded = try Self.seed()
        defer { seeded.registry.stop() }
        let source = RegistryImageSource(
            description: "docker://\(seeded.registry.host)/src/app:1", access: Self.access(seeded.registry),
            repository: "src/app",
            root: Descriptor(
                mediaType: MediaType.ociManifest, digest: seeded.manifest.digest,
                size: Int64(seeded.manifest.bytes.count)))
        // The registry serves the layer, but the descriptor claims a size one byte short.
        var short = seeded.layer.descriptor
        short.size -= 1
        #expect(throws: SourceError.self) { _ = try Self.readAll(source.payload(for: short).open(0)) }

        // A stream dropped halfway releases its download (the test would hang otherwise).
        do {
            let stream = try source.payload(for: seeded.layer.descriptor).open(0)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            #expect(try stream.read(into: buffer) > 0)
        }
        // A tag that is not there is reported as missing, not as an error.
        let missing = try Self.access(seeded.registry).read { client throws(RegistryError) in
            try client.manifestDescriptor("src/app", reference: "nope")
        }
        #expect(missing == nil)
    }
}

/// Access to a plain-http source registry at `url`, with the run's endpoint rule over one endpoint.
func plainSourceAccess(_ url: String, key: String) -> RegistrySourceAccess {
    let endpoints = EndpointSet<RegistryClient>(registry: key, members: [RegistryEndpoint(url: url)]) { member, _ in
        RegistryClient(endpoint: RegistryEndpoint(url: member.url))
    }
    return RegistrySourceAccess(registryKey: key, registryName: nil, endpoints: endpoints, rateLimits: RateLimitBook())
}
