import Foundation
import JobFile
import Threading
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import Signing

/// The source's signatures of one image: what `verify:` checks and what `sign:` carries over.
struct SourceSignatures: Sendable {
    /// Every simple-signing layer found (the `.sig` tag's, then those of OCI 1.1 referrers), with
    /// its payload when it could be fetched.
    var layers: [(entry: SignatureEntry, payload: [UInt8]?)] = []
    /// The `.sig` tag's manifest descriptor, when there is one.
    var sigTag: Descriptor?
    /// Digests of the signature manifests read (the `.sig` tag's, the referrers'), in order.
    var manifests: [Digest] = []

    /// The layers as signed payloads (for merging into the target's `.sig` manifest).
    var signedPayloads: [SignedPayload] {
        layers.compactMap { layer in
            guard let payload = layer.payload,
                Digest.of(payload, algorithm: layer.entry.descriptor.digest.algorithm) == layer.entry.descriptor.digest
            else { return nil }
            var others = layer.entry.descriptor.annotations ?? [:]
            others[SignatureManifest.signatureAnnotation] = nil
            return SignedPayload(payload: payload, signature: layer.entry.signature, otherAnnotations: others)
        }
    }
}

/// The `verify:` verdict of one image (docs/jobfile.md "Signatures").
public struct SignatureVerdict: Sendable {
    public var satisfied: Bool
    /// Distinct key ids that verified a signature.
    public var keyIDs: [String]
    /// The policy's outcome (accepted) or the reason it was refused.
    public var text: String

    init(_ outcome: PolicyOutcome, digest: Digest) {
        satisfied = outcome.satisfied
        keyIDs = outcome.verifiedKeyIDs
        let count = "\(outcome.verifiedKeyIDs.count) of \(outcome.minimum) required key\(outcome.minimum == 1 ? "" : "s") verified"
        if outcome.satisfied {
            text = count + " (" + outcome.verifiedKeyIDs.joined(separator: ", ") + ")"
        } else if outcome.verdicts.isEmpty {
            text = "no signature of \(digest) (\(count))"
        } else {
            var reasons: [String] = []
            for verdict in outcome.verdicts {
                if case .refused(let refusal) = verdict, !reasons.contains(refusal.description) { reasons.append(refusal.description) }
            }
            text = (reasons.isEmpty ? "too few keys" : reasons.joined(separator: "; ")) + " (\(count))"
        }
    }
}

/// Reads an image's signatures from a `docker://` source: the `.sig` tag, and manifests of
/// cosign's signature artifact type among the OCI 1.1 referrers.
struct RegistrySignatureReader {
    static let cosignArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
    /// Payloads are small JSON documents; a larger blob is not a payload.
    static let maxPayload = 1 << 20

    let access: RegistrySourceAccess
    let repository: String

    func read(_ digest: Digest) throws(RegistryError) -> SourceSignatures {
        var found = SourceSignatures()
        var manifests: [[UInt8]] = []
        let tag = SignatureManifest.tag(for: digest)
        let sig = try access.read { client throws(RegistryError) in try client.manifestDescriptor(repository, reference: tag) }
        if let sig {
            found.sigTag = sig
            found.manifests.append(sig.digest)
            manifests.append(
                try access.read { client throws(RegistryError) in try client.getManifest(repository, reference: sig.digest.string).bytes })
        }
        // OCI 1.1 referrers: the referrers API, else the fallback tag `<alg>-<hex>`.
        let referrers = try access.read { client throws(RegistryError) -> [Descriptor] in
            if let listed = (try? client.listReferrers(repository, of: digest, artifactType: Self.cosignArtifactType)) ?? nil {
                return listed
            }
            do throws(RegistryError) {
                return ReferrersFallback.entries(try client.getManifest(repository, reference: ReferrersFallback.tag(for: digest)).bytes)
            } catch {
                if error.isNotFound { return [] }
                throw error
            }
        }
        for referrer in referrers where referrer.artifactType == Self.cosignArtifactType {
            found.manifests.append(referrer.digest)
            manifests.append(
                try access.read { client throws(RegistryError) in
                    try client.getManifest(repository, reference: referrer.digest.string).bytes
                })
        }
        for manifest in manifests {
            guard let entries = try? SignatureManifest.entries(manifest) else { continue }
            for entry in entries {
                found.layers.append((entry, entry.descriptor.size <= Self.maxPayload ? try fetch(entry.descriptor.digest) : nil))
            }
        }
        return found
    }

