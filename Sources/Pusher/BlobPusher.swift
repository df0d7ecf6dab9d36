import Foundation
import OCI
import Threading

/// Pushes one blob as docker's pusher does (moby `distribution/push_v2.go`, `pushLayer`), acting
/// on `PushDecider.blob`:
/// 1. a blob already handled in this run for this repository at this endpoint is not touched again
///    (one sent ahead, `UploadAhead`, is counted and recorded as this push's);
/// 2. present: nothing to send; mount: each candidate is tried, and a refused mount never fails
///    the push (it falls through to a `HEAD`, then an upload); upload: streamed, unless another
///    push of the run is uploading it into another repository of the endpoint now: then it waits
///    and mounts it from there (`TransferLedger.uploadTurn`).
/// Every blob known present is noted in `found`, recorded with the push's rows; a stale record is
/// forgotten at once.
struct BlobPusher: Sendable {
    let decider: PushDecider
    let target: PushTarget
    let endpoint: String
    let sink: any PushEventSink
    let ledger: TransferLedger
    let cancellation: CancellationFlag
    /// The blobs this push knows present in the target repository (`CompletedPush.blobs`).
    let found: LockedValue<[Digest]>

    private var job: PushJob { decider.job }
    private var destination: any PushDestination { decider.destination }
    private var state: any PushState { decider.state }

    func push(_ blob: Descriptor) throws(StepFailure) -> BlobCounts {
        let key = TransferLedger.Key(endpoint: endpoint, repository: job.target.repository, digest: blob.digest)
        // A blob still going up ahead is shown going up as this push's (its bar on a terminal);
        // `claim` tells its progress at most every 0.1 s.
        var shown: Int64?
        guard
            ledger.claim(
                key,
                aheadProgress: { bytes in
                    guard bytes != shown else { return }
                    emit(blob, .uploading, bytes: bytes)
                    shown = bytes
                })
        else {
            // Sent ahead, while the run was still preparing (`UploadAhead`): this push's own.
            switch ledger.takeAhead(key) {
            case .uploaded?:
                record(blob)
                emit(blob, .uploaded, bytes: blob.size)
                return BlobCounts(uploaded: 1, bytesUploaded: blob.size)
            case .present?:
                record(blob)
            case nil:
                break
            }
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
        let failure = PushStep.blob(blob.digest)

        var (decision, recorded) = try decider.blob(blob, step)
        if recorded && decision != .present {
            try step.run(.state("forgetting a blob location")) {
                try state.removeBlob(registry: job.registryKey, repository: repository, digest: blob.digest)
            }
        }
        // Repositories this run already put the blob in are candidates too: their pushes may not
        // be recorded yet.
        let inRun = ledger.repositories(holding: blob.digest, endpoint: endpoint).filter { $0 != repository }
        switch decision {
        case .upload where !inRun.isEmpty: decision = .mount(from: inRun)
        case .mount(let candidates): decision = .mount(from: candidates + inRun.filter { !candidates.contains($0) })
        default: break
        }
        switch decision {
        case .present:
            if !recorded { record(blob) }
            emit(blob, .present)
            return BlobCounts(present: 1)
        case .mount(let candidates):
            if let mounted = try mount(blob, from: candidates, step) { return mounted }
            if try step.run(failure, { try destination.blobExists(repository: repository, digest: blob.digest) }) {
                record(blob)
                emit(blob, .present)
                return BlobCounts(present: 1)
            }
        case .upload:
            break
        }

        // Uploaded to this endpoint once per run: when another push is uploading it into another
        // repository now (two images sharing a base layer start together), wait, then mount it.
        let key = TransferLedger.Key(endpoint: endpoint, repository: repository, digest: blob.digest)
        var refused: Set<String> = []
        while case .mount(let sources) = ledger.uploadTurn(key, tried: refused) {
            if let mounted = try mount(blob, from: sources, step) { return mounted }
            refused.formUnion(sources)
        }
        var uploaded = false
        defer { ledger.endUpload(key, success: uploaded) }
        emit(blob, .uploading, bytes: 0)
        let payload = job.image.payload(blob)
        let progress = ProgressThrottle { [sink, target] bytes in
            sink.emit(.blob(target, BlobProgress(digest: blob.digest, size: blob.size, status: .uploading, bytes: bytes)))
        }
        try step.run(failure) {
            try destination.uploadBlob(repository: repository, payload: payload) { progress.report($0) }
        }
        uploaded = true
        record(blob)
        emit(blob, .uploaded, bytes: blob.size)
        return BlobCounts(uploaded: 1, bytesUploaded: blob.size)
    }

    /// Tries each candidate in turn; a refused or failed mount falls through to the next one (nil
    /// when none took: the caller goes on with a `HEAD` or an upload).
    private func mount(_ blob: Descriptor, from candidates: [String], _ step: StepRunner) throws(StepFailure) -> BlobCounts? {
        for source in candidates {
            let mounted = try? step.run(.blob(blob.digest)) {
                try destination.mountBlob(repository: job.target.repository, digest: blob.digest, from: source)
            }
            if mounted == true {
                record(blob)
                emit(blob, .mounted, from: source)
                return BlobCounts(mounted: 1)
            }
            if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .final) }
        }
        return nil
    }

    private func record(_ blob: Descriptor) { found.withLock { $0.append(blob.digest) } }

    private func emit(_ blob: Descriptor, _ status: BlobProgress.Status, bytes: Int64 = 0, from: String? = nil) {
        sink.emit(.blob(target, BlobProgress(digest: blob.digest, size: blob.size, status: status, bytes: bytes, mountedFrom: from)))
    }
}

/// Reports upload progress at most every 100 ms, so a fast upload does not flood the output,
/// and never the same count twice in a row (the `uploading` event with 0 bytes is emitted before
/// the upload starts, and the transfer's first report is 0 again).
final class ProgressThrottle: Sendable {
    private let last = LockedValue<(time: Date, bytes: Int64)>((.distantPast, 0))
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
