import Foundation
import Testing
import OCI
@testable import ImageSource

/// The OCI layouts of `TestImages`, compared with what skopeo reads from the same files.
@Suite struct OCILayoutFixtureTests {
    /// Root digest and exact bytes equal `skopeo inspect --raw`; the blobs equal the manifest's.
    func compareWithSkopeo(layout: String, ref: String?) throws -> ImageGraph {
        let (_, graph) = try load(.ociLayout(path: layout, ref: ref))
        let raw = try mustRun("skopeo", ["inspect", "--raw", "oci:\(layout)" + (ref.map { ":\($0)" } ?? "")]).stdout
        #expect(graph.root.digest == sha256(raw))
        #expect(graph.manifestBytes(graph.root.digest) == raw)
        #expect(graph.manifestsChildrenFirst.last == graph.root)
        let manifest = try decodeManifest(raw)
        if let config = manifest.config {
            let expected = [config.digest] + (manifest.layers ?? []).map(\.digest)
            #expect(graph.blobs.map(\.digest.string) == expected)
        } else {
            let children = (manifest.manifests ?? []).map(\.digest)
            #expect(graph.manifestsChildrenFirst.dropLast().map(\.digest.string) == children)
        }
        try compareWithSkopeoCopy(graph, name: "oci:\(layout)" + (ref.map { ":\($0)" } ?? ""))
        return graph
    }

    @Test func oneImageLayoutWithoutRef() throws {
        let image = testImages.oneImage
        let graph = try compareWithSkopeo(layout: testImages.oneImageLayout, ref: nil)
        #expect(graph.root == image.manifest)
        #expect(graph.root.mediaType == MediaType.ociManifest)
        #expect(graph.sourceTags.isEmpty)
        #expect(graph.platforms.isEmpty)
        #expect(graph.totalSize == image.manifest.size + image.config.size + image.layers[0].descriptor.size)
    }

    @Test func imageManifestByRefName() throws {
        let graph = try compareWithSkopeo(layout: testImages.nestedIndexLayout, ref: "1")
        #expect(graph.root.digest == testImages.nestedImageOne.manifest.digest)
        // The entry says OCI manifest; the document says Docker schema 2, and that wins.
        #expect(graph.root.mediaType == MediaType.dockerManifest)
        #expect(graph.sourceTags == ["1"])
    }

    @Test func nestedIndexByRefName() throws {
        let image = testImages.nestedImageOne
        let graph = try compareWithSkopeo(layout: testImages.nestedIndexLayout, ref: "3")
        #expect(graph.root.mediaType == MediaType.ociIndex)
        #expect(graph.isIndex)
        #expect(graph.manifestsChildrenFirst.map(\.digest) == [image.manifest.digest, testImages.nestedIndexThree.digest])
        #expect(graph.manifestsChildrenFirst[0].mediaType == MediaType.dockerManifest)
        #expect(graph.blobs.map(\.digest) == [image.config.digest, image.layers[0].descriptor.digest])
    }

    /// Entries skopeo 1.9 refuses ("no descriptor found") because of their index media types:
    /// pushctl trusts the documents (see GraphBuilder).
    @Test func entriesWithMismatchingMediaTypes() throws {
        let layout = testImages.nestedIndexLayout
        let image = testImages.nestedImageTwo
        let (_, two) = try load(.ociLayout(path: layout, ref: "2"))
        #expect(two.root.digest == image.manifest.digest)
        #expect(two.root.mediaType == MediaType.dockerManifest)
        #expect(two.blobs.map(\.digest) == [image.config.digest, image.layers[0].descriptor.digest])
        let bytes = try #require(two.manifestBytes(two.root.digest))
        #expect(sha256(bytes) == two.root.digest)
        #expect(bytes == Array(try Data(contentsOf: URL(fileURLWithPath: layout + "/blobs/sha256/" + two.root.digest.hex))))

        // index.json calls it a Docker manifest list, but the document has no `mediaType`, which a
        // Docker list must carry: it is an OCI index (and a registry accepts it as one).
        let (_, four) = try load(.ociLayout(path: layout, ref: "4"))
        #expect(four.root.mediaType == MediaType.ociIndex)
        #expect(four.manifestsChildrenFirst.map(\.digest) == [testImages.nestedImageOne.manifest.digest, testImages.nestedIndexFour.digest])
    }

