import Foundation
import JobFile
import OCI
import Pusher
import Registry
import Signing

/// `sign:` after a push (docs/jobfile.md "Signatures"): the pushed root digest gets a signature by
/// the job's key with the target reference as identity, under the target's `.sig` tag, merged
/// with what is there (others' signatures are never dropped) and with the source's signatures
/// the image brought along.
///
/// "Already signed" is the target's `.sig` manifest holding a signature that verifies with this
/// key for this digest and identity (ECDSA signatures differ each time, so a fresh one is never
/// compared): then, unless the source's signatures are missing there, nothing is written — a
/// rerun of an unchanged, signed push writes nothing. A failure leaves the tag as it was (blobs
/// first, the manifest last) and the next run signs again.
struct SignatureWriter {
    let key: SigningKey

    /// `host[:port]/repository` of a push's target: the signed identity.
    static func identity(of push: PushJob) -> String { "\(push.registryKey)/\(push.target.repository)" }

    /// Signs `push`'s root digest at its target; returns the digest of the `.sig` manifest
    /// written, or nil when nothing needed writing.
    func sign(_ push: PushJob, carrying carried: [SignedPayload]) throws(SigningStageError) -> Digest? {
        guard let connection = push.endpoints as? RegistryConnection else {
            throw .unsupported("the target of \(push.target.repository) is not a registry connection")
        }
        do {
            return try connection.endpoints.perform { client, _ in
                try write(
                    client, repository: push.target.repository, digest: push.image.root.digest, identity: Self.identity(of: push),
                    carried: carried)
            }.value
        } catch let error as SigningStageError {
            throw error
        } catch let error as RegistryError {
            throw .registry(error)
        } catch {
            throw .unsupported(String(describing: error))
        }
    }

    private func write(_ client: RegistryClient, repository: String, digest: Digest, identity: String, carried: [SignedPayload]) throws
        -> Digest?
    {
        let tag = SignatureManifest.tag(for: digest)
        var current: [UInt8]?
        do {
            current = try client.getManifest(repository, reference: tag).bytes
        } catch {
            if !error.isNotFound { throw error }
        }
        var update: SignatureManifestUpdate?
        var newPayloads: [Digest: (Descriptor, [UInt8])] = [:]
        func merge(_ signed: SignedPayload) throws(SigningStageError) {
            do throws(SignatureManifestError) {
                if let merged = try SignatureManifest.merge(current, adding: signed) {
                    update = merged
                    current = merged.manifest
                    newPayloads[merged.payloadDescriptor.digest] = (merged.payloadDescriptor, merged.payload)
                }
            } catch {
                throw .manifest(error)
            }
        }
        for signed in carried { try merge(signed) }

        guard let reference = try? ImageReference(parsing: identity) else {
            throw SigningStageError.unsupported("the target \(identity) is not an image reference")
        }
        let verifier = Verifier(keys: [key.publicKey], expectedDigest: digest, identity: .exact(reference))
        var signed = false
        let entries = (try? SignatureManifest.entries(current ?? [])) ?? []
        for entry in entries where entry.signature != nil {
            var payload = newPayloads[entry.descriptor.digest]?.1
            if payload == nil { payload = try RegistrySignatureReader.fetchSmallBlob(client, repository, entry.descriptor.digest) }
            guard let payload else { continue }
            if case .verified = verifier.verify(entry: entry, payloadBlob: payload) {
                signed = true
                break
            }
        }
        if !signed {
            let signature: SignedPayload
            do throws(KeyError) {
                signature = try key.sign(manifest: digest, identity: identity)
            } catch {
                throw SigningStageError.key(error)
            }
            try merge(signature)
        }
        guard let update else { return nil }
        for (descriptor, bytes) in newPayloads.values.sorted(by: { $0.0.digest.string < $1.0.digest.string }) {
            try upload(client, repository, descriptor, bytes)
        }
        try upload(client, repository, update.configDescriptor, update.config)
        return try client.putManifest(repository, reference: tag, bytes: update.manifest, mediaType: update.manifestMediaType)
    }

    private func upload(_ client: RegistryClient, _ repository: String, _ descriptor: Descriptor, _ bytes: [UInt8]) throws {
        if try client.blobExists(repository, descriptor.digest) != nil { return }
        try client.uploadBlob(repository, BlobPayload(descriptor: descriptor) { offset in MemoryBlobStream(bytes, offset: Int(offset)) })
    }
}

/// Why signing a push failed (the push's item fails, exit 1; the next run signs again).
enum SigningStageError: Error, CustomStringConvertible {
    case registry(RegistryError)
    case key(KeyError)
    case manifest(SignatureManifestError)
    case unsupported(String)

    var description: String {
        switch self {
        case .registry(let error): "\(error)"
        case .key(let error): "\(error)"
        case .manifest(let error): "\(error)"
        case .unsupported(let why): why
        }
    }
}
