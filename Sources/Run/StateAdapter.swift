import Foundation
import OCI
import Pusher
import State

/// The executor's view of the ledger (`PushState`): the one adapter between Pusher and State.
///
/// An `apply` gives the run id of each job, and pushes are recorded under the run of their job.
/// A `plan` gives none (and maybe no ledger at all): it reads, and every write is a no-op.
struct LedgerPushState: PushState {
    let ledger: (any Ledger)?
    /// Job name → its run; empty when reading only.
    let runIDs: [String: RunID]
    /// `verify:` verdicts of accepted images, by the push's `pushKey` (recorded on its rows).
    var verdicts: [String: SignatureVerdict] = [:]
    /// In `apply`: the run's group commit of push rows (PushRecordGroup).
    var group: PushRecordGroup? = nil

    /// For reading only (`plan`): nothing is written.
    static func readingOnly(_ ledger: (any Ledger)?) -> LedgerPushState { LedgerPushState(ledger: ledger, runIDs: [:]) }

    private var writing: (any Ledger)? { runIDs.isEmpty ? nil : ledger }

    func lastPushedDigest(registry: String, repository: String, tag: String) throws -> Digest? {
        try ledger?.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
    }

    func isBlobKnown(registry: String, repository: String, digest: Digest) throws -> Bool {
        try ledger?.isBlobKnown(registryHost: registry, repository: repository, digest: digest) ?? false
    }

    func recordBlob(registry: String, repository: String, digest: Digest, identity: String) throws {
        try writing?.recordBlob(registryHost: registry, repository: repository, digest: digest, identity: identity)
    }

    func removeBlob(registry: String, repository: String, digest: Digest) throws {
        try writing?.removeBlob(registryHost: registry, repository: repository, digest: digest)
    }

    func mountCandidates(registry: String, digest: Digest, targetRepository: String, identity: String, limit: Int) throws -> [String] {
        try ledger?.mountCandidates(
            registryHost: registry, digest: digest, targetRepository: targetRepository, identity: identity, limit: limit) ?? []
    }

    /// One row per tag, and the push's blob locations, all in one transaction. The blob and byte counts belong to the image
    /// push, not to each tag: they are recorded on the push's first tag row and as zero on the
    /// others, so any sum over rows (`show`, `history`, prometheus) agrees with the apply summary
    /// (docs/state.md "Counts").
    func recordPush(_ push: CompletedPush) throws {
        guard let ledger = writing, let runID = runIDs[push.target.job] ?? runIDs.values.min() else { return }
        let verdict = verdicts[push.target.pushKey]
        let records = push.tags.enumerated().map { index, tag in
            let counts = index == 0 ? push.counts : BlobCounts()
            var record =
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
            record.verifiedKeys = verdict?.keyIDs ?? []
            record.verdict = verdict?.text
            return record
        }
        let blobs = push.blobs.map {
            BlobLocation(registryHost: push.registryKey, repository: push.target.repository, digest: $0, identity: push.blobIdentity)
        }
        if let group { try group.record(records, blobs: blobs) } else { try ledger.recordPushes(records, blobs: blobs) }
    }
}
