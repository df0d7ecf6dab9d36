import Foundation
import OCI
import Threading

/// Uploads blobs before their pushes start: a docker-archive layer as soon as its compression ends,
/// while the run still compresses the others (docs/run.md "Upload ahead"). The push, once prepared,
/// finds the blob done in the run's `TransferLedger` (handed to the `Executor`), and counts and
/// records it as its own upload.
///
/// An upload ahead does what the push would do with the blob and nothing more: the `/v2/` check, a
/// `HEAD`, then the streamed upload, at the endpoint the push would use first now (an endpoint found
/// unusable is abandoned for the run, as by any request). It never writes a manifest, never waits
/// in the ledger, and never fails anything: whatever goes wrong is left to the push, which then
/// sends the blob itself with its own fallback and retries, and reports what fails.
public final class UploadAhead: Sendable {
    let ledger = TransferLedger()
    private let cancellation: CancellationFlag
    /// Uploads ahead at once, across the run.
    private let slots: Slots
    /// Uploads started and not yet ended.
    private let running = LockedValue(0)

    public init(cancellation: CancellationFlag, width: Int) {
        self.cancellation = cancellation
        self.slots = Slots(width)
    }

    /// Starts uploading `payload` into `repository`; returns at once.
    public func start(_ payload: BlobPayload, repository: String, endpoints: any PushEndpoints) {
        running.withLock { $0 += 1 }
        startDetached { [self] in
            slots.withSlot { upload(payload, repository: repository, endpoints: endpoints) }
            running.withLock { $0 -= 1 }
            running.broadcast()
        }
    }

    /// Waits until every upload started has ended (the run does not end before them).
    public func wait() {
        running.withLock(whenReady: { $0 == 0 }) { _ in }
    }

    private func upload(_ payload: BlobPayload, repository: String, endpoints: any PushEndpoints) {
        guard !cancellation.isCancelled else { return }
        let blob = payload.descriptor
        // Its retries are not reported: it runs before the run's first line (`run-start`), and a
        // blob it could not send is the push's, which reports its own retries.
        _ = try? endpoints.perform(retries: { _ in }) { destination, endpoint in
            let key = TransferLedger.Key(endpoint: endpoint.url, repository: repository, digest: blob.digest)
            // Being sent (or sent) already: nothing to do ahead.
            guard ledger.claimAhead(key) else { return }
            var result: TransferLedger.AheadResult?
            defer { ledger.finishAhead(key, result: result) }
            // Errors say how they bear on fallback as the push's own do.
            let step = StepRunner(destination: destination, cancellation: cancellation)
            try step.run(.request) { try destination.ping() }
            if try step.run(.blob(blob.digest), { try destination.blobExists(repository: repository, digest: blob.digest) }) {
                result = .present
                return
            }
            try step.run(.blob(blob.digest)) {
                try destination.uploadBlob(repository: repository, payload: payload) { [ledger] bytes in
                    ledger.aheadProgress(key, bytes: bytes)
                }
            }
            result = .uploaded
        }
    }
}
