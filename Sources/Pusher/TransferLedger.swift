import Foundation
import Threading
import OCI

/// What this run sent, per endpoint and repository, and which requests are under way on the
/// registry's records (docs/run.md "Blobs and manifests once per repository and run").
///
/// **Blobs** are sent once: a push that needs one another push is sending waits for it, then does
/// not touch it again (a failed transfer is tried again by the next push that needs it). A blob is
/// uploaded to an endpoint once, whatever the repository: a push about to upload one that another
/// push is uploading into another repository of the endpoint waits, then mounts it from there
/// (`uploadTurn`).
///
/// **Manifests** follow one rule, whichever item pushes them:
/// - each manifest digest is PUT once (`claimManifest`): by digest or, for a push's own image, by
///   its first tag; a failed PUT is final for the run and fails every push that needs that
///   manifest, naming it;
/// - a request that writes a manifest (a PUT by digest or by tag, an update of a referrers
///   fallback tag) waits until each manifest it references that this run PUTs is acknowledged, and
///   until no other request writes a record it reads or writes, or reads a record it writes
///   (`access`): no two requests write one manifest or tag at once, and none writes what another
///   is reading.
///
/// The second half is what docker-registry 2.8 needs: on filesystem storage every PUT of a
/// manifest, by digest or by tag, rewrites that manifest's revision link in place, and the PUT of
/// an index checks each child by reading its link. An index PUT that meets a child's link while
/// another push's tag PUT rewrites it is refused with `DIGEST_INVALID` and
/// `MANIFEST_BLOB_UNKNOWN`, although the child is there (docs/run.md).
///
/// References are digests, so they cannot form a cycle (a document would have to contain its own
/// hash); a wait that would close one anyway is refused with `PushFailure.referenceCycle`
/// instead of hanging.
final class TransferLedger: Sendable {
    struct Key: Hashable, Sendable {
        /// The endpoint URL: a blob sent to one endpoint says nothing about a mirror's storage.
        var endpoint: String
        var repository: String
        var digest: Digest
    }

    /// An endpoint and a repository: manifests and tags are tracked per place.
    struct Place: Hashable, Sendable {
        var endpoint: String
        var repository: String
    }

    /// A record of the registry a request reads or rewrites.
    enum Record: Hashable, Sendable {
        case manifest(Digest)
        case tag(String)
    }

    /// Who holds a manifest claim: one push at one endpoint (`newOwner()`).
    typealias Owner = Int

    enum ManifestClaim {
        /// The caller puts it, then calls `finishManifest`.
        case send
        /// Another push of this run put it, and the registry acknowledged it.
        case acknowledged
        /// Its PUT failed in this run.
        case failed(StepFailure)
    }

    private enum BlobEntry { case inProgress, done }
    /// What an upload ahead (`UploadAhead`) did with a blob, until the push it was for reports it.
    enum AheadResult: Equatable, Sendable {
        case uploaded
        case present
    }
    private enum PutState {
        case inProgress(Owner)
        case acknowledged
        case failed(StepFailure)
    }
    private struct PutKey: Hashable {
        var place: Place
        var digest: Digest
    }
    private struct RecordKey: Hashable {
        var place: Place
        var record: Record
    }
    /// A blob at an endpoint, whatever the repository: uploads are tracked per upload key.
    private struct UploadKey: Hashable {
        var endpoint: String
        var digest: Digest
    }
    private struct State {
        var blobs: [Key: BlobEntry] = [:]
        /// The repository each blob is being uploaded into now, per endpoint.
        var uploads: [UploadKey: String] = [:]
        /// The repositories each blob was put in (`.done`), per endpoint: an index of `blobs`, so
        /// that finding mount candidates does not scan every blob of the run.
        var holders: [UploadKey: Set<String>] = [:]
        /// Blobs an upload ahead sent (or found present), not yet reported by a push.
        var ahead: [Key: AheadResult] = [:]
        /// How far each upload ahead under way has come, in bytes.
        var aheadBytes: [Key: Int64] = [:]

        mutating func markDone(_ key: Key) {
            blobs[key] = .done
            holders[UploadKey(endpoint: key.endpoint, digest: key.digest), default: []].insert(key.repository)
        }
        var puts: [PutKey: PutState] = [:]
        /// What each owner is waiting for (claims in progress elsewhere), for cycle detection.
        var waiting: [Owner: [PutKey]] = [:]
        var writing: Set<RecordKey> = []
        var reading: [RecordKey: Int] = [:]
        var owners = 0
    }

    private let state = LockedValue(State())

    // MARK: blobs

