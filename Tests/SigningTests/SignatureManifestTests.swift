import Foundation
import FuzzTargets
import OCI
import Testing

@testable import Signing

@Suite struct SignatureManifestTests {
    let digest = try! Digest(parsing: "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00")

    func signed(_ key: SigningKey, reference: String = "registry.example.com/app") throws -> SignedPayload {
        let payload = SimpleSigningPayload(dockerReference: reference, manifestDigest: digest).bytes
        return SignedPayload(payload: payload, signature: try key.sign(payload))
    }

    func json(_ bytes: [UInt8]) throws -> JSONValue { try JSONValue.parse(bytes) }

    @Test func tagNamesTheDigest() {
        #expect(SignatureManifest.tag(for: digest) == "sha256-634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00.sig")
    }

    @Test func newManifestHasOneSignatureLayer() throws {
        let key = SigningKey.generate()
        let one = try signed(key)
        let update = try #require(try SignatureManifest.merge(nil, adding: one))
        #expect(update.manifestMediaType == MediaType.ociManifest)
        #expect(update.payloadDescriptor == one.layerDescriptor)
        #expect(update.configDescriptor.digest == Digest.of(update.config))
        #expect(update.configDescriptor.mediaType == MediaType.ociConfig)
        let layerDigest = Digest.of(one.payload).string
        #expect(
            String(decoding: update.config, as: UTF8.self)
                == #"{"architecture":"","config":{},"os":"","rootfs":{"diff_ids":["\#(layerDigest)"],"type":"layers"}}"#)
        let entries = try SignatureManifest.entries(update.manifest)
        #expect(entries.map(\.descriptor) == [one.layerDescriptor])
        #expect(entries[0].signature == one.signature)
        let manifest = try json(update.manifest)
        #expect(manifest["schemaVersion"] == .integer(2))
        #expect(manifest["mediaType"] == .string(MediaType.ociManifest))
    }

    @Test func sameInputGivesSameBytes() throws {
        let key = SigningKey.generate()
        let one = try signed(key)
        let a = try #require(try SignatureManifest.merge(nil, adding: one))
        let b = try #require(try SignatureManifest.merge(nil, adding: one))
        #expect(a == b)
        let two = try signed(SigningKey.generate())
        let c = try #require(try SignatureManifest.merge(a.manifest, adding: two))
        let d = try #require(try SignatureManifest.merge(b.manifest, adding: two))
        #expect(c.manifest == d.manifest && c.config == d.config)
    }

