import Threading
import Foundation
import OCI

/// What one push job would do, found out with reads only (`HEAD`s on the target, the state
/// database, and for tags that need pushing the source's manifests): the online plan's view
/// (docs/cli.md `plan`: "what each tag needs (push, unchanged) and how many blobs/bytes would be
/// uploaded, mounted or found present"; for replication, docs/replication.md).
public struct PushPreview: Sendable {
    /// What a tag needs.
    public enum Need: String, Sendable {
        /// pushctl last pushed this digest there and the target still holds it.
        case unchanged
        /// Every blob the target lacks would be mounted from another repository of the registry.
        case mount
        /// Some blobs would be uploaded (`bytesToUpload`), or only manifests when all blobs are present.
        case copy
    }

    public var target: PushTarget
    public var digest: Digest
    public var tags: [(name: String, need: Need)]
    /// Blobs the target repository already holds (a `HEAD` said so).
    public var blobsPresent = 0
    /// Blobs that would be mounted, and from where (the first candidate).
    public var blobsToMount = 0
    public var bytesToMount: Int64 = 0
    public var blobsToUpload = 0
    public var bytesToUpload: Int64 = 0
    /// Why the preview is incomplete (a registry or the source could not be read).
    public var error: String?

    public init(target: PushTarget, digest: Digest, tags: [(name: String, need: Need)], error: String? = nil) {
        self.target = target
        self.digest = digest
        self.tags = tags
        self.error = error
    }

    /// The need of every tag that is not unchanged (they share one image, so one answer).
    public var need: Need {
        if tags.allSatisfy({ $0.need == .unchanged }) { return .unchanged }
        return blobsToUpload == 0 && blobsToMount > 0 ? .mount : .copy
    }
}

public enum PushPreviewer {
    /// Previews `job` at the first usable endpoint of its target (the run's fallback rule), with
    /// the executor's own decisions (`PushDecider`). Never writes anything anywhere.
    ///
    /// Mounts are predicted, not tried: a blob counts as "mount" when the decider would try one
    /// (the replication source on the same registry, or the state database's candidates).
    public static func preview(_ job: PushJob, state: any PushState, cancellation: CancellationFlag = CancellationFlag()) -> (
        endpoint: String?, preview: PushPreview
    ) {
        do {
            let (preview, endpoint) = try job.endpoints.perform(retries: { _ in }) { destination, _ throws(StepFailure) in
                let step = StepRunner(destination: destination, cancellation: cancellation)
                try step.run(.request) { try destination.ping() }
                return try assess(job, decider: PushDecider(job: job, destination: destination, state: state), step)
            }
            return (endpoint.url, preview)
        } catch let failure as StepFailure {
            return (nil, PushPreview(target: job.target, digest: job.image.root.digest, tags: [], error: failure.failure.description))
        } catch {
            return (nil, PushPreview(target: job.target, digest: job.image.root.digest, tags: [], error: String(describing: error)))
        }
    }

    private static func assess(_ job: PushJob, decider: PushDecider, _ step: StepRunner) throws(StepFailure) -> PushPreview {
        let root = job.image.root
        var preview = PushPreview(target: job.target, digest: root.digest, tags: [])
        var needs = try decider.tagNeeds(step)
        // A referrer pushed by digest (README "Signatures and SBOMs"): its subject's listing on the
        // target says whether it is there, as in apply.
        if job.target.tags.isEmpty, let subject = job.subject {
            let listed = try Executor.referrerIsListed(
                job, destination: decider.destination, endpoint: "",
                step: step, listings: ReferrerListings())
            needs = [("@\(root.digest) (referrer of \(subject.digest))", listed ? .unchanged : .push)]
        }
        preview.tags = needs.map { ($0.tag, $0.need == .unchanged ? .unchanged : .copy) }
        guard needs.contains(where: { $0.need == .push }) else { return preview }

        var image = job.image
        if let load = image.loadContent {
            do { image = try load() } catch {
                throw StepFailure(.manifest(reference: image.description, error: String(describing: error)), kind: .final)
            }
        }
        var loaded = job
        loaded.image = image
        let decider = PushDecider(job: loaded, destination: decider.destination, state: decider.state)
        for blob in image.blobs {
            switch try decider.blob(blob, step).decision {
            case .present:
                preview.blobsPresent += 1
            case .mount:
                preview.blobsToMount += 1
                preview.bytesToMount += blob.size
            case .upload:
                preview.blobsToUpload += 1
                preview.bytesToUpload += blob.size
            }
        }
        let need = preview.need
        preview.tags = preview.tags.map { ($0.name, $0.need == .unchanged ? .unchanged : need) }
        return preview
    }
}
