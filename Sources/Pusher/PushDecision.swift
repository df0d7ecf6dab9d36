import Foundation
import Threading
import OCI

/// What a tag needs.
public enum TagNeed: String, Sendable, Codable {
    /// pushctl last pushed this digest there and the target still holds it.
    case unchanged
    case push
}

/// What a blob needs at the target repository.
public enum BlobDecision: Sendable, Equatable {
    /// The repository holds it (the state database said so and a `HEAD` confirmed, or a `HEAD`
    /// found it).
    case present
    /// Mount it from one of these repositories of the same registry, best first; when every
    /// mount is refused, `HEAD` then upload.
    case mount(from: [String])
    case upload
}

/// The one place that decides what a push needs, used by `apply` (the executor acts on it) and by
/// `plan` (the preview counts it), so a plan never promises what apply would not do
/// (docs/run.md "Decisions"). It only reads: `HEAD`s on the target and the state database.
public struct PushDecider: Sendable {
    /// Mount candidates taken from the state database per blob.
    public static let maxMountCandidates = 3

    public let job: PushJob
    public let destination: any PushDestination
    public let state: any PushState

    /// In `apply`: the run's ledger, so a tag's `HEAD` does not overlap another push's write of
    /// that tag or of the manifest it should hold (docs/run.md "Blobs and manifests once per
    /// repository and run"). nil in `plan`, which writes nothing.
    var ledger: (ledger: TransferLedger, place: TransferLedger.Place, owner: TransferLedger.Owner)? = nil
    /// In `apply`: the run's gate on tag `HEAD`s, shared by all its pushes, whose decisions run
    /// side by side (`Executor.run`). nil: this push's own `concurrency` bounds them.
    var headSlots: Slots? = nil

    public init(job: PushJob, destination: any PushDestination, state: any PushState) {
        self.job = job
        self.destination = destination
        self.state = state
    }

    /// Per tag: unchanged when the state database says pushctl last pushed this very digest there
    /// and one `HEAD` shows the tag still holds it; push otherwise. A rerun costs one `HEAD` per tag,
    /// and the `HEAD`s of a push's tags go out together (up to the push's concurrency).
    func tagNeeds(_ step: StepRunner) throws(StepFailure) -> [(tag: String, need: TagNeed)] {
        try tagStates(step).map { ($0.tag, $0.need) }
    }

    /// `tagNeeds`, also saying per tag whether pushctl ever pushed it there (the first push of a
    /// tag is confirmed with a `HEAD` before it is recorded).
    func tagStates(_ step: StepRunner) throws(StepFailure) -> [(tag: String, need: TagNeed, everPushed: Bool)] {
        let repository = job.target.repository
        let root = job.image.root.digest
        let tags = job.target.tags
        let results = LockedValue<[Int: Result<(TagNeed, Bool), StepFailure>]>([:])
        forEachConcurrently(Array(tags.enumerated()), width: job.concurrency) { [self] index, tag in
            let result: Result<(TagNeed, Bool), StepFailure>
            do throws(StepFailure) {
                let last = try step.run(.state("reading the last push of \(tag)")) {
                    try state.lastPushedDigest(registry: job.registryKey, repository: repository, tag: tag)
                }
                var need = TagNeed.push
                if last == root {
                    let head = { () throws(StepFailure) -> Digest? in
                        let request = { () throws(StepFailure) -> Digest? in
                            try step.run(.manifest(reference: tag)) {
                                try destination.manifestDigest(repository: repository, reference: tag)
                            }
                        }
                        guard let headSlots else { return try request() }
                        return try headSlots.withSlot(request)
                    }
                    let current =
                        if let ledger {
                            try ledger.ledger.access(
                                ledger.place, owner: ledger.owner, for: tag, writes: [], reads: [.tag(tag), .manifest(root)],
                                awaiting: [], head)
                        } else {
                            try head()
                        }
                    if current == root { need = .unchanged }
                }
                result = .success((need, last != nil))
            } catch {
                result = .failure(error)
            }
            results.withLock { $0[index] = result }
        }
        var needs: [(tag: String, need: TagNeed, everPushed: Bool)] = []
        for (index, tag) in tags.enumerated() {
            switch results.withLock({ $0[index]! }) {
            case .success(let (need, everPushed)): needs.append((tag, need, everPushed))
            case .failure(let failure): throw failure
            }
        }
        return needs
    }

    /// What `blob` needs (docker's order, moby `push_v2.go`): a location the state database knows
    /// is confirmed with one `HEAD`; else mount candidates (the replication source on the same
    /// registry first, then the state database's); else a `HEAD` (unless one just said 404), then
    /// upload. `recorded` says whether the state database had a location for it: with any decision
    /// but `.present` that record is stale and the executor forgets it.
    func blob(_ blob: Descriptor, _ step: StepRunner) throws(StepFailure) -> (decision: BlobDecision, recorded: Bool) {
        let repository = job.target.repository
        let failure = PushStep.blob(blob.digest)
        let recorded = try step.run(.state("reading blob locations")) {
            try state.isBlobKnown(registry: job.registryKey, repository: repository, digest: blob.digest)
        }
        if recorded, try step.run(failure, { try destination.blobExists(repository: repository, digest: blob.digest) }) {
            return (.present, true)
        }
        let known = try step.run(.state("reading mount candidates")) {
            try state.mountCandidates(
                registry: job.registryKey, digest: blob.digest, targetRepository: repository,
                identity: job.credentialIdentity, limit: Self.maxMountCandidates)
        }
        let candidates = (job.mountSources + known.filter { !job.mountSources.contains($0) }).filter { $0 != repository }
        if !candidates.isEmpty { return (.mount(from: candidates), recorded) }
        if !recorded, try step.run(failure, { try destination.blobExists(repository: repository, digest: blob.digest) }) {
            return (.present, false)
        }
        return (.upload, recorded)
    }
}
