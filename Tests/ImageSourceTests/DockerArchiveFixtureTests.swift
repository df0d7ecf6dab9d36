import Foundation
import Testing
import OCI
@testable import ImageSource

/// The docker-save archives of `TestImages`. skopeo generates its own manifest for docker archives with the
/// *uncompressed* layers (it pushes them as they are), while pushctl pushes gzip layers, so the
/// compressed layer digests legitimately differ. What must agree: the config (digest and bytes)
/// and the diffIDs, i.e. `skopeo inspect --config`'s rootfs.diff_ids and skopeo's layer digests
/// equal, in order, the diffIDs pushctl records for its compressed layers; and the gzip layers
/// pushctl produces decompress (with gzip(1)) to exactly those diffIDs.
@Suite struct DockerArchiveFixtureTests {
    struct ConfigDoc: Decodable {
        struct RootFS: Decodable { var diff_ids: [String] }
        var rootfs: RootFS
    }

    @discardableResult
    func compareWithSkopeo(_ file: String, ref: String?, skopeoRef: String? = nil, cache: String) throws -> ImageGraph {
        let (source, graph) = try load(.dockerArchive(path: file, ref: ref), cache: cache)
        let skopeoName = "docker-archive:\(file)" + ((skopeoRef ?? ref).map { ":\($0)" } ?? "")
        let raw = try decodeManifest(mustRun("skopeo", ["inspect", "--raw", skopeoName]).stdout)
        let configJSON = try mustRun("skopeo", ["inspect", "--config", "--raw", skopeoName]).stdout
        let diffIDs = try JSONDecoder().decode(ConfigDoc.self, from: Data(configJSON)).rootfs.diff_ids

        let manifestBytes = try #require(graph.manifestBytes(graph.root.digest))
        #expect(sha256(manifestBytes) == graph.root.digest)
        #expect(graph.root.mediaType == MediaType.dockerManifest)
        let ours = try decodeManifest(manifestBytes)
        #expect(ours.mediaType == MediaType.dockerManifest)
        #expect(ours.config?.digest == raw.config?.digest)
        #expect(ours.config?.digest == sha256(configJSON).string)
        #expect(ours.config?.mediaType == MediaType.dockerConfig)
        let layers = ours.layers ?? []
        #expect(layers.count == diffIDs.count)
        // skopeo's layer digests are the uncompressed layers: the diffIDs.
        #expect((raw.layers ?? []).map(\.digest) == diffIDs)
        for (layer, diffID) in zip(layers, diffIDs) {
            #expect(layer.mediaType == MediaType.dockerLayerGzip)
            let digest = try Digest(parsing: layer.digest)
            #expect(graph.diffIDs[digest]?.string == diffID)
        }
        // Every blob streams and verifies; configs come out byte for byte.
        for blob in graph.blobs {
            let bytes = try readAll(source.payload(for: blob))
            #expect(Int64(bytes.count) == blob.size)
            #expect(sha256(bytes) == blob.digest)
            if blob.mediaType == MediaType.dockerConfig { #expect(bytes == configJSON) }
        }
        // The gzip layers decompress with gzip(1) to their diffIDs.
        let tmp = try TempDir()
        for layer in graph.blobs where layer.mediaType == MediaType.dockerLayerGzip {
            let gz = tmp.sub(layer.digest.hex + ".gz")
            try write(readAll(source.payload(for: layer)), to: gz)
            let plain = try mustRun("gzip", ["-dc", gz]).stdout
            #expect(sha256(plain) == graph.diffIDs[layer.digest])
        }
        // The root manifest streams too.
        #expect(try readAll(source.payload(for: graph.root)) == manifestBytes)
        return graph
    }

    @Test func classicArchives() throws {
        let cache = try TempDir()
        let one = try compareWithSkopeo(testImages.imageOneArchive, ref: nil, cache: cache.path)
        #expect(one.sourceTags == ["test_image_1"])
        #expect(one.blobs.first == testImages.imageOne.config)
        #expect(one.diffIDs.values.sorted() == [testImages.imageOne.layers[0].diffID])
        try compareWithSkopeo(testImages.imageTwoArchive, ref: nil, cache: cache.path)
        let whiteout = try compareWithSkopeo(testImages.whiteoutArchive, ref: nil, cache: cache.path)
        #expect(whiteout.blobs.count == 1 + 3)
        let empty = try compareWithSkopeo(testImages.almostEmptyArchive, ref: nil, cache: cache.path)
        #expect(empty.sourceTags == ["latest"])
    }

    @Test func dockerV25ArchiveTrustsManifestJSON() throws {
        let cache = try TempDir()
        let graph = try compareWithSkopeo(testImages.docker25Archive, ref: nil, cache: cache.path)
        #expect(graph.sourceTags.isEmpty)  // RepoTags is null
        #expect(graph.blobs.first?.digest == testImages.docker25.config.digest)
        #expect(graph.diffIDs.values.sorted() == [testImages.docker25.layers[0].diffID])
    }

    @Test func bundleNeedsRefAndPicksByRepoTag() throws {
        let cache = try TempDir()
        let file = testImages.bundleArchive
        let two = try compareWithSkopeo(file, ref: "test_image_2", skopeoRef: "@0", cache: cache.path)
        #expect(two.sourceTags == ["latest"])  // a RepoTag without a tag means latest, as in docker
        let one = try compareWithSkopeo(file, ref: "test_image_1", skopeoRef: "@1", cache: cache.path)
        #expect(one.blobs[0].digest == testImages.imageOne.config.digest)
        #expect(two.blobs[0].digest == testImages.imageTwo.config.digest)
        // docker's normalisation: test_image_1 = docker.io/library/test_image_1:latest
        let (_, normalized) = try load(.dockerArchive(path: file, ref: "docker.io/library/test_image_1:latest"), cache: cache.path)
        #expect(normalized.root == one.root)
        // By image ID (config digest).
        let (_, byID) = try load(.dockerArchive(path: file, ref: "@\(testImages.imageTwo.config.digest)"), cache: cache.path)
        #expect(byID.root == two.root)

        let several = sourceError { _ = try load(.dockerArchive(path: file, ref: nil), cache: cache.path) }
        #expect(several == .severalImages(source: "docker-archive:\(file)", available: ["test_image_2", "test_image_1"]))
        let unknown = sourceError { _ = try load(.dockerArchive(path: file, ref: "test_image_3"), cache: cache.path) }
        #expect(
            unknown
                == .unknownRef(
                    source: "docker-archive:\(file):test_image_3", ref: "test_image_3", available: ["test_image_2", "test_image_1"]))
    }

