import Foundation
import Testing
import OCI
import TestSupport
import Threading
@testable import ImageSource

/// Images made here with umoci (layouts, several layers, a second platform) and converted with
/// `skopeo copy` (oci-archive, docker-archive), read by pushctl and compared with skopeo.
@Suite struct MadeImageTests {
    /// A layout with tag `base` (linux/amd64, two layers made by unpack/repack with files added),
    /// tag `arm` (same layers, linux/arm64 config) and tag `multi`: an index over both.
    struct MadeLayout {
        let tmp: TempDir
        let made: UmociMultiPlatformLayout
        var layout: String { made.path }
        var base: Descriptor { made.base }
        var arm: Descriptor { made.arm }
        var index: Descriptor { made.index }
    }

    static func makeLayout() throws -> MadeLayout {
        let tmp = try TempDir()
        return MadeLayout(tmp: tmp, made: try UmociMultiPlatformLayout.make(at: tmp.sub("layout")))
    }

    @Test func umociLayoutWithTwoLayers() throws {
        let made = try Self.makeLayout()
        let (source, graph) = try load(.ociLayout(path: made.layout, ref: "base"))
        let raw = try mustRun("skopeo", ["inspect", "--raw", "oci:\(made.layout):base"]).stdout
        #expect(graph.root.digest == sha256(raw))
        #expect(graph.root.digest == made.base.digest)
        let manifest = try decodeManifest(raw)
        #expect(manifest.layers?.count == 2)
        #expect(graph.blobs.map(\.digest.string) == [manifest.config!.digest] + manifest.layers!.map(\.digest))
        #expect(graph.sourceTags == ["base"])
        try compareWithSkopeoCopy(graph, name: "oci:\(made.layout):base")
        for blob in graph.blobs {
            let bytes = try readAll(source.payload(for: blob))
            #expect(sha256(bytes) == blob.digest)
        }
    }

    /// Images of one layout opened with one `OpenedLayouts` read its `index.json` once: an index
    /// gone after the first image does not stop the second; opened without it, it does. The same
    /// for an OCI archive removed after its first image: its tar was indexed once.
    @Test func imagesOfOneLayoutShareItsIndex() throws {
        let made = try Self.makeLayout()
        let layout = made.tmp.sub("copy")
        try mustRun("mkdir", ["-p", layout])
        try mustRun("cp", ["-a", made.layout + "/.", layout])
        let opened = OpenedLayouts()
        let first = try openImageSource(.ociLayout(path: layout, ref: "base"), opened: opened).loadGraph()
        #expect(first.root.digest == made.base.digest)
        try FileManager.default.removeItem(atPath: layout + "/index.json")
        let second = try openImageSource(.ociLayout(path: layout, ref: "arm"), opened: opened).loadGraph()
        #expect(second.root.digest == made.arm.digest)
        #expect(sourceError { _ = try openImageSource(.ociLayout(path: layout, ref: "arm")).loadGraph() } != nil)

        let archive = made.tmp.sub("shared.tar")
        try mustRun("skopeo", ["copy", "--all", "oci:\(made.layout):multi", "oci-archive:\(archive):multi"])
        let fromArchive = try openImageSource(.ociArchive(path: archive, ref: "multi"), opened: opened)
        #expect(try fromArchive.loadGraph().root.digest == made.index.digest)
        try FileManager.default.removeItem(atPath: archive)
        let again = try openImageSource(.ociArchive(path: archive, ref: "multi"), opened: opened)
        #expect(try again.loadGraph().root.digest == made.index.digest)
    }

    /// `layoutManifests` (where `referrers:` looks) with the run's `OpenedLayouts` lists what the
    /// image was read from: the layout's index and the archive's tar are not read again, so an
    /// index or archive gone since is no error with it, and is one without it.
    @Test func layoutManifestsShareTheRunsOpenedLayouts() throws {
        let made = try Self.makeLayout()
        let layout = made.tmp.sub("copy")
        try mustRun("mkdir", ["-p", layout])
        try mustRun("cp", ["-a", made.layout + "/.", layout])
        let location = ImageSourceLocation.ociLayout(path: layout, ref: "base")
        let listed = try layoutManifests(location).map(\.descriptor.digest)
        #expect(Set(listed) == [made.base.digest, made.arm.digest, made.index.digest])

        let opened = OpenedLayouts()
        #expect(try openImageSource(location, opened: opened).loadGraph().root.digest == made.base.digest)
        try FileManager.default.removeItem(atPath: layout + "/index.json")
        #expect(try layoutManifests(location, opened: opened).map(\.descriptor.digest) == listed)
        #expect(sourceError { _ = try layoutManifests(location) } != nil)

        let archive = made.tmp.sub("listed.tar")
        try mustRun("skopeo", ["copy", "--all", "oci:\(made.layout):multi", "oci-archive:\(archive):multi"])
        let inArchive = ImageSourceLocation.ociArchive(path: archive, ref: "multi")
        #expect(try openImageSource(inArchive, opened: opened).loadGraph().root.digest == made.index.digest)
        try FileManager.default.removeItem(atPath: archive)
        let fromArchive = try layoutManifests(inArchive, opened: opened).map(\.descriptor.digest)
        #expect(fromArchive.contains(made.index.digest), "\(fromArchive)")
        #expect(sourceError { _ = try layoutManifests(inArchive) } != nil)
    }