    /// True when the caller should send it; false when it was already sent in this run.
    /// Waits while another thread is sending it; while that is an upload ahead, `aheadProgress`
    /// hears how far it has come every 0.1 s (the push shows it as its own upload's progress).
    func claim(_ key: Key, aheadProgress: (Int64) -> Void = { _ in }) -> Bool {
        while true {
            let (claimed, bytes): (Bool?, Int64?) = state.withLock(
                whenReady: { $0.blobs[key] != .inProgress }, until: Lock.deadline(afterSeconds: 0.1)
            ) { state, ready in
                guard ready else { return (nil, state.aheadBytes[key]) }
                if state.blobs[key] == .done { return (false, nil) }
                state.blobs[key] = .inProgress
                return (true, nil)
            }
            if let claimed { return claimed }
            if let bytes { aheadProgress(bytes) }
        }
    }

    /// `claim` for an upload ahead, which must not wait: false when the blob is being sent or was
    /// sent in this run already.
    func claimAhead(_ key: Key) -> Bool {
        let upload = UploadKey(endpoint: key.endpoint, digest: key.digest)
        return state.withLock { state in
            guard state.blobs[key] == nil, state.uploads[upload] == nil else { return false }
            state.blobs[key] = .inProgress
            state.aheadBytes[key] = 0
            // Another push about to upload it into another repository waits, then mounts it.
            state.uploads[upload] = key.repository
            return true
        }
    }

    /// Ends a `claimAhead`: the blob is done when `result` says what was done with it (the push
    /// it was for then reports it, `takeAhead`); with nil the push sends it itself.
    func finishAhead(_ key: Key, result: AheadResult?) {
        state.withLock { state in
            state.uploads[UploadKey(endpoint: key.endpoint, digest: key.digest)] = nil
            state.aheadBytes[key] = nil
            if let result {
                state.markDone(key)
                state.ahead[key] = result
            } else {
                state.blobs[key] = nil
            }
        }
        state.broadcast()
    }

    /// How far the upload ahead of `key` has come (`claimAhead` … `finishAhead`).
    func aheadProgress(_ key: Key, bytes: Int64) {
        state.withLock { state in
            if state.aheadBytes[key] != nil { state.aheadBytes[key] = bytes }
        }
    }

    /// What an upload ahead did with the blob, told once: to the push that then finds the blob done
    /// in the ledger (`claim` false), so that it counts and records it as its own.
    func takeAhead(_ key: Key) -> AheadResult? {
        state.withLock { state in state.ahead.removeValue(forKey: key) }
    }

    func finish(_ key: Key, success: Bool) {
        state.withLock { state in
            if success { state.markDone(key) } else { state.blobs[key] = nil }
        }
        state.broadcast()
    }

    /// The repositories this run put `digest` in at `endpoint`: mount candidates before their
    /// pushes are recorded (a push's blob locations are written with its rows, docs/state.md
    /// "Group commit").
    func repositories(holding digest: Digest, endpoint: String) -> [String] {
        state.withLock { Self.repositories(holding: digest, endpoint: endpoint, in: $0) }
    }

    private static func repositories(holding digest: Digest, endpoint: String, in state: State) -> [String] {
        (state.holders[UploadKey(endpoint: endpoint, digest: digest)] ?? []).sorted()
    }

    /// What a push that found `key`'s blob missing does next (`uploadTurn`).
    enum UploadTurn: Equatable {
        /// Upload it, then call `endUpload`.
        case upload
        /// Another push of this run put it in these repositories of the endpoint: mount it.
        case mount(from: [String])
    }

    /// Before uploading `key`'s blob: waits while another push uploads the same blob to the same
    /// endpoint, then says to mount it from the repositories this run put it in (except `tried`,
    /// whose mounts were refused), or else to upload it (the caller then holds the endpoint's upload
    /// of that blob until `endUpload`). An uploader never waits for anything in the ledger, so no
    /// two pushes can wait for each other here.
    func uploadTurn(_ key: Key, tried: Set<String>) -> UploadTurn {
        let upload = UploadKey(endpoint: key.endpoint, digest: key.digest)
        return state.withLock(whenReady: { $0.uploads[upload] == nil }) { state in
            let holders = Self.repositories(holding: key.digest, endpoint: key.endpoint, in: state)
                .filter { $0 != key.repository && !tried.contains($0) }
            if !holders.isEmpty { return .mount(from: holders) }
            state.uploads[upload] = key.repository
            return .upload
        }
    }

    /// Ends the upload `uploadTurn` handed out; a successful one makes the blob a mount candidate
    /// for the pushes waiting for it at once.
    func endUpload(_ key: Key, success: Bool) {
        state.withLock { state in
            state.uploads[UploadKey(endpoint: key.endpoint, digest: key.digest)] = nil
            if success { state.markDone(key) }
        }
        state.broadcast()
    }

    // MARK: manifests

    func newOwner() -> Owner {
        state.withLock { state in
            state.owners += 1
            return state.owners
        }
    }

