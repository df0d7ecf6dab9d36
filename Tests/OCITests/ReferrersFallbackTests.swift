import Foundation
import OCI
import Testing

/// The fallback index pushctl keeps for registries without the referrers API.
struct ReferrersFallbackTests {
    let subject = Digest.of(Array("subject".utf8))
    func entry(_ name: String, type: String = "application/spdx+json") -> Descriptor {
        Descriptor(
            mediaType: MediaType.ociManifest, digest: Digest.of(Array(name.utf8)), size: 100,
            annotations: ["note": name], artifactType: type)
    }

    @Test func theTagIsTheSubjectsDigestWithADash() {
        #expect(ReferrersFallback.tag(for: subject) == "sha256-\(subject.hex)")
    }

    @Test func mergingKeepsOthersEntriesAndIsIdempotent() throws {
        // Someone else's index, with a field pushctl does not know, in their own formatting.
        let foreign =
            #"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "\#(Digest.of(Array("theirs".utf8)))", "size": 7, "x-custom": true}]}"#
        let merged = try #require(try ReferrersFallback.merge(Array(foreign.utf8), adding: entry("ours")))
        let text = String(decoding: merged, as: UTF8.self)
        #expect(text.hasPrefix(String(foreign.dropLast(2))), "the foreign entry and everything before it stay as written: \(text)")
        #expect(ReferrersFallback.entries(merged).map(\.digest) == [Digest.of(Array("theirs".utf8)), Digest.of(Array("ours".utf8))])
        #expect(ReferrersFallback.entries(merged).last?.artifactType == "application/spdx+json")
        #expect(ReferrersFallback.entries(merged).last?.annotations == ["note": "ours"])
        // Already listed: nothing to write.
        #expect(try ReferrersFallback.merge(merged, adding: entry("ours")) == nil)
    }

    @Test func aNewIndexHoldsJustTheEntry() throws {
        let created = try #require(try ReferrersFallback.merge(nil, adding: entry("first")))
        let parsed = try ManifestDocument.parse(created)
        #expect(parsed.mediaType == MediaType.ociIndex)
        #expect(parsed.document.children.map(\.digest) == [Digest.of(Array("first".utf8))])
    }

    @Test func aReferrersArtifactTypeFallsBackToItsConfigsMediaType() throws {
        let config = #"{"mediaType":"application/vnd.example.config+json","digest":"\#(subject)","size":2}"#
        let manifest =
            #"{"schemaVersion":2,"config":\#(config),"layers":[],"subject":{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(subject)","size":3}}"#
        let referrer = try #require(ReferrerManifest.parse(Array(manifest.utf8)))
        #expect(referrer.subject.digest == subject)
        #expect(referrer.artifactType == "application/vnd.example.config+json")
        #expect(ReferrerManifest.parse(Array(#"{"schemaVersion":2,"config":\#(config),"layers":[]}"#.utf8)) == nil)
    }
}
