import Foundation
import OCI

/// Which signed identities (`critical.identity.docker-reference` of the payload) are acceptable.
/// The signed reference is parsed and normalised as `docker pull` does (`alpine` is
/// `docker.io/library/alpine`) before it is compared; one that does not parse is refused as a
/// malformed payload. The digest is never part of the identity check: the payload's
/// `docker-manifest-digest` is checked against the image separately.
public enum IdentityRule: Sendable, Equatable, CustomStringConvertible {
    /// `match-source`: the signed reference names the same repository (domain and path) as this
    /// reference — the image's source. A tag or digest in either is ignored (cosign signs a
    /// repository name). The natural rule for a copy: the signer signed where the image comes from.
    case matchSource(ImageReference)
    /// `exact`: the signed reference equals this one after normalisation, tag and digest included
    /// (a signature naming `app:1.0` does not satisfy `exact: app`, nor the reverse).
    case exact(ImageReference)
    /// `prefix`: the signed repository's full name (`domain/path`, e.g.
    /// `registry.example.com/team/app`) is this prefix or continues it at a `/` —
    /// `registry.example.com/team` accepts `registry.example.com/team/app`, not
    /// `registry.example.com/teamwork`. A trailing `/` on the prefix is ignored. The prefix is
    /// compared as written, so Docker Hub prefixes are written in full (`docker.io/library`).
    case prefix(String)

    /// True when `signed` (a normalised reference) satisfies the rule.
    public func accepts(_ signed: ImageReference) -> Bool {
        switch self {
        case .matchSource(let source):
            return signed.canonicalName == source.canonicalName
        case .exact(let reference):
            return signed == reference
        case .prefix(let prefix):
            var trimmed = Substring(prefix)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            let name = signed.canonicalName
            return !trimmed.isEmpty && (name == trimmed || name.hasPrefix(trimmed + "/"))
        }
    }

    public var description: String {
        switch self {
        case .matchSource(let source): "match-source (\(source.canonicalName))"
        case .exact(let reference): "exact (\(reference.canonicalString))"
        case .prefix(let prefix): "prefix (\(prefix))"
        }
    }
}

/// The outcome for one signature.
public enum Verdict: Sendable, Equatable {
    /// Verified by the trusted key with this id (`PublicKey.id`).
    case verified(keyID: String)
    case refused(Refusal)

    public var keyID: String? {
        if case .verified(let id) = self { id } else { nil }
    }
}

/// Why a signature does not count.
public enum Refusal: Error, Sendable, Equatable {
    /// The layer has no `dev.cosignproject.cosign/signature` annotation.
    case noSignature
    /// No trusted key verifies the signature over the payload: another key made it, or the
    /// payload or signature changed since.
    case unknownKey
    /// A trusted signature for another manifest: the payload's `docker-manifest-digest`.
    case digestMismatch(signed: String, expected: Digest)
    /// A trusted signature whose `docker-reference` the identity rule does not accept.
    case identityMismatch(signed: String, rule: IdentityRule)
    case malformedPayload(String)
    case malformedSignature(String)
}

extension Refusal: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noSignature: "no signature"
        case .unknownKey: "signature by an unknown key (no trusted key verifies it)"
        case .digestMismatch(let signed, let expected): "payload names \(signed) not \(expected)"
        case .identityMismatch(let signed, let rule): "identity \(signed) does not match \(rule)"
        case .malformedPayload(let why): "malformed payload: \(why)"
        case .malformedSignature(let why): "malformed signature: \(why)"
        }
    }
}

extension Verdict: CustomStringConvertible {
    public var description: String {
        switch self {
        case .verified(let id): "verified by key \(id)"
        case .refused(let refusal): "refused: \(refusal)"
        }
    }
}

/// Checks signatures of one image against trusted keys, the image's manifest digest and an
/// identity rule, in the order containers/image checks cosign signatures
/// (`signature/policy_eval_sigstore.go`, `signature/internal/sigstore_payload.go`): the
/// cryptographic signature over the exact payload bytes first, and only then what the (now
/// trusted) payload says — type, digest, identity. Nothing in an unverified payload is believed.
public struct Verifier: Sendable {
    public var keys: [PublicKey]
    public var expectedDigest: Digest
    public var identity: IdentityRule

