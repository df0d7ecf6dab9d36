import Foundation
import OCI
import RegistryHarness
import Testing

/// docs/jobfile.md, source REF rules end to end: `validate` refuses bad REFs with located errors (exit 2),
/// `plan` shows the tag a REF gives, and `apply` pushes under exactly that tag.
@Suite(.serialized) struct SourceRefCLITests {
    static let fullReference = "registry.example.com/team/app:1.4"

    /// A job with one registry `r` that is never reached (validate, offline plan).
    static func job(_ name: String, compact: Bool = false) -> JobSpec {
        JobSpec(name, compact: compact).registry("r", url: "https://r.example.com")
    }

    @Test func invalidREFsFailValidateWithLocatedErrors() throws {
        let scratch = try Scratch()
        let long = String(repeating: "a", count: 64)
        let file = try scratch.job(
            Self.job("refs", compact: true)
                .image("oci:dir:-bad", repository: "a", tags: ["1"], targets: ["r"])
                .image("oci:dir:@sha256:abc", repository: "b", tags: ["1"], targets: ["r"])
                .image("docker-archive:a.tar:app@sha256:\(long)", repository: "c", tags: ["1"], targets: ["r"])
                .image("oci:dir:team/app", repository: "d", targets: ["r"])
                .image("docker-archive:a.tar:Team/App:1", repository: "e", tags: ["1"], targets: ["r"]))
        let r = try run(pushctlBinary, ["validate", file], environment: [:])
        #expect(r.status == 2)
        let errors = r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }.map(String.init)
        #expect(errors.count == 5, "\(r.stderr)")
        let prefixes = [
            "\(file):6:14: error: 'source' of image #1: '-bad' is not a valid OCI reference name",
            "\(file):7:14: error: 'source' of image #2: invalid REF digest",
            "\(file):8:14: error: 'source' of image #3: docker-archive REF 'app@sha256:\(long)' must be one of the archive's RepoTags",
            "\(file):9:14: error: image #4 has no 'tags' and its source REF 'team/app' names no tag",
            "\(file):10:14: error: 'source' of image #5: invalid reference"
        ]
        for (error, prefix) in zip(errors, prefixes) {
            #expect(error.hasPrefix(prefix), "\(error)")
        }
    }

    @Test func acceptedREFsValidate() throws {
        let scratch = try Scratch()
        let file = try scratch.job(
            Self.job("ok-refs")
                .image("oci:dir:\(Self.fullReference)", repository: "a", targets: ["r"])
                .image("docker-archive:a.tar:test_image_2", repository: "b", targets: ["r"])
                .image("docker-archive:a.tar:@sha256:\(String(repeating: "a", count: 64))", repository: "c", tags: ["1"], targets: ["r"]))
        let r = try run(pushctlBinary, ["validate", file], environment: [:])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "\(file): ok\n")
    }

    @Test func planShowsTheTagAFullReferenceGives() throws {
        let scratch = try Scratch()
        let file = try scratch.job(
            Self.job("plan-ref")
                .image("oci:build:\(Self.fullReference)", repository: "team/app", targets: ["r"])
                .image("docker-archive:a.tar:test_image_2", repository: "team/two", targets: ["r"]))
        let r = try run(pushctlBinary, ["plan", "--offline", "--output", "json", file], environment: [:], directory: scratch.path)
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let items = ((doc["plans"] as? [[String: Any]])?.first?["items"] as? [[String: Any]]) ?? []
        let tags = items.map { ($0["tags"] as? [String: Any])?["tags"] as? [String] ?? [] }
        #expect(tags == [["1.4"], ["latest"]], "\(r.stdout)")
        let text = try run(pushctlBinary, ["plan", "--offline", file], environment: [:], directory: scratch.path)
        #expect(text.stdout.contains("1.4 (the source's tag)"), "\(text.stdout)")
    }

    @Test func applyPushesUnderTheTagOfTheREF() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.plain)
        defer { registry.stop() }
        let writer = try LayoutWriter(path: scratch.sub("layout"))
        let image = try writer.addImage(tag: Self.fullReference, randomLayerSize: 10_000)
        let bundle = TestImages.shared.bundleArchive
        let file = try scratch.job(
            JobSpec("apply-ref")
                .registry("lab", url: registry.baseURL)
                .image("oci:layout:\(Self.fullReference)", repository: "team/app", targets: ["lab"])
                .image("oci:layout", repository: "team/alone", targets: ["lab"])
                .image("docker-archive:\(bundle):test_image_2", repository: "team/two", targets: ["lab"]))
        let r = try apply(file, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(
            r.pushEnds().map { "\($0.repository ?? ""):\(($0.object["tags"] as? [String] ?? []).joined(separator: ","))" }.sorted()
                == ["team/alone:1.4", "team/app:1.4", "team/two:latest"], "\(r.stdout)")
        #expect(r.pushEnds().allSatisfy { $0.status == "pushed" }, "\(r.stdout)")
        #expect(try pushedDigest(registry, "team/app", "1.4") == image.digest)
        #expect(try pushedDigest(registry, "team/alone", "1.4") == image.digest)
        #expect(try pushedManifest(registry, "team/two", "latest").contains("\"layers\""))
    }

    @Test func anUnknownRepoTagListsTheUsableNames() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.plain)
        defer { registry.stop() }
        let bundle = TestImages.shared.bundleArchive
        let file = try scratch.job(
            JobSpec("unknown-ref")
                .registry("lab", url: registry.baseURL)
                .image("docker-archive:\(bundle):test_image_3", repository: "team/three", targets: ["lab"]))
        let r = try apply(file, scratch: scratch, output: "plain")
        #expect(r.status != 0)
        #expect(
            (r.stdout + r.stderr).contains(#"no image named "test_image_3" (available: test_image_2, test_image_1)"#),
            "\(r.stderr)\n\(r.stdout)")
    }
}
