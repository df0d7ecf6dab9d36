import Foundation
import OCI

/// Small images with the edge cases other tools' images have, written by the tests themselves into
/// a temporary directory: `docker save` archives in their classic and Docker 25+ forms, invalid
/// archives, links inside an archive, whiteouts, OCI layouts with nested indexes and mismatching
/// media types, an incomplete layout.
///
/// Everything is deterministic (see `TarWriter`, `StoredGzip`): two runs, or two machines, write
/// the same bytes. The facts tests compare against (digests, sizes, member names) are computed
/// here from the bytes written, never read back through pushctl's code.
public final class TestImages: Sendable {
    /// The directory everything is written under; removed when the value goes away.
    public let directory: String

    // MARK: docker archives (`docker-archive:` sources)

    /// Classic `docker save` of image 1: one uncompressed layer, tagged `fixtures/tarball:test_image_1`.
    public let imageOneArchive: String
    /// Classic `docker save` of image 2, tagged `fixtures/tarball:test_image_2`.
    public let imageTwoArchive: String
    /// Two images in one archive, tagged `test_image_2` (listed first; it also has a `LayerSources`
    /// entry that is not foreign, which must be ignored) and `test_image_1`.
    public let bundleArchive: String
    /// `fixtures/tarball:test_image_1`, `:test_image_3` and `:test_image_4`: image 3's first layer
    /// file is a symbolic link to image 1's layer file, and image 4's only layer a hard link to it.
    public let linkArchive: String
    /// Three layers: two files, a whiteout of one of them, an empty layer.
    public let whiteoutArchive: String
    /// One layer holding one empty file, written the way an older docker did (directory entries,
    /// `repositories` last, no padding to a 10 KiB record), tagged `emptyimage:latest`.
    public let almostEmptyArchive: String
    /// A Docker 25+ save: `manifest.json` plus an OCI layout whose `index.json` says
    /// `"manifests": null`; `RepoTags` is null.
    public let docker25Archive: String
    /// Invalid: `manifest.json` is `null`.
    public let nullManifestArchive: String
    /// Invalid: classic members but no `manifest.json`.
    public let noManifestArchive: String

    // MARK: OCI layouts (`oci:` sources)

    /// One OCI image (manifest without `mediaType`), one gzip layer with a valid diffID, no ref name.
    public let oneImageLayout: String
    /// Refs `1` (Docker manifest of image 1; the entry says OCI manifest), `2` (Docker manifest of
    /// image 2; the entry says `application/vnd.oci.descriptor.v1+json`), `3` (an OCI index
    /// without `mediaType` over image 1) and `4` (the same, but the entry says Docker manifest list).
    public let nestedIndexLayout: String
    /// Incomplete: `index.json` names image 2's manifest, and there is no blob at all.
    public let missingBlobLayout: String

    // MARK: facts

    /// Image 1 as saved by docker: its config and its uncompressed layer, under `layerMember` in
    /// `imageOneArchive` (and in `bundleArchive`; the same config and layer, gzip, in `nestedIndexLayout`).
    public let imageOne: ArchiveImage
    public let imageTwo: ArchiveImage
    /// Image 3 of `linkArchive`: image 1's layer, then a layer of its own.
    public let imageThree: ArchiveImage
    public let docker25: ArchiveImage

    /// `oneImageLayout`'s manifest, config and gzip layer, and that layer's diffID.
    public let oneImage: LayoutImage
    /// The Docker manifests of images 1 and 2 in `nestedIndexLayout`, with their gzip layers.
    public let nestedImageOne: LayoutImage
    public let nestedImageTwo: LayoutImage
    /// The indexes tagged `3` and `4` in `nestedIndexLayout`.
    public let nestedIndexThree: Descriptor
    public let nestedIndexFour: Descriptor

    /// A layer and everything needed to place it: the bytes (as stored), their descriptor and the
    /// diffID (the digest of the uncompressed tar).
    public struct Layer: Sendable {
        public let bytes: [UInt8]
        public let descriptor: Descriptor
        public let diffID: Digest
    }

    public struct ArchiveImage: Sendable {
        public let config: Descriptor
        public let configBytes: [UInt8]
        /// Uncompressed layers as stored in the archive.
        public let layers: [Layer]
        /// The archive member of the first layer.
        public let layerMember: String
    }

