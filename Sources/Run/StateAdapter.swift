import Foundation
import OCI
import Pusher
import State

/// The executor's view of the state database (`PushState`), for one run.
public struct StatePushRecorder: PushState {
    let store: StateStore
    let runID: RunID
    public init(store: StateStore, runID: RunID) {
        self.store = store
        self.runID = runID
    }

    public func lastPushedDigest(registry: String, repository: String, tag: String) throws -> Digest? {
        try store.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
    }

    public func isBlobKnown(registry: String, repository: String, digest: Digest) throws -> Bool {
        try store.isBlobKnown(registryHost: registry, repository: repository, digest: digest)
    }

    public func recordBlob(registry: String, repository: String, digest: Digest, identity: String) throws {
        try store.recordBlob(registryHost: registry, repository: repository, digest: digest, identity: identity)
    }

    public func removeBlob(registry: String, repository: String, digest: Digest) throws {
        try store.removeBlob(registryHost: registry, repository: repository, digest: digest)
    }

    public func mountCandidates(registry: String, digest: Digest, targetRepository: String, identity: String, limit: Int) throws -> [String]
    {
        try store.mountCandidates(
            registryHost: registry, digest: digest, targetRepository: targetRepository, identity: identity, limit: limit)
    }

    /// One row per tag, all in one transaction. The blob and byte counts belong to the image
    /// push, not to each tag: they are recorded on the push's first tag row and as zero on the
    /// others, so any sum over rows (`show`, `history`, prometheus) agrees with the apply summary
    /// (docs/state.md "Counts").
    public func recordPush(_ push: CompletedPush) throws {
        let records = push.tags.enumerated().map { index, tag in
            let counts = index == 0 ? push.counts : BlobCounts()
            return
                PushRecord(
                    runID: runID, planItemID: push.target.itemID, source: push.target.source, sourceDigest: push.sourceDigest,
                    registryName: push.target.registry, registryHost: push.registryKey, endpoint: push.endpoint ?? "",
                    repository: push.target.repository, tag: tag.name,
                    pushedDigest: tag.status == .failed ? nil : push.pushedDigest ?? push.sourceDigest,
                    mediaType: push.mediaType, size: push.size, status: PushStatus(rawValue: tag.status.rawValue) ?? .failed,
                    bytesUploaded: counts.bytesUploaded, blobsUploaded: counts.uploaded,
                    blobsMounted: counts.mounted, blobsPresent: counts.present,
                    attempts: push.attempts, error: push.error, started: push.started, ended: push.ended,
                    subjectDigest: push.subject)
        }
        try store.recordPushes(records)
    }
}