    @Test func sharedLayerThroughSymlinkAndHardLink() throws {
        let cache = try TempDir()
        let file = testImages.linkArchive
        let first = try compareWithSkopeo(file, ref: "fixtures/tarball:test_image_1", cache: cache.path)
        let third = try compareWithSkopeo(file, ref: "fixtures/tarball:test_image_3", cache: cache.path)
        #expect(third.sourceTags == ["test_image_3"])
        #expect(third.blobs.first == testImages.imageThree.config)
        // image 3's first layer is a symlink to image 1's layer: same compressed blob.
        let firstLayer = try #require(first.blobs.last)
        #expect(first.diffIDs[firstLayer.digest] == testImages.imageOne.layers[0].diffID)
        #expect(third.blobs.contains(firstLayer))
        #expect(third.blobs.count == 3)
        // image 4's only layer is a hard link to it: the same blob again.
        let fourth = try compareWithSkopeo(file, ref: "fixtures/tarball:test_image_4", cache: cache.path)
        #expect(fourth.blobs.last == firstLayer)
    }

    @Test func invalidArchivesFailClearly() throws {
        let cache = try TempDir()
        let null = testImages.nullManifestArchive
        let nullError = sourceError { _ = try load(.dockerArchive(path: null, ref: nil), cache: cache.path) }
        #expect(
            nullError
                == .invalidDocument(
                    source: "docker-archive:\(null)", file: "manifest.json",
                    reason: "it is null, so the archive holds no image"))
        let none = testImages.noManifestArchive
        let noneError = sourceError { _ = try load(.dockerArchive(path: none, ref: nil), cache: cache.path) }
        #expect(noneError == .missingArchiveMembers(archive: none, members: ["manifest.json"], hint: "not a docker save archive"))
        #expect(noneError?.description == "\(none): the archive has no manifest.json (not a docker save archive)")
    }

    @Test func secondLoadUsesTheCacheAndIsDeterministic() throws {
        let cacheA = try TempDir(), cacheB = try TempDir()
        let file = testImages.whiteoutArchive
        let (_, first) = try load(.dockerArchive(path: file, ref: nil), cache: cacheA.path)
        let cached = try FileManager.default.contentsOfDirectory(atPath: cacheA.sub("layers")).sorted()
        #expect(cached.filter { $0.hasSuffix(".gz") }.count == 3)
        let stamps = try cached.map {
            try FileManager.default.attributesOfItem(atPath: cacheA.sub("layers/\($0)"))[.modificationDate] as? Date
        }
        // Same cache: nothing is written again.
        let (_, second) = try load(.dockerArchive(path: file, ref: nil), cache: cacheA.path)
        #expect(second.root == first.root)
        let stampsAfter = try cached.map {
            try FileManager.default.attributesOfItem(atPath: cacheA.sub("layers/\($0)"))[.modificationDate] as? Date
        }
        #expect(stamps == stampsAfter)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cacheA.sub("layers")).sorted() == cached)
        // Another cache: compressed again, same digests (deterministic gzip).
        let (_, other) = try load(.dockerArchive(path: file, ref: nil), cache: cacheB.path)
        #expect(other.root == first.root)
        #expect(other.blobs == first.blobs)
        // Another level: other bytes, other cache entries.
        var options = SourceOptions(cacheDirectory: cacheB.path)
        options.gzipLevel = 1
        let (_, fast) = try load(.dockerArchive(path: file, ref: nil), options: options)
        #expect(fast.blobs[0] == first.blobs[0])  // the config is as-is
        #expect(Set(fast.diffIDs.values) == Set(first.diffIDs.values))
    }

    @Test func knownCompressionSkipsCompressingUntilOpened() throws {
        let warm = try TempDir(), cold = try TempDir()
        let file = testImages.imageOneArchive
        let (_, reference) = try load(.dockerArchive(path: file, ref: nil), cache: warm.path)
        let layer = try #require(reference.blobs.last)
        let diffID = try #require(reference.diffIDs[layer.digest])
        var options = SourceOptions(cacheDirectory: cold.path)
        options.knownCompression = { $0 == diffID ? layer : nil }
        let (source, graph) = try load(.dockerArchive(path: file, ref: nil), options: options)
        #expect(graph.root == reference.root)
        #expect(!FileManager.default.fileExists(atPath: cold.sub("layers")))  // nothing compressed yet
        let bytes = try readAll(source.payload(for: layer))
        #expect(sha256(bytes) == layer.digest)
        #expect(FileManager.default.fileExists(atPath: cold.sub("layers")))

        // A remembered digest that this machine's compression does not reproduce fails when opened.
        let other = try TempDir()
        let bogus = Descriptor(mediaType: MediaType.dockerLayerGzip, digest: Digest.of(Array("other".utf8)), size: layer.size)
        options = SourceOptions(cacheDirectory: other.path)
        options.knownCompression = { $0 == diffID ? bogus : nil }
        let (badSource, badGraph) = try load(.dockerArchive(path: file, ref: nil), options: options)
        #expect(badGraph.blobs.last == bogus)
        do {
            _ = try readAll(badSource.payload(for: bogus))
            Issue.record("opening a layer that compresses differently must fail")
        } catch let error as SourceError {
            #expect(
                error
                    == .knownCompressionMismatch(
                        source: "docker-archive:\(file)", diffID: diffID, known: bogus.digest, produced: layer.digest))
        }
    }

    @Test func unknownBlobIsRefused() throws {
        let cache = try TempDir()
        let (source, _) = try load(.dockerArchive(path: testImages.imageOneArchive, ref: nil), cache: cache.path)
        let stranger = Descriptor(mediaType: MediaType.dockerLayerGzip, digest: Digest.of([1, 2, 3]), size: 3)
        #expect(throws: SourceError.unknownBlob(source: source.description, digest: stranger.digest)) {
            _ = try source.payload(for: stranger).open(0)
        }
    }
}