    private func fetch(_ digest: Digest) throws(RegistryError) -> [UInt8]? {
        try access.read { client throws(RegistryError) in try Self.fetchSmallBlob(client, repository, digest) }
    }

    /// A small blob's bytes (nil when it is larger than `maxPayload` or not there).
    static func fetchSmallBlob(_ client: RegistryClient, _ repository: String, _ digest: Digest) throws(RegistryError) -> [UInt8]? {
        let bytes = LockedValue<[UInt8]>([])
        do {
            try client.fetchBlob(repository, digest) { chunk in
                bytes.withLock { all in
                    // Past the limit nothing more is kept; the blob is then not a payload.
                    if all.count <= maxPayload { all += chunk }
                }
            }
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
        let all = bytes.withLock { $0 }
        return all.count > maxPayload ? nil : all
    }

}

/// `verify:` between preparation and the executor (docs/run.md "Signatures"): an image whose
/// source signatures do not satisfy its policy is rejected — none of its pushes (nor its
/// referrers') reach the executor — and the others go on. Accepted images bring their `.sig` tag
/// along (even without `referrers:`), unless they are signed here, in which case the source's
/// signature layers are merged into the target's `.sig` manifest by `SignatureWriter`.
struct SignatureGate {
    /// A rejected image: recorded as rows with status `rejected` and reported as a failed push.
    struct Rejection {
        var job: Job
        var push: PushJob
        var verdict: SignatureVerdict
    }

    /// What the signing stage needs for one accepted primary push.
    struct Signing {
        var push: PushJob
        var spec: SignSpec
        var carried: [SignedPayload]
    }

    var rejections: [Rejection] = []
    /// Verdicts of accepted images, by the primary push's `pushKey`.
    var verdicts: [String: SignatureVerdict] = [:]
    var signings: [Signing] = []
    /// Signature manifests read per primary push (`pushKey`), for saved plans.
    var seen: [String: [Digest]] = [:]
    /// Items with a `verify:` policy whose source carries no signatures pushctl reads.
    var checked: Set<String> = []