    @Test func selectionByDigest() throws {
        let layout = testImages.nestedIndexLayout
        // Listed in index.json.
        let (_, listed) = try load(.ociLayout(path: layout, ref: "@\(testImages.nestedIndexThree.digest)"))
        #expect(listed.root.digest == testImages.nestedIndexThree.digest)
        #expect(listed.sourceTags.isEmpty)
        // Listed with an entry media type (OCI manifest) the document contradicts: the document's wins.
        let (_, mislabelled) = try load(.ociLayout(path: layout, ref: "@\(testImages.nestedImageOne.manifest.digest)"))
        #expect(mislabelled.root.digest == testImages.nestedImageOne.manifest.digest)
        #expect(mislabelled.root.mediaType == MediaType.dockerManifest)
        // The only image of a layout, listed without a ref name.
        let (_, only) = try load(.ociLayout(path: testImages.oneImageLayout, ref: "@\(testImages.oneImage.manifest.digest)"))
        #expect(only.root == testImages.oneImage.manifest)
        let error = sourceError { _ = try load(.ociLayout(path: layout, ref: "@sha256:nothex")) }
        guard case .invalidRef? = error else { Issue.record("expected invalidRef, got \(String(describing: error))"); return }
    }

    @Test func severalImagesWithoutRefListsThem() throws {
        let error = sourceError { _ = try load(.ociLayout(path: testImages.nestedIndexLayout, ref: nil)) }
        #expect(error == .severalImages(source: "oci:\(testImages.nestedIndexLayout)", available: ["1", "2", "3", "4"]))
        #expect(error?.description.contains("choose one with :REF (available: 1, 2, 3, 4)") == true)
    }

    @Test func unknownRefListsTheRefs() throws {
        let error = sourceError { _ = try load(.ociLayout(path: testImages.nestedIndexLayout, ref: "nope")) }
        guard case .unknownRef(_, let ref, let available)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(ref == "nope")
        #expect(available == ["1", "2", "3", "4"])
        #expect(error!.description.contains("no image named \"nope\" (available: 1, 2, 3, 4)"))
    }

    @Test func incompleteLayoutReportsMissingManifest() throws {
        let layout = testImages.missingBlobLayout
        let error = sourceError { _ = try load(.ociLayout(path: layout, ref: nil)) }
        guard case .missingBlobs(let source, let blobs)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(source == "oci:\(layout)")
        #expect(blobs.map(\.digest) == [testImages.nestedImageTwo.manifest.digest])
        #expect(blobs.first?.foundSize == nil)
        // skopeo fails on the same layout too.
        #expect(try run("skopeo", ["inspect", "--raw", "oci:\(layout)"]).status != 0)
    }

    @Test func missingPathAndNotALayout() throws {
        let tmp = try TempDir()
        #expect(sourceError { _ = try load(.ociLayout(path: tmp.sub("absent"), ref: nil)) } == .notFound(path: tmp.sub("absent")))
        let error = sourceError { _ = try load(.ociLayout(path: tmp.path, ref: nil)) }
        #expect(error == .notALayout(path: tmp.path, reason: "it has neither an oci-layout file nor an index.json"))
        // A tar given as oci: is not a layout.
        let file = testImages.imageOneArchive
        guard case .notALayout? = sourceError({ _ = try load(.ociLayout(path: file, ref: nil)) }) else {
            Issue.record("a file is not a layout"); return
        }
    }

    @Test func layoutVersionIsChecked() throws {
        let tmp = try TempDir()
        let layout = tmp.sub("layout")
        try copyItem(testImages.oneImageLayout, layout)
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: layout)
        try? FileManager.default.removeItem(atPath: layout + "/oci-layout")
        try write(Array(#"{"imageLayoutVersion": "2.0.0"}"#.utf8), to: layout + "/oci-layout")
        #expect(
            sourceError { _ = try load(.ociLayout(path: layout, ref: nil)) } == .unsupportedLayoutVersion(path: layout, version: "2.0.0"))
    }

    @Test func invalidIndexJSONNamesLineAndColumn() throws {
        let tmp = try TempDir()
        let layout = tmp.sub("layout")
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        try write(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layout + "/oci-layout")
        try write(Array("{\n  \"schemaVersion\": 2,\n  \"manifests\": [,]\n}".utf8), to: layout + "/index.json")
        let error = sourceError { _ = try load(.ociLayout(path: layout, ref: nil)) }
        #expect(error == .invalidJSON(source: "oci:\(layout)", file: "index.json", detail: "syntax error at line 3, column 17"))
    }
}