    public struct LayoutImage: Sendable {
        public let manifest: Descriptor
        public let config: Descriptor
        public let layers: [Layer]
    }

    /// Writes every image into a new temporary directory.
    public init() throws {
        directory = try makeTemporaryDirectory("pushctl-test-images-\(UUID().uuidString)")
        imageOneArchive = directory + "/docker-archive/image-1.tar"
        imageTwoArchive = directory + "/docker-archive/image-2.tar"
        bundleArchive = directory + "/docker-archive/two-images.tar"
        linkArchive = directory + "/docker-archive/linked-layers.tar"
        whiteoutArchive = directory + "/docker-archive/whiteouts.tar"
        almostEmptyArchive = directory + "/docker-archive/almost-empty.tar"
        docker25Archive = directory + "/docker-archive/docker-v25.tar"
        nullManifestArchive = directory + "/docker-archive/null-manifest.tar"
        noManifestArchive = directory + "/docker-archive/no-manifest.tar"
        oneImageLayout = directory + "/oci-layout/one-image"
        nestedIndexLayout = directory + "/oci-layout/nested-index"
        missingBlobLayout = directory + "/oci-layout/missing-manifest"
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/docker-archive", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: directory + "/oci-layout", withIntermediateDirectories: true)

        // Layer contents. Files are read-only, as a build tool writes them.
        let layerOne = Self.uncompressedLayer(Self.tree([("foo", "foo\n"), ("bar", "bar\n")]))
        let layerTwo = Self.uncompressedLayer(Self.tree([("baz", "baz\n"), ("bat", "bat\n")]))
        var own = TarWriter()
        own.file("test", Array("three\n".utf8), mode: 0o640)
        let layerThree = Self.uncompressedLayer(own.bytes(recordSize: 512))

        // MARK: classic archives of images 1 and 2
        let configOne = Self.config(diffIDs: [layerOne.diffID])
        let configTwo = Self.config(diffIDs: [layerTwo.diffID])
        let idOne = Self.layerID(parent: nil, layerOne.diffID)
        let idTwo = Self.layerID(parent: nil, layerTwo.diffID)
        imageOne = ArchiveImage(
            config: Self.descriptor(configOne, MediaType.dockerConfig), configBytes: configOne,
            layers: [layerOne], layerMember: idOne + "/layer.tar")
        imageTwo = ArchiveImage(
            config: Self.descriptor(configTwo, MediaType.dockerConfig), configBytes: configTwo,
            layers: [layerTwo], layerMember: idTwo + "/layer.tar")
        for (image, id, tag, file) in [
            (imageOne, idOne, "test_image_1", imageOneArchive), (imageTwo, idTwo, "test_image_2", imageTwoArchive)
        ] {
            // docker's order: config, the layer directory, repositories, manifest.json.
            var tar = TarWriter()
            tar.file(image.config.digest.hex + ".json", image.configBytes)
            Self.addLayerDirectory(&tar, id: id, layer: image.layers[0].bytes)
            tar.file("repositories", Array(#"{"fixtures/tarball": {"\#(tag)": "\#(id)"}}"#.utf8))
            tar.file(
                "manifest.json",
                Array(
                    #"[{"Config": "\#(image.config.digest.hex).json", "Layers": ["\#(id)/layer.tar"], "RepoTags": ["fixtures/tarball:\#(tag)"]}]"#
                        .utf8))
            try Self.write(tar.bytes(), to: file)
        }

        // MARK: both in one archive; image 2 first, with a LayerSources entry that is not foreign
        var bundle = TarWriter()
        bundle.file(imageTwo.config.digest.hex + ".json", imageTwo.configBytes)
        bundle.file(imageOne.config.digest.hex + ".json", imageOne.configBytes)
        Self.addLayerDirectory(&bundle, id: idTwo, layer: layerTwo.bytes)
        Self.addLayerDirectory(&bundle, id: idOne, layer: layerOne.bytes)
        bundle.file("repositories", Array(#"{"test_image_1": {"latest": "\#(idOne)"}, "test_image_2": {"latest": "\#(idTwo)"}}"#.utf8))
        let gzipTwo = StoredGzip.compress(layerTwo.bytes)
        bundle.file(
            "manifest.json",
            Array(
                ("[{\"Config\": \"\(imageTwo.config.digest.hex).json\", \"Layers\": [\"\(idTwo)/layer.tar\"], "
                    + "\"LayerSources\": {\"\(layerTwo.diffID)\": {\"mediaType\": \"\(MediaType.dockerLayerGzip)\", \"size\": \(gzipTwo.count), \"digest\": \"\(Digest.of(gzipTwo))\"}}, "
                    + "\"RepoTags\": [\"test_image_2\"]}, "
                    + "{\"Config\": \"\(imageOne.config.digest.hex).json\", \"Layers\": [\"\(idOne)/layer.tar\"], \"RepoTags\": [\"test_image_1\"]}]")
                    .utf8))
        try Self.write(bundle.bytes(), to: bundleArchive)

        // MARK: links: image 3 reuses image 1's layer file through a symlink, image 4 through a hard link
        let configThree = Self.config(diffIDs: [layerOne.diffID, layerThree.diffID], parent: imageOne.config.digest)
        let linkedID = Self.layerID(parent: nil, layerOne.diffID)  // image 1's layer, as image 1 has it
        let threeFirstID = Self.layerID(parent: "image 3", layerOne.diffID)
        let threeSecondID = Self.layerID(parent: threeFirstID, layerThree.diffID)
        let configFour = Self.config(diffIDs: [layerOne.diffID], architecture: "arm64")
        let fourID = Self.layerID(parent: "image 4", layerOne.diffID)
        imageThree = ArchiveImage(
            config: Self.descriptor(configThree, MediaType.dockerConfig), configBytes: configThree,
            layers: [layerOne, layerThree], layerMember: threeFirstID + "/layer.tar")
        let configFourDigest = Digest.of(configFour)
        var link = TarWriter()
        link.file(imageOne.config.digest.hex + ".json", imageOne.configBytes)
        Self.addLayerDirectory(&link, id: linkedID, layer: layerOne.bytes, directoryEntry: true)
        link.directory(threeFirstID + "/")
        link.file(threeFirstID + "/VERSION", Array("1.0".utf8))
        link.file(threeFirstID + "/json", Array(#"{"id":"\#(threeFirstID)"}"#.utf8))
        link.symbolicLink(threeFirstID + "/layer.tar", to: "../\(linkedID)/layer.tar")
        Self.addLayerDirectory(&link, id: threeSecondID, layer: layerThree.bytes, directoryEntry: true)
        link.file(imageThree.config.digest.hex + ".json", configThree)
        link.directory(fourID + "/")
        link.hardLink(fourID + "/layer.tar", to: linkedID + "/layer.tar")
        link.file(configFourDigest.hex + ".json", configFour)
        link.file(
            "manifest.json",
            Array(
                ("[{\"Config\":\"\(imageOne.config.digest.hex).json\",\"RepoTags\":[\"fixtures/tarball:test_image_1\"],\"Layers\":[\"\(linkedID)/layer.tar\"]},"
                    + "{\"Config\":\"\(imageThree.config.digest.hex).json\",\"RepoTags\":[\"fixtures/tarball:test_image_3\"],\"Layers\":[\"\(threeFirstID)/layer.tar\",\"\(threeSecondID)/layer.tar\"],\"Parent\":\"\(imageOne.config.digest)\"},"
                    + "{\"Config\":\"\(configFourDigest.hex).json\",\"RepoTags\":[\"fixtures/tarball:test_image_4\"],\"Layers\":[\"\(fourID)/layer.tar\"]}]")
                    .utf8))
        link.file(
            "repositories",
            Array(
                #"{"fixtures/tarball":{"test_image_1":"\#(linkedID)","test_image_3":"\#(threeSecondID)","test_image_4":"\#(fourID)"}}"#.utf8
            ))
        try Self.write(link.bytes(), to: linkArchive)

        // MARK: whiteouts: foo.txt and bar.txt, then foo.txt deleted, then an empty layer
        let whiteoutLayers = [
            Self.uncompressedLayer(Self.tree([("foo.txt", "foo\n"), ("bar.txt", "bar\n")])),
            Self.uncompressedLayer(Self.tree([(".wh.foo.txt", "")])),
            Self.uncompressedLayer(TarWriter().bytes())
        ]
        let whiteoutConfig = Self.config(diffIDs: whiteoutLayers.map(\.diffID))
        var whiteout = TarWriter()
        whiteout.file(Digest.of(whiteoutConfig).hex + ".json", whiteoutConfig)
        var parent: String?
        var whiteoutIDs: [String] = []
        for layer in whiteoutLayers {
            let id = Self.layerID(parent: parent, layer.diffID)
            Self.addLayerDirectory(&whiteout, id: id, layer: layer.bytes)
            whiteoutIDs.append(id)
            parent = id
        }
        whiteout.file("repositories", Array(#"{"fixtures/mutate": {"whiteout_image": "\#(whiteoutIDs.last!)"}}"#.utf8))
        whiteout.file(
            "manifest.json",
            Array(
                #"[{"Config": "\#(Digest.of(whiteoutConfig).hex).json", "Layers": [\#(whiteoutIDs.map { "\"\($0)/layer.tar\"" }.joined(separator: ", "))], "RepoTags": ["fixtures/mutate:whiteout_image"]}]"#
                    .utf8))
        try Self.write(whiteout.bytes(), to: whiteoutArchive)

        // MARK: almost empty, from an older writer
        var emptyFile = TarWriter()
        emptyFile.file("emptyfile", [], mode: 0o664)
        let emptyLayer = Self.uncompressedLayer(emptyFile.bytes(recordSize: 512))
        let emptyConfig = Array(
            ("{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":null},"
                + "\"created\":\"2017-02-07T19:02:14Z\",\"docker_version\":\"1.10.3\",\"history\":[{\"created\":\"2017-02-07T19:02:14Z\",\"created_by\":\"ADD emptyfile /\"}],"
                + "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(emptyLayer.diffID)\"]}}").utf8)
        let emptyID = Self.layerID(parent: nil, emptyLayer.diffID)
        var almostEmpty = TarWriter()
        almostEmpty.file(Digest.of(emptyConfig).hex + ".json", emptyConfig)
        Self.addLayerDirectory(&almostEmpty, id: emptyID, layer: emptyLayer.bytes, directoryEntry: true)
        almostEmpty.file(
            "manifest.json",
            Array(
                #"[{"Config":"\#(Digest.of(emptyConfig).hex).json","RepoTags":["emptyimage:latest"],"Layers":["\#(emptyID)/layer.tar"]}]"#
                    .utf8))
        almostEmpty.file("repositories", Array(#"{"emptyimage":{"latest":"\#(emptyID)"}}"#.utf8))
        try Self.write(almostEmpty.bytes(recordSize: 512), to: almostEmptyArchive)

        // MARK: Docker 25+: an OCI layout inside, index.json without manifests
        var hello = TarWriter()
        hello.file("hello", (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }, mode: 0o755)
        let helloLayer = Self.uncompressedLayer(hello.bytes(), mediaType: MediaType.ociLayer)
        let helloConfig = Self.config(diffIDs: [helloLayer.diffID], architecture: "arm64")
        let helloConfigDescriptor = Self.descriptor(helloConfig, MediaType.ociConfig)
        let helloManifest = Array(
            #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociManifest)","config":\#(Self.json(helloConfigDescriptor)),"layers":[\#(Self.json(helloLayer.descriptor))]}"#
                .utf8)
        docker25 = ArchiveImage(
            config: helloConfigDescriptor, configBytes: helloConfig, layers: [helloLayer],
            layerMember: "blobs/sha256/" + helloLayer.diffID.hex)
        var v25 = TarWriter()
        v25.directory("blobs/")
        v25.directory("blobs/sha256/")
        v25.file("blobs/sha256/" + helloLayer.diffID.hex, helloLayer.bytes)
        v25.file("blobs/sha256/" + Digest.of(helloManifest).hex, helloManifest)
        v25.file("blobs/sha256/" + helloConfigDescriptor.digest.hex, helloConfig)
        v25.file("index.json", Array(#"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":null}"#.utf8))
        v25.file(
            "manifest.json",
            Array(
                #"[{"Config":"blobs/sha256/\#(helloConfigDescriptor.digest.hex)","RepoTags":null,"Layers":["blobs/sha256/\#(helloLayer.diffID.hex)"],"LayerSources":{"\#(helloLayer.diffID)":\#(Self.json(helloLayer.descriptor))}}]"#
                    .utf8))
        v25.file("oci-layout", Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8))
        try Self.write(v25.bytes(), to: docker25Archive)

        // MARK: invalid archives
        var null = TarWriter()
        null.file("manifest.json", Array("null".utf8))
        try Self.write(null.bytes(recordSize: 512), to: nullManifestArchive)
        var noManifest = TarWriter()
        noManifest.file(imageOne.config.digest.hex + ".json", imageOne.configBytes)
        Self.addLayerDirectory(&noManifest, id: idOne, layer: layerOne.bytes)
        noManifest.file("repositories", Array(#"{"fixtures/tarball": {"test_image": "\#(idOne)"}}"#.utf8))
        try Self.write(noManifest.bytes(), to: noManifestArchive)

        // MARK: OCI layout with one image
        var testFile = TarWriter()
        testFile.file("test", Array("test\n".utf8))
        let oneLayerTar = testFile.bytes(recordSize: 512)
        let oneLayer = Self.gzipLayer(oneLayerTar, mediaType: MediaType.ociLayerGzip)
        let oneConfig = Array(
            ("{\"created\":\"2020-04-12T10:58:48Z\",\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/bin:/bin\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(oneLayer.diffID)\"]},\"history\":[{\"created\":\"2020-04-12T10:58:48Z\",\"created_by\":\"COPY test /\"}]}")
                .utf8)
        let oneConfigDescriptor = Self.descriptor(oneConfig, MediaType.ociConfig)
        let oneManifest = Array(
            #"{"schemaVersion":2,"config":\#(Self.json(oneConfigDescriptor)),"layers":[\#(Self.json(oneLayer.descriptor))]}"#.utf8)
        let oneManifestDescriptor = Self.descriptor(oneManifest, MediaType.ociManifest)
        oneImage = LayoutImage(manifest: oneManifestDescriptor, config: oneConfigDescriptor, layers: [oneLayer])
        try Self.writeLayout(
            oneImageLayout, blobs: [oneConfig, oneLayer.bytes, oneManifest],
            index: #"{"schemaVersion":2,"manifests":[\#(Self.json(oneManifestDescriptor))]}"#)

        // MARK: OCI layout with nested indexes and entries whose media types do not match their documents
        var nestedBlobs: [[UInt8]] = []
        func dockerImage(_ layer: Layer) -> LayoutImage {
            let gz = Self.gzipLayer(layer.bytes, mediaType: MediaType.dockerLayerGzip)
            let config = Self.config(diffIDs: [gz.diffID])
            let configDescriptor = Self.descriptor(config, MediaType.dockerConfig)
            let manifest = Array(
                #"{"schemaVersion":2,"mediaType":"\#(MediaType.dockerManifest)","config":\#(Self.json(configDescriptor)),"layers":[\#(Self.json(gz.descriptor))]}"#
                    .utf8)
            nestedBlobs += [config, gz.bytes, manifest]
            return LayoutImage(manifest: Self.descriptor(manifest, MediaType.dockerManifest), config: configDescriptor, layers: [gz])
        }
        nestedImageOne = dockerImage(layerOne)
        nestedImageTwo = dockerImage(layerTwo)
        func index(over manifest: Descriptor, entryMediaType: String, refName: String) -> Descriptor {
            var entry = manifest
            entry.mediaType = entryMediaType
            // No `mediaType` in the document: an OCI index, whatever the entry pointing here says.
            let document = Array("{\"schemaVersion\":2,\"manifests\":[\(Self.json(entry, refName: refName))]}".utf8)
            nestedBlobs.append(document)
            return Self.descriptor(document, MediaType.ociIndex)
        }
        nestedIndexThree = index(over: nestedImageOne.manifest, entryMediaType: MediaType.ociManifest, refName: "1")
        nestedIndexFour = index(over: nestedImageOne.manifest, entryMediaType: MediaType.ociManifest, refName: "4")
        func entry(_ d: Descriptor, says mediaType: String, _ ref: String) -> String {
            var said = d
            said.mediaType = mediaType
            return Self.json(said, refName: ref)
        }
        let nestedEntries = [
            entry(nestedImageOne.manifest, says: MediaType.ociManifest, "1"),
            entry(nestedImageTwo.manifest, says: "application/vnd.oci.descriptor.v1+json", "2"),
            entry(nestedIndexThree, says: MediaType.ociIndex, "3"),
            entry(nestedIndexFour, says: MediaType.dockerManifestList, "4")
        ]
        try Self.writeLayout(
            nestedIndexLayout, blobs: nestedBlobs,
            index: "{\"schemaVersion\":2,\"manifests\":[\(nestedEntries.joined(separator: ","))]}")

        // MARK: incomplete layout
        try Self.writeLayout(
            missingBlobLayout, blobs: [],
            index:
                "{\"schemaVersion\":2,\"manifests\":[\(entry(nestedImageTwo.manifest, says: "application/vnd.oci.descriptor.v1+json", "2"))]}"
        )
        try? FileManager.default.removeItem(atPath: missingBlobLayout + "/blobs")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// One set per test process, written on first use and removed when the process exits. The
    /// files are shared by every test: copy one before changing it.
    public static let shared: TestImages = {
        do {
            let images = try TestImages()
            atexit { try? FileManager.default.removeItem(atPath: TestImages.shared.directory) }
            return images
        } catch {
            fatalError("writing the test images failed: \(error)")
        }
    }()

    // MARK: building blocks

    /// A layer tar of read-only files under `./`, as build tools write them.
    static func tree(_ files: [(String, String)]) -> [UInt8] {
        var tar = TarWriter()
        tar.directory("./")
        for (name, contents) in files { tar.file("./" + name, Array(contents.utf8), mode: 0o555) }
        return tar.bytes()
    }

    static func uncompressedLayer(_ tar: [UInt8], mediaType: String = MediaType.ociLayer) -> Layer {
        let digest = Digest.of(tar)
        return Layer(bytes: tar, descriptor: Descriptor(mediaType: mediaType, digest: digest, size: Int64(tar.count)), diffID: digest)
    }

    static func gzipLayer(_ tar: [UInt8], mediaType: String) -> Layer {
        let gz = StoredGzip.compress(tar)
        return Layer(bytes: gz, descriptor: descriptor(gz, mediaType), diffID: Digest.of(tar))
    }

    static func descriptor(_ bytes: [UInt8], _ mediaType: String) -> Descriptor {
        Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: Int64(bytes.count))
    }

    /// A minimal image config: the fields every reader needs, and a history line per layer.
    static func config(diffIDs: [Digest], architecture: String = "amd64", parent: Digest? = nil) -> [UInt8] {
        let ids = diffIDs.map { "\"\($0)\"" }.joined(separator: ", ")
        let history = diffIDs.map { _ in #"{"created": "1970-01-01T00:00:00Z", "created_by": "pushctl TestImages"}"# }.joined(
            separator: ", ")
        let image = parent.map { #", "parent": "\#($0)""# } ?? ""
        return Array(
            #"{"architecture": "\#(architecture)", "config": {}, "created": "1970-01-01T00:00:00Z", "history": [\#(history)], "os": "linux"\#(image), "rootfs": {"diff_ids": [\#(ids)], "type": "layers"}}"#
                .utf8)
    }

    /// A legacy layer ID, as `docker save` names layer directories: unique per position in the chain.
    static func layerID(parent: String?, _ diffID: Digest) -> String {
        Digest.of(Array("\(parent ?? "") \(diffID)".utf8)).hex
    }

    /// `ID/VERSION`, `ID/layer.tar`, `ID/json`, as classic `docker save` writes a layer.
    static func addLayerDirectory(_ tar: inout TarWriter, id: String, layer: [UInt8], directoryEntry: Bool = false) {
        if directoryEntry { tar.directory(id + "/") }
        tar.file(id + "/VERSION", Array("1.0".utf8))
        tar.file(id + "/layer.tar", layer)
        tar.file(id + "/json", Array(#"{"id":"\#(id)"}"#.utf8))
    }

    static func json(_ d: Descriptor, refName: String? = nil) -> String { descriptorJSON(d, refName: refName) }

    /// A layout of `blobs` whose `index.json` is `index`, exactly as given.
    static func writeLayout(_ path: String, blobs: [[UInt8]], index: String) throws {
        let layout = try LayoutWriter(path: path)
        for blob in blobs { try layout.addBlob(blob, mediaType: MediaType.ociLayer) }
        try layout.writeIndex(exactly: Array(index.utf8))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
