import Foundation
import OCI
import Testing

@testable import Signing

@Suite struct VerifierTests {
    func reference(_ text: String) -> ImageReference { try! ImageReference(parsing: text) }

    @Test(arguments: [
        // match-source: same repository, tags and digests ignored, normalised.
        (
            IdentityRule.matchSource(try! ImageReference(parsing: "registry.example.com/team/app:1.0")), "registry.example.com/team/app",
            true
        ),
        (.matchSource(try! ImageReference(parsing: "alpine")), "docker.io/library/alpine", true),
        (.matchSource(try! ImageReference(parsing: "alpine")), "index.docker.io/library/alpine:3", true),
        (.matchSource(try! ImageReference(parsing: "registry.example.com/team/app")), "registry.example.com/team/other", false),
        (.matchSource(try! ImageReference(parsing: "registry.example.com/team/app")), "mirror.example.com/team/app", false),
        // exact: equal after normalisation, tag included.
        (.exact(try! ImageReference(parsing: "registry.example.com/team/app")), "registry.example.com/team/app", true),
        (.exact(try! ImageReference(parsing: "registry.example.com/team/app")), "registry.example.com/team/app:1.0", false),
        (.exact(try! ImageReference(parsing: "registry.example.com/team/app:1.0")), "registry.example.com/team/app:1.0", true),
        (.exact(try! ImageReference(parsing: "library/alpine")), "alpine", true),
        // prefix: at a path boundary.
        (.prefix("registry.example.com/team"), "registry.example.com/team/app", true),
        (.prefix("registry.example.com/team/"), "registry.example.com/team/app", true),
        (.prefix("registry.example.com/team"), "registry.example.com/team", true),
        (.prefix("registry.example.com/team"), "registry.example.com/teamwork/app", false),
        (.prefix("registry.example.com"), "registry.example.com/team/app:2", true),
        (.prefix("docker.io/library"), "alpine", true),
        (.prefix(""), "alpine", false)
    ])
    func identityRules(rule: IdentityRule, signed: String, accepted: Bool) throws {
        #expect(rule.accepts(try ImageReference(parsing: signed)) == accepted)
    }