    /// Checks every item of `prepared` with a `verify:` policy and plans the signing of those with
    /// `sign:`, leaving in `prepared` only what may be pushed.
    static func apply(_ prepared: inout RunPreparation, keys: SignatureKeys, registries: RunRegistries) -> SignatureGate {
        var gate = SignatureGate()
        for index in prepared.items.indices {
            let item = prepared.items[index]
            guard case .success(var ready) = item.result else { continue }
            guard let entry = item.job.images.first(where: { $0.index == item.item.imageIndex }) else { continue }
            let verify = item.job.verify(of: entry)
            let sign = item.job.sign(of: entry)
            guard verify != nil || sign != nil else { continue }
            let reader: RegistrySignatureReader?
            var sourceReference: ImageReference?
            if case .registry(let reference) = item.item.source.spec {
                sourceReference = reference
                reader = (try? registries.source(reference, of: item.job)).map {
                    RegistrySignatureReader(access: $0, repository: reference.path)
                }
            } else {
                reader = nil
            }
            var kept: [PushJob] = []
            var failure: PreparationError?
            for group in Self.groups(ready.pushes) {
                let primary = group[0]
                let digest = primary.image.root.digest
                let sigTag = SignatureManifest.tag(for: digest)
                var signatures = SourceSignatures()
                if verify != nil || (sign != nil && item.job.referrers(of: item.item) != nil) {
                    if let reader {
                        do throws(RegistryError) {
                            signatures = try reader.read(digest)
                        } catch {
                            failure = .registrySource("\(primary.target.source) (signatures)", error)
                            break
                        }
                    } else if verify != nil {
                        failure = .unsupportedSource(
                            item.item.source.written,
                            "'verify' reads signatures from docker:// sources only (a local source carries none pushctl can find)")
                        break
                    }
                }
                gate.seen[primary.target.pushKey] = signatures.manifests
                if let verify {
                    gate.checked.insert(item.item.id)
                    let verdict = Self.judge(
                        signatures, digest: digest, spec: verify, keys: keys,
                        source: sourceReference ?? ImageReference(domain: "", path: ""))
                    guard verdict.satisfied else {
                        gate.rejections.append(Rejection(job: item.job, push: primary, verdict: verdict))
                        continue
                    }
                    gate.verdicts[primary.target.pushKey] = verdict
                }
                var pushes = group
                if let sign {
                    // The target's `.sig` is written by the signing stage, merged; a copy of the
                    // source's tag would replace it.
                    pushes.removeAll { $0.target.tags == [sigTag] }
                    gate.signings.append(Signing(push: primary, spec: sign, carried: signatures.signedPayloads))
                } else if verify != nil, let found = signatures.sigTag, !pushes.contains(where: { $0.target.tags == [sigTag] }),
                    let reader
                {
                    let description = "docker://\(sourceReference?.canonicalName ?? ""):\(sigTag)"
                    let image = RegistryImageSource(
                        description: description, access: reader.access, repository: reader.repository, root: found)
                    pushes.append(
                        ReferrerDiscovery.derived(
                            primary, image: image.sourceImage, source: description, subject: primary.image.root, tags: [sigTag]))
                }
                kept += pushes
            }
            if let failure {
                let primary = ready.pushes.first
                prepared.items[index].result = .failure(
                    RunPreparation.Failed(
                        error: failure,
                        target: primary?.target
                            ?? PushTarget(
                                itemID: item.item.id, job: item.job.name, source: item.item.source.written, registry: item.item.registry,
                                host: item.item.registry, repository: item.item.repository, tags: []),
                        registryKey: primary?.registryKey ?? item.item.registry))
                gate.signings.removeAll { $0.push.target.itemID == item.item.id }
                gate.rejections.removeAll { $0.push.target.itemID == item.item.id }
                continue
            }
            ready.pushes = kept
            prepared.items[index].result = .success(ready)
        }
        return gate
    }

    /// A primary push (no subject) and the referrer pushes that follow it.
    static func groups(_ pushes: [PushJob]) -> [[PushJob]] {
        var out: [[PushJob]] = []
        for push in pushes {
            if push.subject == nil || out.isEmpty { out.append([push]) } else { out[out.count - 1].append(push) }
        }
        return out
    }

    static func judge(_ signatures: SourceSignatures, digest: Digest, spec: VerifySpec, keys: SignatureKeys, source: ImageReference)
        -> SignatureVerdict
    {
        let identity: IdentityRule
        switch spec.identity {
        case .matchSource: identity = .matchSource(source)
        case .exact(let text): identity = (try? ImageReference(parsing: text)).map { .exact($0) } ?? .prefix(text)
        case .prefix(let prefix): identity = .prefix(prefix)
        }
        let verifier = Verifier(keys: keys.publicKeys(spec), expectedDigest: digest, identity: identity)
        let verdicts = signatures.layers.map { layer -> Verdict in
            guard let payload = layer.payload else {
                return .refused(.malformedPayload("payload blob \(layer.entry.descriptor.digest) not found"))
            }
            return verifier.verify(entry: layer.entry, payloadBlob: payload)
        }
        return SignatureVerdict(SignaturePolicy(minimum: spec.minimum).evaluate(verdicts), digest: digest)
    }
}