    @Test func multiPlatformIndex() throws {
        let made = try Self.makeLayout()
        let (source, graph) = try load(.ociLayout(path: made.layout, ref: "multi"))
        let raw = try mustRun("skopeo", ["inspect", "--raw", "oci:\(made.layout):multi"]).stdout
        #expect(graph.root.digest == sha256(raw))
        #expect(graph.root.mediaType == MediaType.ociIndex)
        #expect(graph.platforms.map(\.description) == ["linux/amd64", "linux/arm64"])
        try compareWithSkopeoCopy(graph, name: "oci:\(made.layout):multi")
        #expect(graph.manifestsChildrenFirst.map(\.digest) == [made.base.digest, made.arm.digest, made.index.digest])
        // Two configs, two shared layers: four blobs, each once.
        #expect(graph.blobs.count == 4)
        #expect(Set(graph.blobs.map(\.digest)).count == 4)
        #expect(graph.totalSize == graph.manifestsChildrenFirst.reduce(0) { $0 + $1.size } + graph.blobs.reduce(0) { $0 + $1.size })
        // Manifests also stream through payload(for:), verified.
        #expect(try readAll(source.payload(for: graph.root)) == raw)
        // Without REF the layout holds three images.
        let error = sourceError { _ = try load(.ociLayout(path: made.layout, ref: nil)) }
        #expect(error == .severalImages(source: "oci:\(made.layout)", available: ["base", "arm", "multi"]))
    }

    @Test func skopeoMadeOCIArchive() throws {
        let made = try Self.makeLayout()
        let archive = made.tmp.sub("image.tar")
        try mustRun("skopeo", ["copy", "--all", "oci:\(made.layout):multi", "oci-archive:\(archive):multi"])
        let (source, graph) = try load(.ociArchive(path: archive, ref: "multi"))
        let raw = try mustRun("skopeo", ["inspect", "--raw", "oci-archive:\(archive):multi"]).stdout
        #expect(graph.root.digest == sha256(raw))
        #expect(graph.root.digest == made.index.digest)
        #expect(graph.platforms.count == 2)
        #expect(graph.sourceTags == ["multi"])
        try compareWithSkopeoCopy(graph, name: "oci-archive:\(archive):multi")
        for blob in graph.blobs {
            #expect(sha256(try readAll(source.payload(for: blob))) == blob.digest)
        }
        // Resumed read from an offset inside the archive member.
        let layer = try #require(graph.blobs.max { $0.size < $1.size })
        let whole = try readAll(source.payload(for: layer))
        #expect(try readAll(source.payload(for: layer), offset: 1000) == Array(whole[1000...]))
        // A layout directory given as oci-archive: is refused clearly.
        guard case .notATarArchive? = sourceError({ _ = try load(.ociArchive(path: made.layout, ref: nil)) }) else {
            Issue.record("a directory is not an archive"); return
        }
    }

