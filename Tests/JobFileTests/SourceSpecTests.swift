import Testing
import OCI
@testable import JobFile

@Suite struct SourceSpecTests {
    static let digest = "sha256:" + String(repeating: "a", count: 64)

    func parse(_ s: String) -> Result<SourceSpec, SourceSpecError> { SourceSpec.parse(s, relativeTo: "/jobs") }

    @Test func ociForms() throws {
        #expect(try parse("oci:build/app").get() == .ociLayout(path: "/jobs/build/app", ref: nil))
        #expect(try parse("oci:build/app:1.4.2").get() == .ociLayout(path: "/jobs/build/app", ref: .name("1.4.2")))
        #expect(try parse("oci:/abs/app:v1").get() == .ociLayout(path: "/abs/app", ref: .name("v1")))
        #expect(try parse("oci:../app:@\(Self.digest)").get() == .ociLayout(path: "/app", ref: .digest(try Digest(parsing: Self.digest))))
        #expect(try parse("oci:app@\(Self.digest)").get() == .ociLayout(path: "/jobs/app", ref: .digest(try Digest(parsing: Self.digest))))
        #expect(try parse("oci:./a/./b:team/app:1").get() == .ociLayout(path: "/jobs/a/b", ref: .name("team/app:1")))
        #expect(try parse("oci-archive:dist/app.tar:1.0").get() == .ociArchive(path: "/jobs/dist/app.tar", ref: .name("1.0")))
    }

    @Test func dockerArchiveRefsAreRepoTags() throws {
        #expect(try parse("docker-archive:w.tar").get() == .dockerArchive(path: "/jobs/w.tar", ref: nil))
        #expect(try parse("docker-archive:w.tar:team/worker:1.2").get() == .dockerArchive(path: "/jobs/w.tar", ref: "team/worker:1.2"))
        #expect(try parse("docker-archive:w.tar:team/worker:1.2").get().ownTag == "1.2")
        // A RepoTag without a tag means NAME:latest (docs/jobfile.md), as in docker.
        #expect(try parse("docker-archive:w.tar:team/worker").get() == .dockerArchive(path: "/jobs/w.tar", ref: "team/worker"))
        #expect(try parse("docker-archive:w.tar:team/worker").get().ownTag == "latest")
        #expect(parse("docker-archive:w.tar:team/worker@\(Self.digest)") == .failure(.archiveRefNeedsTag("team/worker@\(Self.digest)")))
        #expect(
            parse("docker-archive:w.tar:Team:1") == .failure(.reference(.uppercaseRepository(input: "Team:1", repository: "library/Team"))))
    }

    @Test func registryForm() throws {
        guard case .registry(let r) = try parse("docker://alpine:3.19").get() else { Issue.record("not registry"); return }
        #expect(r.canonicalString == "docker.io/library/alpine:3.19")
        #expect(try parse("docker://alpine").get().certainlyHasNoTag)
        #expect(try !parse("docker://alpine:3").get().certainlyHasNoTag)
    }

    @Test func errors() {
        #expect(parse("alpine") == .failure(.unknownTransport("alpine")))
        #expect("\(SourceSpecError.unknownTransport("alpine:3"))".hasSuffix("for a registry image write 'docker://alpine:3'"))
        #expect(parse("oci:") == .failure(.missingPath("oci")))
        #expect(parse("oci::tag") == .failure(.missingPath("oci")))
        #expect(parse("oci:dir:") == .failure(.emptyRef))
        #expect(parse("oci:dir:-bad") == .failure(.invalidRefName("-bad")))
        #expect(parse("oci:dir:@sha256:abc") == .failure(.digest(.invalidLength(algorithm: "sha256", expected: 64, actual: 3))))
        #expect(parse("docker-archive:") == .failure(.missingPath("docker-archive")))
        guard case .failure(.reference) = parse("docker://") else { Issue.record("expected reference error"); return }
    }
}
