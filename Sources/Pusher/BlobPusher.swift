import Foundation
import Curl
import OCI
import Synchronization

/// Pushes one blob as docker's pusher does (moby `distribution/push_v2.go`, `pushLayer`):
/// 1. a blob already handled in this run for this repository is not touched again;
/// 2. if the state database says this repository holds it, one `HEAD` confirms (a 404 drops
///    the record);
/// 3. otherwise each mount candidate from the state database is tried — a refused mount never
///    fails the push;
/// 4. otherwise one `HEAD` (the registry may hold it though pushctl never recorded it), then a
///    streamed upload.
/// Every blob known present is recorded in the state database.
struct BlobPusher: Sendable {
    static let maxMountCandidates = 3

    let job: PushJob
    let target: PushTarget
    let destination: any PushDestination
    let state: any PushState
    let sink: any PushEventSink
    let ledger: BlobLedger
    let cancellation: CancellationFlag

    func push(_ blob: Descriptor) throws(StepFailure) -> BlobCounts {
        let key = BlobLedger.Key(registry: job.registryKey, repository: job.target.repository, digest: blob.digest)
        guard ledger.claim(key) else {
            emit(blob, .present)
            return BlobCounts(present: 1)
        }
        do {
            let counts = try transfer(blob)
            ledger.finish(key, success: true)
            return counts
        } catch {
            ledger.finish(key, success: false)
            throw error
        }
    }

    private func transfer(_ blob: Descriptor) throws(StepFailure) -> BlobCounts {
        let repository = job.target.repository
        let step = StepRunner(destination: destination, cancellation: cancellation)
        let failure = PushFailure.blob(digest: blob.digest, error: "")

        let known = try step.run(.state("reading blob locations")) {
            try state.isBlobKnown(registry: job.registryKey, repository: repository, digest: blob.digest)
        }
        if known {
            let exists = try step.run(failure) { try destination.blobExists(repository: repository, digest: blob.digest) }
            if exists {
                emit(blob, .present)
                return BlobCounts(present: 1)
            }
            try step.run(.state("forgetting a blob location")) { try state.removeBlob(registry: job.registryKey, repository: repository, digest: blob.digest) }
        }

        let recorded = try step.run(.state("reading mount candidates")) {
            try state.mountCandidates(registry: job.registryKey, digest: blob.digest, targetRepository: repository,
                                      identity: job.credentialIdentity, limit: Self.maxMountCandidates)
        }
        let candidates = job.mountSources + recorded.filter { !job.mountSources.contains($0) }
        for source in candidates where source != repository {
            // A refused or failed mount falls through to the next candidate or to an upload.
            if (try? step.run(failure, { try destination.mountBlob(repository: repository, digest: blob.digest, from: source) })) == true {
                try record(blob)
                emit(blob, .mounted, from: source)
                return BlobCounts(mounted: 1)
            }
            if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .other) }
        }

        if try step.run(failure, { try destination.blobExists(repository: repository, digest: blob.digest) }) {
            try record(blob)
            emit(blob, .present)
            return BlobCounts(present: 1)
        }

        emit(blob, .uploading, bytes: 0)
        let payload = job.image.payload(blob)
        let progress = ProgressThrottle { [sink, target] bytes in
            sink.emit(.blob(target, BlobProgress(digest: blob.digest, size: blob.size, status: .uploading, bytes: bytes)))
        }
        try step.run(failure) {
            try destination.uploadBlob(repository: repository, payload: payload) { progress.report($0) }
        }
        try record(blob)
        emit(blob, .uploaded, bytes: blob.size)
        return BlobCounts(uploaded: 1, bytesUploaded: blob.size)
    }

    private func record(_ blob: Descriptor) throws(StepFailure) {
        try StepRunner(destination: destination, cancellation: cancellation).run(.state("recording a blob location")) {
            try state.recordBlob(registry: job.registryKey, repository: job.target.repository, digest: blob.digest, identity: job.credentialIdentity)
        }
    }

    private func emit(_ blob: Descriptor, _ status: BlobProgress.Status, bytes: Int64 = 0, from: String? = nil) {
        sink.emit(.blob(target, BlobProgress(digest: blob.digest, size: blob.size, status: status, bytes: bytes, mountedFrom: from)))
    }
}

/// Reports upload progress at most every 100 ms, so a fast upload does not flood the output,
/// and never the same count twice in a row (the `uploading` event with 0 bytes is emitted before
/// the upload starts, and the transfer's first report is 0 again).
final class ProgressThrottle: Sendable {
    private let last = Mutex<(time: Date, bytes: Int64)>((.distantPast, 0))
    private let report: @Sendable (Int64) -> Void

    init(_ report: @escaping @Sendable (Int64) -> Void) {
        self.report = report
    }

    func report(_ bytes: Int64) {
        let now = Date()
        let due = last.withLock { last in
            guard now.timeIntervalSince(last.time) >= 0.1, bytes != last.bytes else { return false }
            last = (now, bytes)
            return true
        }
        if due { report(bytes) }
    }
}

/// Blobs handled in this run, per registry and repository. A blob being pushed by one image is
/// waited for by another that needs it, then not touched again.
final class BlobLedger: Sendable {
    struct Key: Hashable, Sendable {
        var registry: String
        var repository: String
        var digest: Digest
    }

    private enum Entry { case inProgress, done }
    private let entries = Mutex<[Key: Entry]>([:])
    private let changed = NSCondition()

    /// True when the caller should push the blob; false when it was already pushed in this run.
    /// Waits while another thread is pushing it.
    func claim(_ key: Key) -> Bool {
        changed.lock()
        defer { changed.unlock() }
        while true {
            let entry = entries.withLock { $0[key] }
            switch entry {
            case .done: return false
            case .inProgress: changed.wait()
            case nil:
                entries.withLock { $0[key] = .inProgress }
                return true
            }
        }
    }

    func finish(_ key: Key, success: Bool) {
        changed.lock()
        entries.withLock { $0[key] = success ? .done : nil }
        changed.broadcast()
        changed.unlock()
    }
}
