import OCI
import Testing
@testable import JobFile

/// docs/jobfile.md: one set of REF rules for local sources — the default tag a REF gives, which REFs a
/// job file accepts, and that a bad REF is reported at its line and column by the loader.
@Suite struct SourceRefRulesTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)

    func parse(_ s: String) -> Result<SourceSpec, SourceSpecError> { SourceSpec.parse(s, relativeTo: "/jobs") }

    @Test(arguments: [
        // A full reference as ref.name gives its tag, not the whole text (which is no valid tag).
        ("oci:dir:registry.example.com/team/app:1.4", "1.4"),
        ("oci-archive:a.tar:registry.example.com/team/app:1.4", "1.4"),
        ("oci:dir:registry.example.com:5000/team/app:v2", "v2"),
        ("oci:dir:app:1.4", "1.4"),
        // A bare ref.name is the tag itself (what skopeo writes for oci:dir:TAG).
        ("oci:dir:1.4", "1.4"),
        ("oci:dir:latest", "latest"),
        // docker archives: a RepoTag's tag, or latest when it names none.
        ("docker-archive:a.tar:registry.example.com/team/app:1.4", "1.4"),
        ("docker-archive:a.tar:test_image_2", "latest"),
        ("docker-archive:a.tar:team/worker", "latest"),
        ("docker://registry.example.com/team/app:1.4", "1.4")
    ])
    func ownTagIsTheTagPartOfREF(source: String, tag: String) throws {
        let spec = try parse(source).get()
        #expect(spec.ownTag == tag)
        #expect(!spec.certainlyHasNoTag)
    }

    @Test(arguments: [
        "oci:dir:team/app",  // a name without a tag
        "oci:dir:registry.example.com:5000/app",  // the port's ':' is not a tag
        "oci:dir:app:Tag+1",  // a valid ref.name whose tag part is no valid tag
        "oci:dir@sha256:" + String(repeating: "a", count: 64),
        "docker-archive:a.tar:@sha256:" + String(repeating: "a", count: 64),
        "docker://registry.example.com/team/app"
    ])
    func sourcesThatNameNoTag(source: String) throws {
        let spec = try parse(source).get()
        #expect(spec.ownTag == nil)
        #expect(spec.certainlyHasNoTag)
    }

    @Test func ownTagAndTheSourceLookupShareOneRule() throws {
        // The layout and archive lookups (ImageSource) call SourceRefTag with the same readings.
        for ref in ["registry.example.com/team/app:1.4", "1.4", "team/app", "app@sha256:abc", "app:1.4@sha256:abc"] {
            #expect(try parse("oci:dir:" + ref).get().ownTag == SourceRefTag.tag(of: ref, bareName: .isTheTag), "\(ref)")
        }
        for ref in ["registry.example.com/team/app:1.4", "test_image_2", "team/worker"] {
            #expect(try parse("docker-archive:a.tar:" + ref).get().ownTag == SourceRefTag.tag(of: ref, bareName: .meansLatest), "\(ref)")
        }
    }

    @Test func dockerArchiveREFs() throws {
        #expect(try parse("docker-archive:a.tar:@\(Self.digest)").get() == .dockerArchive(path: "/jobs/a.tar", ref: "@\(Self.digest)"))
        #expect(
            parse("docker-archive:a.tar:@sha256:abc") == .failure(.digest(.invalidLength(algorithm: "sha256", expected: 64, actual: 3))))
        #expect(parse("docker-archive:a.tar:app@\(Self.digest)") == .failure(.archiveRefNeedsTag("app@\(Self.digest)")))
        #expect("\(SourceSpecError.archiveRefNeedsTag("app@x"))".contains("NAME[:TAG]"))
    }

    @Test func invalidREFsAreLocatedErrors() {
        let long = String(repeating: "a", count: 64)
        func image(_ source: String, tags: String? = "[\"1\"]") -> String {
            "  - source: '\(source)'\n    repository: a\n" + (tags.map { "    tags: \($0)\n" } ?? "") + "    targets: [prod]"
        }
        #expect(
            problems(job(image: image("oci:dir:-bad"))) == [
                "7:13: 'source' of image #1: '-bad' is not a valid OCI reference name (org.opencontainers.image.ref.name)"
            ])
        #expect(
            problems(job(image: image("oci:dir:@sha256:abc"))) == [
                "7:13: 'source' of image #1: invalid REF digest: \(DigestError.invalidLength(algorithm: "sha256", expected: 64, actual: 3))"
            ])
        #expect(problems(job(image: image("docker-archive:a.tar:Team/App:1"))).count == 1)
        #expect(
            problems(job(image: image("docker-archive:a.tar:Team/App:1")))[0].hasPrefix("7:13: 'source' of image #1: invalid reference"))
        #expect(
            problems(job(image: image("docker-archive:a.tar:app@sha256:\(long)"))) == [
                "7:13: 'source' of image #1: docker-archive REF 'app@sha256:\(long)' must be one of the archive's RepoTags, NAME[:TAG] (a RepoTag carries no digest), or @sha256:… naming the image ID"
            ])
        // A REF that names no tag needs `tags:`; the error points at the source.
        #expect(
            problems(job(image: image("oci:dir:team/app", tags: nil))) == [
                "7:13: image #1 has no 'tags' and its source REF 'team/app' names no tag (a tag follows the last ':', as in 'team/app:1.4', and matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}); list 'tags'"
            ])
        #expect(
            problems(job(image: image("docker-archive:a.tar:@sha256:\(long)", tags: nil))) == [
                "7:5: image #1 has no 'tags' and its source is selected by digest, which carries no tag; list 'tags'"
            ])
        // With tags listed, the same REFs are fine.
        #expect(problems(job(image: image("oci:dir:team/app"))) == [])
        #expect(problems(job(image: image("docker-archive:a.tar:@sha256:\(long)"))) == [])
        #expect(problems(job(image: image("docker-archive:a.tar:test_image_2", tags: nil))) == [])
    }
}