    /// A key made here, a payload for a digest, signed: verified; each way of spoiling it is
    /// refused for its own reason.
    @Test func ownSignaturesAndTheirRefusals() throws {
        let key = SigningKey.generate()
        let other = SigningKey.generate()
        let digest = Digest.of(Array("manifest".utf8))
        let payload = SimpleSigningPayload(dockerReference: "registry.example.com/team/app", manifestDigest: digest).bytes
        let signature = try key.sign(payload)
        let rule = IdentityRule.prefix("registry.example.com/team")
        let verifier = Verifier(keys: [other.publicKey, key.publicKey], expectedDigest: digest, identity: rule)

        #expect(verifier.verify(SignedPayload(payload: payload, signature: signature)) == .verified(keyID: key.publicKey.id))
        #expect(verifier.verify(SignedPayload(payload: payload, signature: nil)) == .refused(.noSignature))
        #expect(Verdict.refused(.noSignature).description == "refused: no signature")

        // Corrupted signature: the last byte of the DER changed (still DER, no longer valid).
        var der = [UInt8](Data(base64Encoded: signature)!)
        der[der.count - 1] ^= 0x01
        let corrupted = Data(der).base64EncodedString()
        #expect(verifier.verify(SignedPayload(payload: payload, signature: corrupted)) == .refused(.unknownKey))
        // Not DER at all, and not base64.
        let truncated = Data(der.prefix(10)).base64EncodedString()
        #expect(isMalformedSignature(verifier.verify(SignedPayload(payload: payload, signature: truncated))))
        #expect(isMalformedSignature(verifier.verify(SignedPayload(payload: payload, signature: "not base64!"))))
        // One byte of the payload changed after signing.
        var altered = payload
        altered[altered.count - 2] = UInt8(ascii: "x")
        #expect(verifier.verify(SignedPayload(payload: altered, signature: signature)) == .refused(.unknownKey))

        // Trusted signature, other identity.
        let elsewhere = SimpleSigningPayload(dockerReference: "registry.example.com/teamwork/app", manifestDigest: digest).bytes
        #expect(
            verifier.verify(SignedPayload(payload: elsewhere, signature: try key.sign(elsewhere)))
                == .refused(.identityMismatch(signed: "registry.example.com/teamwork/app", rule: rule)))
        #expect(
            Refusal.identityMismatch(signed: "registry.example.com/teamwork/app", rule: rule).description
                == "identity registry.example.com/teamwork/app does not match prefix (registry.example.com/team)")

        // Trusted signature, another digest.
        let otherDigest = Digest.of(Array("other".utf8))
        let forOther = SimpleSigningPayload(dockerReference: "registry.example.com/team/app", manifestDigest: otherDigest).bytes
        #expect(
            verifier.verify(SignedPayload(payload: forOther, signature: try key.sign(forOther)))
                == .refused(.digestMismatch(signed: otherDigest.string, expected: digest)))

        // Trusted signature over something that is not a simple-signing payload.
        let junk = Array(#"{"critical":{"type":"something else"}}"#.utf8)
        guard case .refused(.malformedPayload)? = Optional(verifier.verify(SignedPayload(payload: junk, signature: try key.sign(junk))))
        else {
            Issue.record("a signed non-payload was not refused as malformed")
            return
        }
    }

    @Test func signingAManifestGivesAVerifiableSignature() throws {
        let key = SigningKey.generate()
        let digest = Digest.of(Array("manifest".utf8))
        let signed = try key.sign(manifest: digest, identity: "registry.example.com/team/app")
        #expect(try SimpleSigningPayload(parsing: signed.payload).manifestDigest == digest.string)
        let verifier = Verifier(
            keys: [key.publicKey], expectedDigest: digest,
            identity: .matchSource(reference("registry.example.com/team/app:1.0")))
        #expect(verifier.verify(signed) == .verified(keyID: key.publicKey.id))
    }

    @Test func twoKeysSatisfyMinimumTwo() throws {
        let a = SigningKey.generate()
        let b = SigningKey.generate()
        let digest = Digest.of(Array("m".utf8))
        let payload = SimpleSigningPayload(dockerReference: "registry.example.com/app", manifestDigest: digest).bytes
        let verifier = Verifier(
            keys: [a.publicKey, b.publicKey], expectedDigest: digest,
            identity: .exact(reference("registry.example.com/app")))
        let verdicts = [
            verifier.verify(SignedPayload(payload: payload, signature: try a.sign(payload))),
            verifier.verify(SignedPayload(payload: payload, signature: try a.sign(payload))),
            verifier.verify(SignedPayload(payload: payload, signature: try b.sign(payload)))
        ]
        let outcome = SignaturePolicy(minimum: 2).evaluate(verdicts)
        #expect(outcome.satisfied)
        #expect(outcome.verifiedKeyIDs == [a.publicKey.id, b.publicKey.id].sorted())
        #expect(!SignaturePolicy(minimum: 3).evaluate(verdicts).satisfied)
    }

    @Test func payloadEscapesAsGoDoes() throws {
        let digest = Digest.of([UInt8]())
        let payload = SimpleSigningPayload(
            dockerReference: "registry.example.com/app", manifestDigest: digest,
            optional: ["b": "x<y>&\"z\"", "a": "1"])
        let text = String(decoding: payload.bytes, as: UTF8.self)
        #expect(text.hasSuffix(#""optional":{"a":"1","b":"x\u003cy\u003e\u0026\"z\""}}"#))
        #expect(try SimpleSigningPayload(parsing: payload.bytes) == payload)
    }

    func isMalformedSignature(_ verdict: Verdict) -> Bool {
        if case .refused(.malformedSignature) = verdict { true } else { false }
    }
}
