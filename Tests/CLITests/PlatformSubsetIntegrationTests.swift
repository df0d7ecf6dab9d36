import Foundation
import OCI
import RegistryHarness
import Testing

/// `platforms:` (README "Platform filtering") against docker-registry: an index is pushed with only
/// the selected entries, byte for byte the source's text minus the others; the push records the
/// source digest and the pushed one; `verify` compares with the pushed one; a rerun is unchanged;
/// a single image of another platform fails its own item.
@Suite(.serialized) struct PlatformSubsetIntegrationTests {
    /// A layout with an index over linux/amd64, linux/arm64 (no variant: arm64 means v8) and
    /// linux/s390x, tagged `multi`, plus a single amd64 image tagged `single`.
    struct Source {
        var index: Descriptor
        var images: [String: Descriptor]
        var layers: [String: Descriptor]
        /// The index without its s390x entry, as the source spelled it.
        var expectedSubset: String
    }

    static func makeSource(_ scratch: Scratch) throws -> Source {
        let writer = try scratch.layout()
        var images: [String: Descriptor] = [:]
        var layers: [String: Descriptor] = [:]
        for arch in ["amd64", "arm64", "s390x"] {
            let layer = try writer.addRandomLayer(size: 8_000)
            layers[arch] = layer
            images[arch] = try writer.addImage(tag: "only-\(arch)", layers: [layer], architecture: arch)
        }
        let index = try writer.addIndex(tag: "multi", manifests: ["amd64", "arm64", "s390x"].map { (images[$0]!, $0) })
        let entries = ["amd64", "arm64"].map { arch in
            #"{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(images[arch]!.digest)","size":\#(images[arch]!.size),"platform":{"architecture":"\#(arch)","os":"linux"}}"#
        }
        let expected = #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":[\#(entries.joined(separator: ","))]}"#
        return Source(index: index, images: images, layers: layers, expectedSubset: expected)
    }

    /// From an OCI layout with `platforms` on the image, then from `docker://` with `platforms` in
    /// `defaults`: both push the same filtered bytes; records, verify and reruns agree.
    @Test func aPlatformSubsetIsPushedByteStableRecordedAndVerified() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let source = try Self.makeSource(scratch)
        let subsetDigest = Digest.of(Array(source.expectedSubset.utf8))
        let job = try scratch.job(
            JobSpec("subset")
                .registry("lab", url: registry.baseURL)
                .image(
                    "oci:image:multi", repository: "team/subset", tags: ["1"], targets: ["lab"],
                    extra: ["platforms: [linux/amd64, linux/arm64/v8]"]
                )
                .image("oci:image:multi", repository: "team/whole", tags: ["1"], targets: ["lab"]))
        let mirror = try scratch.job(
            JobSpec("mirror", defaults: ["platforms": "[linux/arm64/v8, linux/amd64]"])
                .registry("lab", url: registry.baseURL)
                .image("docker://\(registry.host)/team/whole:1", repository: "mirror/subset", tags: ["1"], targets: ["lab"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            let expected = night == 1 ? "pushed" : "unchanged"
            #expect(r.pushEnds().map { $0.status } == [expected, expected], "night \(night): \(r.stdout)")
            let m = try apply(mirror, scratch: scratch)
            #expect(m.status == 0, "night \(night): \(m.stderr)\n\(m.stdout)")
            #expect(m.pushEnds().map { $0.status } == [expected], "night \(night): \(m.stdout)")
            if night == 2 {
                // Nothing moved: no blob touched on the rerun.
                #expect(r.blobs().isEmpty && m.blobs().isEmpty, "\(r.stdout)\n\(m.stdout)")
            }
        }
        // The registry serves exactly the source's text without the s390x entry, from both sources.
        #expect(try pushedManifest(registry, "team/subset", "1") == source.expectedSubset)
        #expect(try pushedManifest(registry, "mirror/subset", "1") == source.expectedSubset)
        #expect(try pushedDigest(registry, "team/whole", "1") == source.index.digest)
        // The s390x image never went to the subset repositories.
        for repository in ["team/subset", "mirror/subset"] {
            let s390x = try run(
                "/usr/bin/skopeo",
                [
                    "inspect", "--raw", "--tls-verify=false",
                    "docker://\(registry.host)/\(repository)@\(source.images["s390x"]!.digest)"
                ])
            #expect(s390x.status != 0, "\(repository) holds the s390x manifest")
            let amd64 = try run(
                "/usr/bin/skopeo",
                [
                    "inspect", "--raw", "--tls-verify=false",
                    "docker://\(registry.host)/\(repository)@\(source.images["amd64"]!.digest)"
                ])
            #expect(amd64.status == 0, "\(repository): \(amd64.stderr)")
        }

        // Recorded: the source's digest and the pushed subset's.
        let history = try pushctlJSON(["history", "--repository", "team/subset"], scratch: scratch)
        let pushes = try #require(history["entries"] as? [[String: Any]]).compactMap { $0["push"] as? [String: Any] }
        #expect(!pushes.isEmpty)
        for push in pushes {
            #expect(push["sourceDigest"] as? String == source.index.digest.string, "\(push)")
            #expect(push["pushedDigest"] as? String == subsetDigest.string, "\(push)")
        }
        let mirrored = try #require(
            try pushctlJSON(["history", "--repository", "mirror/subset", "--limit", "1"], scratch: scratch)["entries"] as? [[String: Any]]
        )
        .compactMap { $0["push"] as? [String: Any] }
        #expect(mirrored.first?["sourceDigest"] as? String == source.index.digest.string)
        #expect(mirrored.first?["pushedDigest"] as? String == subsetDigest.string)

        // verify compares with the pushed subset, not the source index.
        for file in [job, mirror] {
            let verified = try run(
                pushctlBinary, ["verify", "--state", scratch.state, file], environment: scratch.environment, directory: scratch.path)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.contains("ok       \(registry.host)/"), "\(verified.stdout)")
        }
    }

    /// A single image whose platform is not selected fails its item at preparation (exit 1, the
    /// message naming the platform); an index with no selected entry likewise; the rest is pushed.
    @Test func anUnselectedSingleImageFailsItsItem() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        _ = try Self.makeSource(scratch)
        let job = try scratch.job(
            JobSpec("single", defaults: ["platforms": "[linux/arm64]"])
                .registry("lab", url: registry.baseURL)
                .image("oci:image:only-amd64", repository: "team/amd64", tags: ["1"], targets: ["lab"])
                .image("oci:image:only-arm64", repository: "team/arm64", tags: ["1"], targets: ["lab"])
                .image(
                    "oci:image:multi", repository: "team/ppc", tags: ["1"], targets: ["lab"], extra: ["platforms: [linux/ppc64le]"]))
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 1, "\(r.stderr)\n\(r.stdout)")
        let ends = Dictionary(uniqueKeysWithValues: r.pushEnds().map { ($0.repository ?? "", $0) })
        #expect(ends["team/arm64"]?.status == "pushed")
        #expect(ends["team/amd64"]?.status == "failed")
        #expect((ends["team/amd64"]?.object["error"] as? String)?.contains("platform linux/amd64") == true, "\(r.stdout)")
        #expect(ends["team/ppc"]?.status == "failed")
        #expect((ends["team/ppc"]?.object["error"] as? String)?.contains("linux/ppc64le") == true, "\(r.stdout)")
        let missing = try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/amd64:1"])
        #expect(missing.status != 0)
    }
}
