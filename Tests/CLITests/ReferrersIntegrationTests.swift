import Foundation
import OCI
import RegistryHarness
import Testing

/// `referrers:` and the referrers fallback tag (README "Signatures and SBOMs") against
/// docker-registry 2.8, which has no referrers API and never answers `OCI-Subject`: pushctl keeps
/// `sha256-<hex>` itself, listing exactly the referrers, merging, and doing nothing on a rerun.
@Suite(.serialized) struct ReferrersIntegrationTests {
    static let sbomType = "application/spdx+json"
    static let signatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
    static let attestationType = "application/vnd.in-toto+json"

    /// An index over two images; an SBOM of the index, a signature of the SBOM, an attestation of
    /// the amd64 child, and an artifact referring to something else entirely.
    struct Source {
        var writer: LayoutWriter
        var index: Descriptor
        var amd64: Descriptor
        var arm64: Descriptor
        var sbom: Descriptor
        var signature: Descriptor
        var attestation: Descriptor
        var unrelated: Descriptor
    }

    static func makeSource(_ scratch: Scratch) throws -> Source {
        let writer = try scratch.layout()
        let amd64 = try writer.addImage(tag: "amd64", randomLayerSize: 6_000, architecture: "amd64")
        let arm64 = try writer.addImage(tag: "arm64", randomLayerSize: 6_000, architecture: "arm64")
        let index = try writer.addIndex(tag: "multi", manifests: [(amd64, "amd64"), (arm64, "arm64")])
        let sbom = try writer.addReferrer(
            to: index, artifactType: sbomType, content: #"{"spdxVersion":"SPDX-2.3"}"#,
            annotations: ["org.opencontainers.image.created": "2026-11-29T00:00:00Z"])
        let signature = try writer.addReferrer(to: sbom, artifactType: signatureType, content: "signature of the sbom")
        let attestation = try writer.addReferrer(to: amd64, artifactType: attestationType, content: #"{"_type":"statement"}"#)
        let elsewhere = try writer.addBlob(Array("not an image of this layout".utf8), mediaType: MediaType.ociManifest)
        let unrelated = try writer.addReferrer(to: elsewhere, artifactType: sbomType, content: "unrelated")
        return Source(
            writer: writer, index: index, amd64: amd64, arm64: arm64, sbom: sbom, signature: signature,
            attestation: attestation, unrelated: unrelated)
    }

    /// A job pushing the layout's `multi` index to `lab` as team/app:1 with all its referrers.
    static func signed(_ name: String, url: String) -> JobSpec {
        JobSpec(name)
            .registry("lab", url: url)
            .image("oci:image:multi", repository: "team/app", tags: ["1"], targets: ["lab"], extra: ["referrers: true"])
    }

    /// The entries of a fallback tag, in order; nil when the tag does not exist.
    static func fallback(_ registry: RegistryServer, _ repository: String, of subject: Descriptor) throws -> [[String: Any]]? {
        let tag = "\(subject.digest.algorithm.rawValue)-\(subject.digest.hex)"
        let r = try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/\(repository):\(tag)"])
        guard r.status == 0 else { return nil }
        let index = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return index?["manifests"] as? [[String: Any]] ?? []
    }

    static func digests(_ entries: [[String: Any]]?) -> [String]? { entries?.compactMap { $0["digest"] as? String } }

    static func exists(_ registry: RegistryServer, _ repository: String, _ digest: Digest) throws -> Bool {
        try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/\(repository)@\(digest)"]).status
            == 0
    }

    /// From an OCI layout: every referrer of the index and its children, recursively, pushed by
    /// digest with fallback tags listing exactly them (artifactType and annotations included); an
    /// `artifactTypes` filter; a rerun unchanged; a referrer added later is merged in.
    @Test func referrersOfALayoutImageArePushedWithFallbackTags() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let source = try Self.makeSource(scratch)
        let job = try scratch.job(
            Self.signed("signed", url: registry.baseURL)
                .image(
                    "oci:image:multi", repository: "team/sbom-only", tags: ["1"], targets: ["lab"],
                    extra: ["referrers: {artifactTypes: [\(Self.sbomType)]}"]))
        var firstFallback: [String]?
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            let app = r.pushEnds(repository: "team/app"), sbomOnly = r.pushEnds(repository: "team/sbom-only")
            let expected = night == 1 ? "pushed" : "unchanged"
            #expect(app.count == 4 && app.allSatisfy { $0.status == expected }, "night \(night): \(r.stdout)")
            #expect(sbomOnly.count == 2 && sbomOnly.allSatisfy { $0.status == expected }, "night \(night): \(r.stdout)")
            if night == 2 { #expect(r.blobs().isEmpty, "\(r.stdout)") }

            let ofIndex = try Self.fallback(registry, "team/app", of: source.index)
            #expect(Self.digests(ofIndex) == [source.sbom.digest.string])
            #expect(ofIndex?.first?["artifactType"] as? String == Self.sbomType)
            #expect((ofIndex?.first?["annotations"] as? [String: String])?["org.opencontainers.image.created"] == "2026-11-29T00:00:00Z")
            #expect(Self.digests(try Self.fallback(registry, "team/app", of: source.sbom)) == [source.signature.digest.string])
            #expect(Self.digests(try Self.fallback(registry, "team/app", of: source.amd64)) == [source.attestation.digest.string])
            #expect(try Self.fallback(registry, "team/app", of: source.arm64) == nil)
            #expect(try !Self.exists(registry, "team/app", source.unrelated.digest))
            // The filter takes the SBOM only: no signature of it, no attestation.
            #expect(Self.digests(try Self.fallback(registry, "team/sbom-only", of: source.index)) == [source.sbom.digest.string])
            #expect(try Self.fallback(registry, "team/sbom-only", of: source.sbom) == nil)
            #expect(try !Self.exists(registry, "team/sbom-only", source.signature.digest))
            let raw = try pushedManifest(registry, "team/app", "sha256-\(source.index.digest.hex)")
            if night == 1 { firstFallback = [raw] } else { #expect(firstFallback == [raw], "a rerun rewrote the fallback tag") }
        }

        // plan lists each referrer push with its decision.
        let plan = try run(
            pushctlBinary, ["plan", "--state", scratch.state, job], environment: scratch.environment, directory: scratch.path)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("@\(source.sbom.digest) (referrer of \(source.index.digest)): unchanged"), "\(plan.stdout)")
        #expect(plan.stdout.contains("@\(source.signature.digest) (referrer of \(source.sbom.digest)): unchanged"), "\(plan.stdout)")

        // Recorded with their subject: `history --digest INDEX` shows the SBOM push too.
        let history = try pushctlJSON(["history", "--digest", source.index.digest.string], scratch: scratch)
        let pushed = try #require(history["entries"] as? [[String: Any]]).compactMap {
            ($0["push"] as? [String: Any])?["pushedDigest"] as? String
        }
        #expect(pushed.contains(source.sbom.digest.string), "\(pushed)")
        let table = try run(
            pushctlBinary, ["history", "--state", scratch.state, "--digest", source.index.digest.string],
            environment: scratch.environment, directory: scratch.path)
        #expect(table.stdout.contains("\(registry.host)/team/app@\(source.sbom.digest)"), "\(table.stdout)")

