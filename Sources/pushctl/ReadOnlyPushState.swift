import OCI
import Pusher
import State

/// The state database for reading only (plan never writes), or nothing when there is none yet.
struct ReadOnlyPushState: PushState {
    let store: StateStore?

    func lastPushedDigest(registry: String, repository: String, tag: String) throws -> OCI.Digest? {
        try store?.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
    }
    func isBlobKnown(registry: String, repository: String, digest: OCI.Digest) throws -> Bool {
        try store?.isBlobKnown(registryHost: registry, repository: repository, digest: digest) ?? false
    }
    func mountCandidates(registry: String, digest: OCI.Digest, targetRepository: String, identity: String, limit: Int) throws -> [String] {
        try store?.mountCandidates(
            registryHost: registry, digest: digest, targetRepository: targetRepository, identity: identity, limit: limit) ?? []
    }
    // Plan writes nothing.
    func recordBlob(registry: String, repository: String, digest: OCI.Digest, identity: String) throws {}
    func removeBlob(registry: String, repository: String, digest: OCI.Digest) throws {}
    func recordPush(_ record: CompletedPush) throws {}
}