    /// The one PUT of `digest` at `place` (by digest, or by the first tag of the push whose image
    /// it is): `.send` for the first push that asks, which then reports with `finishManifest`; the
    /// others wait for it and learn how it went.
    func claimManifest(_ place: Place, _ digest: Digest, owner: Owner) throws(StepFailure) -> ManifestClaim {
        let key = PutKey(place: place, digest: digest)
        return try wait(owner: owner, for: [key]) { state in
            switch state.puts[key] {
            case .acknowledged: return .acknowledged
            case .failed(let failure): return .failed(failure)
            case .inProgress, nil:
                state.puts[key] = .inProgress(owner)
                return .send
            }
        }
    }

    /// Reports the PUT claimed with `.send`: acknowledged when `failure` is nil.
    func finishManifest(_ place: Place, _ digest: Digest, failure: StepFailure?) {
        state.withLock { $0.puts[PutKey(place: place, digest: digest)] = failure.map { .failed($0) } ?? .acknowledged }
        state.broadcast()
    }

    /// Runs `body`, a request (or a few) about `reference` that rewrites `writes` and reads
    /// `reads`, once every manifest of `awaiting` that this run PUTs is acknowledged, no other
    /// request writes a record of `writes` or `reads`, and none reads a record of `writes`.
    /// Throws, without running `body`, when a manifest of `awaiting` failed in this run (naming it).
    func access<T>(
        _ place: Place, owner: Owner, for reference: String, writes: [Record], reads: [Record], awaiting: [Digest],
        _ body: () throws(StepFailure) -> T
    ) throws(StepFailure) -> T {
        let writeKeys = Set(writes.map { RecordKey(place: place, record: $0) })
        let readKeys = Set(reads.map { RecordKey(place: place, record: $0) }).subtracting(writeKeys)
        let awaited = awaiting.map { PutKey(place: place, digest: $0) }
        let failed: (Digest, StepFailure)? = try wait(owner: owner, for: awaited) { state in
            for key in awaited {
                if case .failed(let failure) = state.puts[key] { return (key.digest, failure) }
            }
            state.writing.formUnion(writeKeys)
            for key in readKeys { state.reading[key, default: 0] += 1 }
            return nil
        } recordsFree: { state in
            writeKeys.allSatisfy { !state.writing.contains($0) && (state.reading[$0] ?? 0) == 0 }
                && readKeys.allSatisfy { !state.writing.contains($0) }
        }
        if let (child, failure) = failed {
            if case .cancelled = failure.failure { throw StepFailure(.cancelled, kind: .final) }
            throw StepFailure(.childFailed(manifest: reference, child: child, error: failure.failure.description), kind: failure.kind)
        }
        defer {
            state.withLock { state in
                state.writing.subtract(writeKeys)
                for key in readKeys {
                    let left = (state.reading[key] ?? 1) - 1
                    state.reading[key] = left > 0 ? left : nil
                }
            }
            state.broadcast()
        }
        return try body()
    }

    /// Waits until no key of `claims` is in progress for another owner and `recordsFree` holds,
    /// then runs `body` under the lock. Refuses a wait that would close a cycle of owners waiting
    /// for each other's claims.
    private func wait<T>(
        owner: Owner, for claims: [PutKey], _ body: (inout State) -> T,
        recordsFree: (State) -> Bool = { _ in true }
    ) throws(StepFailure) -> T {
        func blocking(_ state: State) -> [PutKey] {
            claims.filter { key in
                if case .inProgress(let holder) = state.puts[key], holder != owner { return true }
                return false
            }
        }
        let cycle: [Digest]? = state.withLock { state in
            let blocked = blocking(state)
            guard !blocked.isEmpty else { return nil }
            if let cycle = Self.cycle(from: owner, through: blocked, in: state) { return cycle }
            // Seen by other owners' checks while this one waits.
            state.waiting[owner] = blocked
            return nil
        }
        if let cycle { throw StepFailure(.referenceCycle(cycle), kind: .final) }
        return state.withLock(whenReady: { blocking($0).isEmpty && recordsFree($0) }) { state in
            state.waiting[owner] = nil
            return body(&state)
        }
    }

    /// Owners waiting for another owner's manifest claim now (tests).
    var waitingOwners: Set<Owner> { state.withLock { Set($0.waiting.keys) } }

    /// The digests along a chain of owners waiting for each other's claims that leads back to
    /// `owner`, or nil.
    private static func cycle(from owner: Owner, through blocked: [PutKey], in state: State) -> [Digest]? {
        var seen: Set<Owner> = []
        var stack: [(Owner, [Digest])] = blocked.compactMap { key in
            if case .inProgress(let holder) = state.puts[key] { return (holder, [key.digest]) }
            return nil
        }
        while let (holder, path) = stack.popLast() {
            if holder == owner { return path }
            guard seen.insert(holder).inserted else { continue }
            for key in state.waiting[holder] ?? [] {
                if case .inProgress(let next) = state.puts[key] { stack.append((next, path + [key.digest])) }
            }
        }
        return nil
    }
}
