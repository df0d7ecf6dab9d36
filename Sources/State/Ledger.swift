import Foundation
import OCI

/// The ledger: what every command reads and writes about runs, pushes and distribution metadata
/// (docs/state.md). `StateStore` (SQLite, the embedded default) is one implementation; another
/// store is a new type conforming to this protocol, not edits across the run layer and the CLI.
///
/// Every method is one transaction: a push is recorded whole or not at all.
public protocol Ledger: AnyObject, Sendable {
    /// Where the ledger lives, as shown to people (a file path; never a credential).
    var location: String { get }

    // MARK: runs and pushes

    /// Records the start of a run (status `running`, this host and pid) and returns its id.
    func beginRun(job: String, file: String, fileDigest: Digest, kind: RunKind, pushctlVersion: String, started: Date) throws(StateError)
        -> RunID
    /// Records how a run ended.
    func finishRun(_ id: RunID, status: RunStatus, exitCode: Int32, error: String?, ended: Date) throws(StateError)
    /// Records many pushes, and the blob locations they established, in one transaction.
    func recordPushes(_ records: [PushRecord], blobs: [BlobLocation]) throws(StateError)
    /// The newest `pushed`/`unchanged` push to a tag, unless pruned since.
    func lastSuccessfulPush(registryHost: String, repository: String, tag: String) throws(StateError) -> PushRecord?
    /// Per tag of a repository, the newest push that put it there (the tags `prune` may consider).
    func currentTags(registryHost: String, repository: String) throws(StateError) -> [PushRecord]
    /// For every tag a job has pushed successfully, the newest successful push to that tag.
    func lastSuccessfulPushes(job: String) throws(StateError) -> [PushRecord]
    /// Records what a `verify` run found.
    func recordVerifyChecks(_ checks: [VerifyCheckRecord], run: RunID) throws(StateError)
    /// After `sign:` for one push of a run: the digests of the `.sig` manifests written, and,
    /// when signing failed, the push's rows become `failed` with that error (docs/state.md "Signatures").
    func recordSigning(_ signing: SigningRecord) throws(StateError)

    // MARK: distribution metadata

    /// A keyed hash of credential material (the material itself is never stored).
    func credentialIdentity(_ secretMaterial: String) -> String
    func recordBlob(registryHost: String, repository: String, digest: Digest, identity: String, seen: Date) throws(StateError)
    func removeBlob(registryHost: String, repository: String, digest: Digest) throws(StateError)
    func isBlobKnown(registryHost: String, repository: String, digest: Digest) throws(StateError) -> Bool
    /// Other repositories of the registry known to hold `digest`, best first.
    func mountCandidates(registryHost: String, digest: Digest, targetRepository: String, identity: String, limit: Int) throws(StateError)
        -> [String]
    func recordDiffID(_ diffID: Digest, compressed: Descriptor, settings: String) throws(StateError)
    func compressedDigest(forDiffID diffID: Digest, settings: String) throws(StateError) -> Descriptor?
    func recordRateLimit(_ record: RateLimitRecord) throws(StateError)
    func rateLimit(registryHost: String) throws(StateError) -> RateLimitRecord?

    // MARK: audit

    /// Full digests (`alg:hex`) of pushed and source digests starting with a typed prefix.
    func digestCandidates(_ prefix: String) throws(StateError) -> [String]
    /// History rows of this ledger alone, with a digest prefix already resolved to `exactDigest`.
    func history(_ filter: HistoryFilter, exactDigest: String?) throws(StateError) -> [HistoryRow]
    /// One run with all its pushes and verify findings.
    func run(_ reference: RunReference) throws(StateError) -> RunDetail
    /// Removes old runs and their pushes (`prune-history`).
    func prune(olderThan: Date?, keepRuns: Int?) throws(StateError) -> PruneResult

    // MARK: views (the web view and `/metrics`, docs/web.md)

    /// A page of runs, newest first, with what their pushes add up to.
    func runSummaries(_ query: RunQuery) throws(StateError) -> RunPage
    /// A page of pushes (with their runs), newest first: by digest prefix, repository, tag.
    func pushPage(_ query: PushQuery) throws(StateError) -> PushPage
    /// Per job, its newest `verify` run with the tags it checked (the drift page).
    func latestVerifyRuns() throws(StateError) -> [RunDetail]
    /// Runs by kind and status, last success per job, and each job's newest run.
    func statistics() throws(StateError) -> LedgerStatistics
    // MARK: registry events (`pushctl serve`, docs/serve.md "Registry events")