    public init(keys: [PublicKey], expectedDigest: Digest, identity: IdentityRule) {
        self.keys = keys
        self.expectedDigest = expectedDigest
        self.identity = identity
    }

    /// The verdict for one payload and its signature.
    public func verify(_ signed: SignedPayload) -> Verdict {
        guard let signature = signed.signature else { return .refused(.noSignature) }
        guard let der = Data(base64Encoded: signature) else { return .refused(.malformedSignature("not base64")) }
        let derBytes = [UInt8](der)
        guard let key = keys.first(where: { $0.isValid(signatureDER: derBytes, payload: signed.payload) }) else {
            if !PublicKey.isWellFormedSignature(derBytes) {
                return .refused(.malformedSignature("not an ASN.1 DER ECDSA P-256 signature"))
            }
            return .refused(.unknownKey)
        }
        let payload: SimpleSigningPayload
        do {
            payload = try SimpleSigningPayload(parsing: signed.payload)
        } catch {
            return .refused(.malformedPayload(error.description))
        }
        guard let signedDigest = try? Digest(parsing: payload.manifestDigest), signedDigest == expectedDigest else {
            return .refused(.digestMismatch(signed: payload.manifestDigest, expected: expectedDigest))
        }
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: payload.dockerReference)
        } catch {
            return .refused(.malformedPayload("docker-reference \"\(payload.dockerReference)\": \(error)"))
        }
        guard identity.accepts(reference) else {
            return .refused(.identityMismatch(signed: payload.dockerReference, rule: identity))
        }
        return .verified(keyID: key.id)
    }

    /// The verdict for a signature layer, given the payload blob fetched for it: the blob must be
    /// the one the layer names (digest and size) before its signature is checked.
    public func verify(entry: SignatureEntry, payloadBlob: [UInt8]) -> Verdict {
        let descriptor = entry.descriptor
        let actual = Digest.of(payloadBlob, algorithm: descriptor.digest.algorithm)
        guard actual == descriptor.digest, Int64(payloadBlob.count) == descriptor.size else {
            return .refused(
                .malformedPayload("payload blob is \(actual) (\(payloadBlob.count) bytes), the layer names \(descriptor.digest)"))
        }
        return verify(SignedPayload(payload: payloadBlob, signature: entry.signature))
    }
}

/// `minimum`: how many distinct trusted keys must have verified signatures of the image.
/// Several signatures by one key count once.
public struct SignaturePolicy: Sendable, Equatable {
    public var minimum: Int

    public init(minimum: Int) { self.minimum = minimum }

    public func evaluate(_ verdicts: [Verdict]) -> PolicyOutcome {
        PolicyOutcome(minimum: minimum, verdicts: verdicts)
    }
}

/// The result of a policy over an image's signatures.
public struct PolicyOutcome: Sendable, Equatable, CustomStringConvertible {
    public var minimum: Int
    /// Every signature's verdict, in the order given.
    public var verdicts: [Verdict]
    /// The distinct keys that verified a signature, sorted.
    public var verifiedKeyIDs: [String] { Set(verdicts.compactMap(\.keyID)).sorted() }
    public var satisfied: Bool { verifiedKeyIDs.count >= minimum }

    public var description: String {
        let keys = verifiedKeyIDs
        var text = "\(keys.count) of \(minimum) required signing keys verified"
        if !keys.isEmpty { text += " (\(keys.joined(separator: ", ")))" }
        if verdicts.isEmpty { return text + "; no signatures" }
        let refusals = verdicts.compactMap { verdict -> String? in
            if case .refused(let refusal) = verdict { refusal.description } else { nil }
        }
        if !refusals.isEmpty { text += "; refused: " + refusals.joined(separator: "; ") }
        return text
    }
}