        // A referrer added since: pushed, and merged after the entry already listed.
        let report = try source.writer.addReferrer(to: source.index, artifactType: "application/vnd.example.report+json", content: "{}")
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds(repository: "team/app").filter { $0.status == "pushed" }.count == 1, "\(r.stdout)")
        #expect(
            Self.digests(try Self.fallback(registry, "team/app", of: source.index)) == [source.sbom.digest.string, report.digest.string])
    }

    /// Registry to registry: the upstream's fallback tag and a cosign-style `.sig` tag are read,
    /// the mirror gets the same referrers (its own fallback tags list exactly them) and the tag;
    /// a rerun is unchanged.
    @Test func referrersAndCosignTagsAreCopiedBetweenRegistries() throws {
        let scratch = try Scratch()
        let upstream = try RegistryServer.start()
        let mirror = try RegistryServer.start()
        let source = try Self.makeSource(scratch)
        let sigTag = "sha256-\(source.index.digest.hex).sig"
        let cosign = try source.writer.addImage(tag: "cosign-sig", randomLayerSize: 500)
        let seed = try scratch.job(
            JobSpec("seed")
                .registry("upstream", url: upstream.baseURL)
                .image("oci:image:multi", repository: "upstream/app", tags: ["1"], targets: ["upstream"], extra: ["referrers: true"])
                .image("oci:image:cosign-sig", repository: "upstream/app", tags: [sigTag], targets: ["upstream"]))
        let seeded = try apply(seed, scratch: scratch)
        #expect(seeded.status == 0, "\(seeded.stderr)\n\(seeded.stdout)")
        let job = try scratch.job(
            JobSpec("mirror", defaults: ["referrers": "true"])
                .registry("mirror", url: mirror.baseURL)
                .image("docker://\(upstream.host)/upstream/app:1", repository: "mirror/app", targets: ["mirror"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            let expected = night == 1 ? "pushed" : "unchanged"
            // The index, the SBOM, its signature, and the .sig tag.
            let ends = r.pushEnds(repository: "mirror/app")
            #expect(ends.count == 4 && ends.allSatisfy { $0.status == expected }, "night \(night): \(r.stdout)")
            if night == 2 { #expect(r.blobs().isEmpty, "\(r.stdout)") }
            #expect(Self.digests(try Self.fallback(mirror, "mirror/app", of: source.index)) == [source.sbom.digest.string])
            #expect(Self.digests(try Self.fallback(mirror, "mirror/app", of: source.sbom)) == [source.signature.digest.string])
            #expect(try pushedDigest(mirror, "mirror/app", sigTag) == cosign.digest)
            #expect(try pushedDigest(mirror, "mirror/app", "1") == source.index.digest)
        }
        let history = try pushctlJSON(["history", "--digest", source.index.digest.string, "--job", "mirror"], scratch: scratch)
        let pushed = try #require(history["entries"] as? [[String: Any]]).compactMap {
            ($0["push"] as? [String: Any])?["pushedDigest"] as? String
        }
        #expect(Set(pushed).isSuperset(of: [source.index.digest.string, source.sbom.digest.string, cosign.digest.string]), "\(pushed)")
    }

    /// A registry that answers `OCI-Subject` keeps the listing itself: pushctl writes no fallback
    /// tag (the header is added by the fault proxy in front of docker-registry).
    @Test func aRegistryThatAcknowledgesTheSubjectGetsNoFallbackTag() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        proxy.addResponseHeaders([("OCI-Subject", "acknowledged")], method: "PUT", pathContains: "/manifests/")
        let source = try Self.makeSource(scratch)
        let job = try scratch.job(Self.signed("subject", url: proxy.baseURL))
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().count == 4 && r.pushEnds().allSatisfy { $0.status == "pushed" }, "\(r.stdout)")
        #expect(try Self.exists(registry, "team/app", source.sbom.digest))
        #expect(try Self.fallback(registry, "team/app", of: source.index) == nil)
        #expect(!proxy.entries.contains { $0.method == "PUT" && $0.target.contains("/manifests/sha256-") }, "a fallback tag was written")
    }

    /// `plan --out` with referrers, then `apply --plan`: the referrer pushes (no tags) are told
    /// apart by their sources, so the saved plan executes without a false drift.
    @Test func aSavedPlanWithReferrersApplies() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let source = try Self.makeSource(scratch)
        let job = try scratch.job(Self.signed("saved", url: registry.baseURL))
        let planned = try run(
            pushctlBinary, ["plan", "--state", scratch.state, "--out", scratch.sub("plan.json"), job],
            environment: scratch.environment, directory: scratch.path)
        #expect(planned.status == 0, "\(planned.stderr)")
        let r = try apply(scratch: scratch, arguments: ["--plan", scratch.sub("plan.json")])
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().count == 4 && r.pushEnds().allSatisfy { $0.status == "pushed" }, "\(r.stdout)")
        #expect(Self.digests(try Self.fallback(registry, "team/app", of: source.index)) == [source.sbom.digest.string])
    }
}