    /// Stores the events whose id is new, in one transaction; returns the new ids (a repeated id
    /// changes nothing).
    func recordEvents(_ events: [EventRecord]) throws(StateError) -> [String]
    /// Events still `pending`, oldest first.
    func pendingEvents() throws(StateError) -> [EventRecord]
    /// The newest events, newest first.
    func recentEvents(limit: Int) throws(StateError) -> [EventRecord]
    /// The ids of the events a run ran, oldest first.
    func eventIDs(run: RunID) throws(StateError) -> [String]
    /// Marks events `ran` by a run, or `ignored`.
    func markEvents(_ ids: [String], status: EventStatus, run: RunID?) throws(StateError)
    /// How many events stand in each status.
    func eventCounts() throws(StateError) -> [EventStatus: Int]

    // MARK: the apply lock

    /// Takes the exclusive apply lock for `scope`, or fails at once with `.locked` (exit 3).
    /// SQLite: one lock per database file, whatever the scope. PostgreSQL: one per job set and
    /// shard (see `ApplyLockScope`).
    func acquireApplyLock(scope: ApplyLockScope) throws(StateError) -> any ApplyLock
}

/// The exclusive lock an `apply` (or `prune`) holds on a ledger while it writes.
public protocol ApplyLock: AnyObject, Sendable {
    /// The previous holder, when its process died holding the lock.
    var tookOverFrom: LockHolder? { get }
    /// This process, as the lock names it.
    var holder: LockHolder { get }
    /// Releases the lock (idempotent).
    func release()
}

extension Ledger {
    public func beginRun(job: String, file: String, fileDigest: Digest, kind: RunKind, pushctlVersion: String) throws(StateError) -> RunID {
        try beginRun(job: job, file: file, fileDigest: fileDigest, kind: kind, pushctlVersion: pushctlVersion, started: Date())
    }

    public func finishRun(_ id: RunID, status: RunStatus, exitCode: Int32, error: String? = nil) throws(StateError) {
        try finishRun(id, status: status, exitCode: exitCode, error: error, ended: Date())
    }

    /// Records many pushes in one transaction.
    public func recordPushes(_ records: [PushRecord]) throws(StateError) {
        try recordPushes(records, blobs: [])
    }

    public func recordBlob(registryHost: String, repository: String, digest: Digest, identity: String) throws(StateError) {
        try recordBlob(registryHost: registryHost, repository: repository, digest: digest, identity: identity, seen: Date())
    }

    /// The apply lock of the whole ledger's one job set (tests; SQLite ignores the scope anyway).
    public func acquireApplyLock() throws(StateError) -> any ApplyLock {
        try acquireApplyLock(scope: ApplyLockScope(jobs: []))
    }

    /// Pushes (with their runs), and runs that recorded no push, newest first.
    public func history(_ filter: HistoryFilter) throws(StateError) -> [HistoryRow] {
        try LedgerHistory.rows(filter, in: [self])
    }
}

/// History over several ledgers read as one (`--state a.db --state b.db`, e.g. one per shard
/// runner), merged newest first. A digest prefix must be unambiguous across all of them.
public enum LedgerHistory {
    public static func rows(_ filter: HistoryFilter, in ledgers: [any Ledger]) throws(StateError) -> [HistoryRow] {
        var exactDigest: String?
        if let prefix = filter.digest {
            var candidates = Set<String>()
            for ledger in ledgers { candidates.formUnion(try ledger.digestCandidates(prefix)) }
            if candidates.count > 1 { throw .ambiguousDigest(prefix: prefix, candidates: candidates.sorted()) }
            // No match: filter on the (normalized) value itself, which yields no rows.
            let normalized = try StateStore.normalizedDigestPrefix(prefix)
            exactDigest = candidates.first ?? normalized[0]
        }
        var rows = [HistoryRow]()
        for ledger in ledgers { rows += try ledger.history(filter, exactDigest: exactDigest) }
        rows.sort { a, b in
            if a.time != b.time { return a.time > b.time }
            return (a.push?.id ?? 0, a.run.id.rawValue) > (b.push?.id ?? 0, b.run.id.rawValue)
        }
        if let limit = filter.limit { rows = Array(rows.prefix(max(0, limit))) }
        return rows
    }
}
