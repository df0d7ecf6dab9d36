import Foundation
import OCI
import Testing

@testable import Signing

/// Signatures made by cosign itself (containers/image's fixtures, Fixtures/cosign/README.md).
@Suite struct CosignFixtureTests {
    let identity = IdentityRule.matchSource(try! ImageReference(parsing: fixtureIdentity))

    func verdicts(_ image: DirImage, keys: [PublicKey]) -> [Verdict] {
        let verifier = Verifier(keys: keys, expectedDigest: image.digest, identity: identity)
        return image.signatures.map(verifier.verify)
    }

    @Test func keyIDIsTheSHA256OfTheSubjectPublicKeyInfo() throws {
        let key = try fixtureKey("cosign.pub")
        // sha256 of the DER inside cosign.pub's PEM block (openssl pkey -pubin -outform DER | sha256sum).
        #expect(key.id == "sha256:c87a79018f346cc02482448b77296b0bea143ef2ccab99b04776fb0f638f301f")
        let pemText = try String(contentsOfFile: fixtures + "/cosign.pub", encoding: .utf8)
        #expect(key.pem == pemText)
        #expect(try fixtureKey("cosign2.pub").id != key.id)
    }

    @Test func validSignatureIsVerifiedByCosignPub() throws {
        let image = try DirImage("dir-img-cosign-valid")
        #expect(image.digest.string == "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00")
        let key = try fixtureKey("cosign.pub")
        let result = verdicts(image, keys: [key])
        #expect(result == [.verified(keyID: key.id)])
        #expect(SignaturePolicy(minimum: 1).evaluate(result).satisfied)
    }

    @Test func validSignatureIsRefusedWithAnotherKey() throws {
        let image = try DirImage("dir-img-cosign-valid")
        let result = verdicts(image, keys: [try fixtureKey("cosign2.pub")])
        #expect(result == [.refused(.unknownKey)])
        #expect(result[0].description == "refused: signature by an unknown key (no trusted key verifies it)")
        let outcome = SignaturePolicy(minimum: 1).evaluate(result)
        #expect(!outcome.satisfied)
        #expect(
            outcome.description
                == "0 of 1 required signing keys verified; refused: signature by an unknown key (no trusted key verifies it)")
    }

    @Test func signatureNamingAnotherDigestIsRefused() throws {
        let image = try DirImage("dir-img-cosign-manifest-digest-error")
        let result = verdicts(image, keys: [try fixtureKey("cosign.pub"), try fixtureKey("cosign2.pub")])
        let signed = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
        #expect(result == [.refused(.digestMismatch(signed: signed, expected: image.digest))])
        #expect(Refusal.digestMismatch(signed: signed, expected: image.digest).description == "payload names \(signed) not \(image.digest)")
    }

    @Test func manifestModifiedAfterSigningIsRefused() throws {
        let image = try DirImage("dir-img-cosign-modified-manifest")
        let result = verdicts(image, keys: [try fixtureKey("cosign.pub")])
        guard case .refused(.digestMismatch(_, let expected))? = result.first, result.count == 1 else {
            Issue.record("expected one digest mismatch, got \(result)")
            return
        }
        #expect(expected == image.digest)
    }

    @Test func mixedCountsExactlyOneValidSignature() throws {
        let image = try DirImage("dir-img-cosign-mixed")
        let key = try fixtureKey("cosign.pub")
        let result = verdicts(image, keys: [key, try fixtureKey("cosign2.pub")])
        #expect(result.count == 2)
        #expect(result.filter { $0.keyID != nil }.count == 1)
        #expect(result.contains(.refused(.unknownKey)))
        #expect(SignaturePolicy(minimum: 1).evaluate(result).verifiedKeyIDs == [key.id])
        #expect(SignaturePolicy(minimum: 1).evaluate(result).satisfied)
        #expect(!SignaturePolicy(minimum: 2).evaluate(result).satisfied)
    }

    @Test func twoSignaturesByOneKeyCountAsOneKey() throws {
        let image = try DirImage("dir-img-cosign-valid-2")
        let key = try fixtureKey("cosign.pub")
        let result = verdicts(image, keys: [key])
        #expect(result == [.verified(keyID: key.id), .verified(keyID: key.id)])
        #expect(SignaturePolicy(minimum: 1).evaluate(result).satisfied)
        #expect(!SignaturePolicy(minimum: 2).evaluate(result).satisfied)
    }

    @Test func signatureByAThirdKeyIsUnknown() throws {
        let signed = try SigstoreSignatureFile.parse(try readBytes(fixtures + "/unknown-cosign-key.signature"))
        let verifier = Verifier(
            keys: [try fixtureKey("cosign.pub"), try fixtureKey("cosign2.pub")],
            expectedDigest: try DirImage("dir-img-cosign-valid").digest, identity: identity)
        #expect(verifier.verify(signed) == .refused(.unknownKey))
    }

    @Test func noSignaturesIsNotSatisfied() {
        let outcome = SignaturePolicy(minimum: 1).evaluate([])
        #expect(!outcome.satisfied)
        #expect(outcome.description == "0 of 1 required signing keys verified; no signatures")
        #expect(SignaturePolicy(minimum: 0).evaluate([]).satisfied)
    }

    /// pushctl's payload for the fixture's digest and identity is byte for byte the one cosign signed.
    @Test func payloadIsTheOneCosignWrites() throws {
        let image = try DirImage("dir-img-cosign-valid")
        let payload = SimpleSigningPayload(dockerReference: fixtureIdentity, manifestDigest: image.digest)
        #expect(payload.bytes == image.signatures[0].payload)
        #expect(try SimpleSigningPayload(parsing: image.signatures[0].payload) == payload)
    }

    /// A signature manifest built from the fixture's layer, read back entry by entry with the
    /// payload blob "fetched" by digest, verifies as the `dir:` signature did.
    @Test func signatureManifestRoundTripVerifies() throws {
        let image = try DirImage("dir-img-cosign-valid")
        let key = try fixtureKey("cosign.pub")
        let update = try #require(try SignatureManifest.merge(nil, adding: image.signatures[0]))
        let entries = try SignatureManifest.entries(update.manifest)
        #expect(entries.count == 1)
        #expect(entries[0].descriptor.digest == Digest.of(update.payload))
        let verifier = Verifier(keys: [key], expectedDigest: image.digest, identity: identity)
        #expect(verifier.verify(entry: entries[0], payloadBlob: update.payload) == .verified(keyID: key.id))
        // A blob that is not the one the layer names is refused before any signature check.
        guard case .refused(.malformedPayload)? = Optional(verifier.verify(entry: entries[0], payloadBlob: update.payload + [0x20])) else {
            Issue.record("a payload blob of another digest was not refused")
            return
        }
    }
}