    @Test func addingASignatureAlreadyThereChangesNothing() throws {
        let one = try signed(SigningKey.generate())
        let update = try #require(try SignatureManifest.merge(nil, adding: one))
        #expect(try SignatureManifest.merge(update.manifest, adding: one) == nil)
        // Also when the existing layer carries more annotations (cosign's bundle, say).
        let others = #"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
             "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":\#(one.payload.count),
                        "digest":"\#(Digest.of(one.payload))",
                        "annotations":{"dev.cosignproject.cosign/signature":"\#(one.signature!)","dev.sigstore.cosign/bundle":"{}"}}]}
            """#
        #expect(try SignatureManifest.merge(Array(others.utf8), adding: one) == nil)
    }

    /// A manifest another tool wrote (cosign's key order, fields pushctl does not model, a layer of
    /// another media type, a signature with a bundle annotation): merging keeps every layer and
    /// every unknown field, and appends the new layer last.
    @Test func mergingKeepsOthersLayers() throws {
        let theirs = #"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 233, "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
              "layers": [
                {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": 250,
                 "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                 "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ...", "dev.sigstore.cosign/bundle": "{\"SignedEntryTimestamp\":\"x\"}"},
                 "data": "e30=", "x-vendor": {"n": 1.5, "list": [true, null]}},
                {"mediaType": "application/vnd.example.other+json", "size": 3,
                 "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222"}
              ],
              "annotations": {"org.example.note": "kept"},
              "x-top": [1, 2, 3]
            }
            """#
        let existing = Array(theirs.utf8)
        let before = try json(existing)
        let mine = try signed(SigningKey.generate())
        let update = try #require(try SignatureManifest.merge(existing, adding: mine))
        let after = try json(update.manifest)

        guard case .array(let oldLayers)? = before["layers"], case .array(let newLayers)? = after["layers"] else {
            Issue.record("no layers")
            return
        }
        #expect(newLayers.count == 3)
        #expect(Array(newLayers.prefix(2)) == oldLayers)
        #expect(newLayers[2]["digest"] == .string(Digest.of(mine.payload).string))
        #expect(after["annotations"] == before["annotations"])
        #expect(after["x-top"] == before["x-top"])
        #expect(after["config"]?["digest"] == .string(update.configDescriptor.digest.string))

        // Entries: the two signature layers (the other media type is not a signature).
        let entries = try SignatureManifest.entries(update.manifest)
        #expect(entries.count == 2)
        #expect(entries[0].signature == "MEUCIQ...")
        #expect(entries[1].descriptor == mine.layerDescriptor)
        // The config lists every layer.
        let config = try json(update.config)
        #expect(
            config["rootfs"]?["diff_ids"]
                == .array(newLayers.map { $0["digest"]! }))
    }

    @Test func twoSignersAccumulateAndVerify() throws {
        let a = SigningKey.generate()
        let b = SigningKey.generate()
        let first = try #require(try SignatureManifest.merge(nil, adding: try signed(a)))
        let second = try #require(try SignatureManifest.merge(first.manifest, adding: try signed(b)))
        #expect(try SignatureManifest.merge(second.manifest, adding: try signed(a)) != nil)  // a new signature by a: ECDSA is randomised
        let entries = try SignatureManifest.entries(second.manifest)
        #expect(entries.count == 2)
        let verifier = Verifier(
            keys: [a.publicKey, b.publicKey], expectedDigest: digest,
            identity: .exact(try ImageReference(parsing: "registry.example.com/app")))
        let verdicts = entries.map { verifier.verify(entry: $0, payloadBlob: first.payload) }
        #expect(verdicts == [.verified(keyID: a.publicKey.id), .verified(keyID: b.publicKey.id)])
        #expect(SignaturePolicy(minimum: 2).evaluate(verdicts).satisfied)
    }

    @Test func malformedManifestsAreRefused() throws {
        let one = try signed(SigningKey.generate())
        #expect(throws: SignatureManifestError.self) { try SignatureManifest.merge(Array("[1]".utf8), adding: one) }
        #expect(throws: SignatureManifestError.self) { try SignatureManifest.merge(Array(#"{"layers":{}}"#.utf8), adding: one) }
        #expect(throws: SignatureManifestError.noSignature) {
            try SignatureManifest.merge(nil, adding: SignedPayload(payload: one.payload, signature: nil))
        }
        #expect(throws: SignatureManifestError.self) { try SignatureManifest.entries(Array("not json".utf8)) }
        #expect(try SignatureManifest.entries(Array(#"{"schemaVersion":2}"#.utf8)).isEmpty)
    }

    /// Mutated manifests (bytes flipped, inserted, deleted; deterministic): merging either refuses
    /// or keeps every layer and appends the new one last, and reading entries never crashes.
    @Test func mutatedManifestsNeverCrashAndMergeKeepsLayers() throws {
        let mine = try signed(SigningKey.generate())
        let base = try #require(try SignatureManifest.merge(nil, adding: try signed(SigningKey.generate()))).manifest
        var generator = SplitMix64(seed: 18)
        var merged = 0
        for _ in 0..<1500 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<max(bytes.count, 1), using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.insert(Array(#"{}[]",:0"#.utf8).randomElement(using: &generator)!, at: min(position, bytes.count))
                default: if !bytes.isEmpty { bytes.remove(at: position) }
                }
            }
            _ = try? SignatureManifest.entries(bytes)
            _ = try? SimpleSigningPayload(parsing: bytes)
            guard let update = try? SignatureManifest.merge(bytes, adding: mine) else { continue }
            merged += 1
            guard case .array(let newLayers)? = try json(update.manifest)["layers"] else {
                Issue.record("merged manifest without layers")
                continue
            }
            let oldLayers: [JSONValue]
            if case .array(let items)? = try? json(bytes)["layers"] { oldLayers = items } else { oldLayers = [] }
            #expect(Array(newLayers.dropLast()) == oldLayers)
            #expect(newLayers.last?["digest"] == .string(Digest.of(mine.payload).string))
        }
        // Enough of the mutants are still manifests for the invariant to mean something.
        #expect(merged > 100)
    }

    @Test func jsonValuesSurviveARoundTrip() throws {
        let text = #"{"a":1,"b":true,"c":1.5,"d":null,"e":"s\u003c/","f":[0,false,-7],"g":{}}"#
        let value = try json(Array(text.utf8))
        #expect(value["a"] == .integer(1) && value["b"] == .bool(true) && value["f"] == .array([.integer(0), .bool(false), .integer(-7)]))
        #expect(value.text == text)
        #expect(try json(Array(#"{ "b" : 2, "a" : [ ] }"#.utf8)).text == #"{"a":[],"b":2}"#)
    }

    @Test func sigstoreSignatureFileRoundTrips() throws {
        let original = try readBytes(fixtures + "/dir-img-cosign-valid/signature-1")
        let parsed = try SigstoreSignatureFile.parse(original)
        let again = try SigstoreSignatureFile.parse(SigstoreSignatureFile.serialize(parsed))
        #expect(again == parsed)
        #expect(throws: SignatureManifestError.self) { try SigstoreSignatureFile.parse(Array("{}".utf8)) }
    }
}