/// Archives written here, member by member, to reach cases `TestImages` does not have.
@Suite struct DockerArchiveMadeTests {
    /// Writes a docker-save style archive from `files` with GNU tar.
    func makeArchive(_ files: [String: [UInt8]], in tmp: TempDir) throws -> String {
        try gnuTar(files, in: tmp, root: "content", name: "image.tar")
    }

    /// One image `a:b` whose config claims a diffID (`claimed`) that `layer` does not have.
    func archiveClaimingAnotherDiffID(for layer: [UInt8], in tmp: TempDir) throws -> (file: String, claimed: Digest) {
        let claimed = Digest.of(Array("not this layer".utf8))
        let config = Array("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(claimed)\"]}}".utf8)
        let file = try makeArchive(
            [
                "manifest.json": Array(#"[{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]"#.utf8),
                "c.json": config, "l/layer.tar": layer
            ], in: tmp)
        return (file, claimed)
    }

    @Test func foreignAndGzipLayers() throws {
        let tmp = try TempDir()
        let gzipLayer = testImages.oneImage.layers[0]
        let plain = gzipLayer.bytes
        let gzipDiffID = gzipLayer.diffID
        let foreignDiffID = Digest.of(Array("foreign".utf8))
        let foreign = Descriptor(
            mediaType: MediaType.dockerForeignLayerGzip, digest: Digest.of(Array("foreign.gz".utf8)), size: 10,
            urls: ["https://example.com/layer"])
        let config = Array("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(foreignDiffID)\",\"\(gzipDiffID)\"]}}".utf8)
        let manifest =
            "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:y\"],\"Layers\":[\"f/layer.tar\",\"g/layer.tar\"],"
            + "\"LayerSources\":{\"\(foreignDiffID)\":{\"mediaType\":\"\(foreign.mediaType)\",\"digest\":\"\(foreign.digest)\",\"size\":10,\"urls\":[\"https://example.com/layer\"]}}}]"
        // The foreign layer's file is absent, as docker save leaves it out.
        let file = try makeArchive(["manifest.json": Array(manifest.utf8), "c.json": config, "g/layer.tar": plain], in: tmp)
        let (source, graph) = try load(.dockerArchive(path: file, ref: nil), cache: tmp.sub("cache"))
        let ours = try decodeManifest(#require(graph.manifestBytes(graph.root.digest)))
        #expect(ours.layers?.map(\.digest) == [foreign.digest.string, gzipLayer.descriptor.digest.string])
        #expect(ours.layers?.first?.urls == ["https://example.com/layer"])
        #expect(ours.layers?.first?.mediaType == MediaType.dockerForeignLayerGzip)
        // The foreign layer is never a blob to push; the gzip layer passes through unchanged.
        #expect(graph.blobs.map(\.digest) == [sha256(config), gzipLayer.descriptor.digest])
        #expect(try readAll(source.payload(for: graph.blobs[1])) == plain)
        #expect(graph.diffIDs[graph.blobs[1].digest] == gzipDiffID)
    }

    @Test func invalidManifestJSONAndMissingFiles() throws {
        let tmp = try TempDir()
        let broken = try makeArchive(["manifest.json": Array("[{\"Config\": 3}]".utf8)], in: tmp)
        let error = sourceError { _ = try load(.dockerArchive(path: broken, ref: nil), cache: tmp.sub("cache")) }
        guard case .invalidJSON(_, let file, let detail)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(file == "manifest.json")
        #expect(detail == "expected String at [0].Config: Expected to decode String but found number instead.")

        let tmp2 = try TempDir()
        let missing = try makeArchive(
            ["manifest.json": Array(#"[{"Config":"c.json","RepoTags":null,"Layers":["a/layer.tar","b/layer.tar"]}]"#.utf8)], in: tmp2)
        #expect(
            sourceError { _ = try load(.dockerArchive(path: missing, ref: nil), cache: tmp2.sub("cache")) }
                == .missingArchiveMembers(
                    archive: missing, members: ["c.json", "a/layer.tar", "b/layer.tar"], hint: "manifest.json names them"))
    }
}

extension DockerArchiveMadeTests {
    @Test func untaggedImagesAreOfferedByID() throws {
        let tmp = try TempDir()
        let one = Array(#"{"rootfs":{"type":"layers","diff_ids":[]},"n":1}"#.utf8)
        let two = Array(#"{"rootfs":{"type":"layers","diff_ids":[]},"n":2}"#.utf8)
        let manifest = #"[{"Config":"1.json","RepoTags":null,"Layers":[]},{"Config":"2.json","RepoTags":["t:2"],"Layers":[]}]"#
        let file = try makeArchive(["manifest.json": Array(manifest.utf8), "1.json": one, "2.json": two], in: tmp)
        let error = sourceError { _ = try load(.dockerArchive(path: file, ref: nil), cache: tmp.sub("cache")) }
        #expect(error == .severalImages(source: "docker-archive:\(file)", available: ["@\(sha256(one))", "t:2"]))
        // The offered REF works.
        let (_, graph) = try load(.dockerArchive(path: file, ref: "@\(sha256(one))"), cache: tmp.sub("cache"))
        #expect(graph.blobs.map(\.digest) == [sha256(one)])
        #expect(graph.sourceTags.isEmpty)
    }
}

extension DockerArchiveMadeTests {
    /// A gzip layer passes through only when it really decompresses to the config's diffID.
    @Test func gzipLayerWithWrongDiffIDIsRefused() throws {
        let tmp = try TempDir()
        let gz = testImages.oneImage.layers[0].bytes
        let (file, claimed) = try archiveClaimingAnotherDiffID(for: gz, in: tmp)
        let error = sourceError { _ = try load(.dockerArchive(path: file, ref: nil), cache: tmp.sub("cache")) }
        #expect(
            error
                == .diffIDMismatch(
                    source: "docker-archive:\(file)", layer: "\(file):l/layer.tar", expected: claimed,
                    actual: testImages.oneImage.layers[0].diffID))
    }
}