    @Test func skopeoMadeDockerArchive() throws {
        let made = try Self.makeLayout()
        let archive = made.tmp.sub("docker.tar")
        try mustRun("skopeo", ["copy", "oci:\(made.layout):base", "docker-archive:\(archive):team/app:1.4.2"])
        let cache = try TempDir()
        let (source, graph) = try load(.dockerArchive(path: archive, ref: nil), cache: cache.path)
        #expect(graph.sourceTags == ["1.4.2"])
        let (_, byTag) = try load(.dockerArchive(path: archive, ref: "team/app:1.4.2"), cache: cache.path)
        #expect(byTag.root == graph.root)
        let raw = try decodeManifest(mustRun("skopeo", ["inspect", "--raw", "docker-archive:\(archive)"]).stdout)
        let ours = try decodeManifest(#require(graph.manifestBytes(graph.root.digest)))
        #expect(ours.config?.digest == raw.config?.digest)
        // The OCI image's config lists the diffIDs; the compressed layers map back to them.
        let configBytes = try readAll(source.payload(for: graph.blobs[0]))
        struct Config: Decodable { struct R: Decodable { var diff_ids: [Digest] }; var rootfs: R }
        let diffIDs = try JSONDecoder().decode(Config.self, from: Data(configBytes)).rootfs.diff_ids
        #expect(graph.blobs.dropFirst().map { graph.diffIDs[$0.digest] } == diffIDs)
    }

    @Test func missingBlobsAreReportedTogether() throws {
        let made = try Self.makeLayout()
        let (_, graph) = try load(.ociLayout(path: made.layout, ref: "base"))
        let config = graph.blobs[0], lastLayer = graph.blobs[2]
        try FileManager.default.removeItem(atPath: made.layout + "/blobs/sha256/" + config.digest.hex)
        try FileManager.default.removeItem(atPath: made.layout + "/blobs/sha256/" + lastLayer.digest.hex)
        let error = sourceError { _ = try load(.ociLayout(path: made.layout, ref: "base")) }
        guard case .missingBlobs(_, let blobs)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(blobs.map(\.digest) == [config.digest, lastLayer.digest])
        #expect(blobs.allSatisfy { $0.referencedBy == graph.root.digest && $0.foundSize == nil })
        #expect(error!.description.contains("2 blobs missing or damaged"))
    }

    @Test func corruptedBlobIsCaughtWhileStreaming() throws {
        let made = try Self.makeLayout()
        let (source, graph) = try load(.ociLayout(path: made.layout, ref: "base"))
        let layer = try #require(graph.blobs.max { $0.size < $1.size })
        let path = made.layout + "/blobs/sha256/" + layer.digest.hex
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x01  // one flipped bit
        try? FileManager.default.removeItem(atPath: path)
        try write(bytes, to: path)
        // Same size: loading still succeeds; reading must not.
        let (_, again) = try load(.ociLayout(path: made.layout, ref: "base"))
        #expect(again.root == graph.root)
        let expected = SourceError.blobDigestMismatch(source: "oci:\(made.layout):base", expected: layer.digest, actual: sha256(bytes))
        #expect(throws: expected) { _ = try drain(source.payload(for: layer)) }
        #expect(throws: expected) { _ = try drain(source.payload(for: layer), offset: Int64(bytes.count / 4)) }
        #expect(expected.description.contains("blob \(layer.digest) is corrupt"))

        // A blob of the wrong size is reported by loadGraph, with the size found.
        try? FileManager.default.removeItem(atPath: path)
        try write(Array(bytes.dropLast()), to: path)
        let error = sourceError { _ = try load(.ociLayout(path: made.layout, ref: "base")) }
        guard case .missingBlobs(_, let blobs)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(blobs.map(\.foundSize) == [layer.size - 1])
    }

    @Test func corruptedDockerArchiveLayerFailsItsDiffID() throws {
        let tmp = try TempDir()
        let file = tmp.sub("image.tar")
        try copyItem(testImages.imageOneArchive, file)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let member = testImages.imageOne.layerMember
        let region = try #require(try TarArchive.open(file).region(member))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[Int(region.start) + 100] ^= 0x20
        try write(bytes, to: file)
        let error = sourceError { _ = try load(.dockerArchive(path: file, ref: nil), cache: tmp.sub("cache")) }
        guard case .diffIDMismatch(_, let layer, let expected, _)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(layer == "\(file):\(member)")
        #expect(expected == testImages.imageOne.layers[0].diffID)
    }
    /// With `layerCompressed` set, each layer is handed out as soon as its compression ends, while
    /// the next ones are still to be compressed (`apply` starts its upload there, docs/run.md
    /// "Upload ahead"), with bytes that stream to its digest.
    @Test func eachLayerIsHandedOutAsItsCompressionEnds() throws {
        let tmp = try TempDir()
        let made = GeneratedDockerArchive(layerSizes: [1 << 18, 2 << 18, 3 << 18])
        let archive = tmp.sub("three.tar")
        try write(made.bytes, to: archive)

        let cacheDirectory = tmp.sub("cache")
        let handed = LockedValue<[(Descriptor, Int)]>([])
        var options = SourceOptions(cacheDirectory: cacheDirectory, parallelism: 2)
        options.layerCompressed = { layer, payload in
            // How many layers are compressed (in the cache) at this moment.
            let done =
                (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory + "/layers"))?
                .filter { $0.hasSuffix(".gz") }.count ?? 0
            #expect((try? Digest.of(readAll(payload))) == layer.digest)
            handed.withLock { $0.append((layer, done)) }
        }
        let (_, graph) = try load(.dockerArchive(path: archive, ref: nil), options: options)
        let seen = handed.withLock { $0 }
        #expect(seen.map(\.1) == [1, 2, 3], "each layer handed out before the next one is compressed")
        #expect(seen.map(\.0.digest) == Array(graph.blobs.dropFirst().map(\.digest)))

        // Loaded again, from the cache: nothing is compressed, so nothing is handed out.
        handed.withLock { $0 = [] }
        _ = try load(.dockerArchive(path: archive, ref: nil), options: options)
        #expect(handed.withLock { $0.isEmpty })
    }
}
