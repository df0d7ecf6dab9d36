import Foundation
import Testing
import OCI
@testable import ImageSource

/// docs/jobfile.md: what a REF selects and which default tag it gives, read from real layouts and
/// archives; the rule is the one `SourceSpec.ownTag` uses when a job is validated and planned.
@Suite struct SourceRefLookupTests {
    static let fullReference = "registry.example.com/team/app:1.4"

    /// The generated one-image layout with its entry named `refName`.
    static func layout(refName: String, in tmp: TempDir) throws -> String {
        let dir = tmp.sub("layout")
        try copyItem(testImages.oneImageLayout, dir)
        let indexPath = dir + "/index.json"
        var index = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath))) as? [String: Any])
        var entries = try #require(index["manifests"] as? [[String: Any]])
        #expect(entries.count == 1)
        entries[0]["annotations"] = ["org.opencontainers.image.ref.name": refName]
        index["manifests"] = entries
        try FileManager.default.removeItem(atPath: indexPath)
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        return dir
    }

    @Test func aFullReferenceAsOCIRefNameGivesItsTag() throws {
        let tmp = try TempDir()
        let dir = try Self.layout(refName: Self.fullReference, in: tmp)
        let (_, byRef) = try load(.ociLayout(path: dir, ref: Self.fullReference))
        #expect(byRef.sourceTags == ["1.4"])
        #expect(byRef.root.digest == testImages.oneImage.manifest.digest)
        // Without REF the single entry's ref.name gives the same tag.
        let (_, alone) = try load(.ociLayout(path: dir, ref: nil))
        #expect(alone.sourceTags == ["1.4"])
        // The same in an oci-archive (a tar of the layout).
        let archive = tmp.sub("layout.tar")
        try mustRun("tar", ["-C", dir, "-cf", archive, "."])
        let (_, archived) = try load(.ociArchive(path: archive, ref: Self.fullReference))
        #expect(archived.sourceTags == ["1.4"])
        // The job file's rule gives the same.
        #expect(SourceRefTag.tag(of: Self.fullReference, bareName: .isTheTag) == "1.4")
        // ref.name is matched exactly: the tag alone does not select the entry.
        let unknown = sourceError { _ = try load(.ociLayout(path: dir, ref: "1.4")) }
        #expect(unknown == .unknownRef(source: "oci:\(dir):1.4", ref: "1.4", available: [Self.fullReference]))
    }

    @Test func aRefNameWithoutATagGivesNoDefaultTag() throws {
        let tmp = try TempDir()
        let dir = try Self.layout(refName: "team/app", in: tmp)
        let (_, graph) = try load(.ociLayout(path: dir, ref: "team/app"))
        #expect(graph.sourceTags.isEmpty)
    }

    @Test func aRepoTagWithoutATagMatchesLatest() throws {
        let cache = try TempDir()
        let file = testImages.bundleArchive
        // The bundle's RepoTags are `test_image_2` and `test_image_1`, without tags.
        let (_, bare) = try load(.dockerArchive(path: file, ref: "test_image_2"), cache: cache.path)
        #expect(bare.sourceTags == ["latest"])
        for ref in ["test_image_2:latest", "docker.io/library/test_image_2:latest", "docker.io/library/test_image_2"] {
            let (_, graph) = try load(.dockerArchive(path: file, ref: ref), cache: cache.path)
            #expect(graph.root == bare.root, "\(ref)")
            #expect(graph.sourceTags == ["latest"], "\(ref)")
        }
    }

    @Test func noMatchingRepoTagListsTheUsableNames() throws {
        let cache = try TempDir()
        let file = testImages.bundleArchive
        // test_image_2 is test_image_2:latest, so another tag of it does not match.
        let error = sourceError { _ = try load(.dockerArchive(path: file, ref: "test_image_2:1.0"), cache: cache.path) }
        #expect(
            error
                == .unknownRef(
                    source: "docker-archive:\(file):test_image_2:1.0", ref: "test_image_2:1.0",
                    available: ["test_image_2", "test_image_1"]))
        #expect(error?.description.hasSuffix(#"no image named "test_image_2:1.0" (available: test_image_2, test_image_1)"#) == true)
    }

    @Test func onlyRepoTagsAJobCanWriteAreOffered() {
        #expect(DockerArchiveSource.isUsableRef("test_image_2"))
        #expect(DockerArchiveSource.isUsableRef("registry.example.com:5000/team/app:1.4"))
        #expect(!DockerArchiveSource.isUsableRef("Team/App:1"))
        #expect(!DockerArchiveSource.isUsableRef("app@sha256:" + String(repeating: "a", count: 64)))
        #expect(!DockerArchiveSource.isUsableRef(""))
    }
}
