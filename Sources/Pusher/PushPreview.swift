import Foundation
import OCI

/// What one push job would do, found out with reads only (`HEAD`s on the target, the state
/// database, and for tags that need pushing the source's manifests): the online plan's view
/// (cli.md `plan`: "what each tag needs (push, unchanged) and how many blobs/bytes would be
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
    /// Previews `job` against one endpoint of its target. Never writes anything anywhere.
    ///
    /// Mounts are predicted, not tried: a blob counts as "mount" when a mount source is known
    /// (the replication source on the same registry, or the state database's candidates).
    public static func preview(_ job: PushJob, state: any PushState, destination: any PushDestination) -> PushPreview {
        let root = job.image.root
        var preview = PushPreview(target: job.target, digest: root.digest, tags: [])
        do {
            for tag in job.target.tags {
                let unchanged = try state.lastPushedDigest(registry: job.registryKey, repository: job.target.repository, tag: tag) == root.digest
                    && destination.manifestDigest(repository: job.target.repository, reference: tag) == root.digest
                preview.tags.append((tag, unchanged ? .unchanged : .copy))
            }
            guard preview.tags.contains(where: { $0.need != .unchanged }) else { return preview }

            var image = job.image
            if let load = image.loadContent { image = try load() }
            for blob in image.blobs {
                if try destination.blobExists(repository: job.target.repository, digest: blob.digest) {
                    preview.blobsPresent += 1
                    continue
                }
                let candidates = try job.mountSources + state.mountCandidates(
                    registry: job.registryKey, digest: blob.digest, targetRepository: job.target.repository,
                    identity: job.credentialIdentity, limit: 1)
                if candidates.contains(where: { $0 != job.target.repository }) {
                    preview.blobsToMount += 1
                    preview.bytesToMount += blob.size
                } else {
                    preview.blobsToUpload += 1
                    preview.bytesToUpload += blob.size
                }
            }
            let need = preview.need
            preview.tags = preview.tags.map { ($0.name, $0.need == .unchanged ? .unchanged : need) }
        } catch {
            preview.error = String(describing: error)
        }
        return preview
    }
}

extension PushPreviewer {
    /// Previews `job` at the first of its endpoints that answers `/v2/`, following the plan's
    /// fallback order (an http twin only after a failure of the endpoint before it).
    public static func previewAtFirstEndpoint(_ job: PushJob, state: any PushState,
                                              destination: (EndpointChoice) -> any PushDestination) -> (endpoint: String?, preview: PushPreview) {
        var failures: [String] = []
        for endpoint in job.endpoints where !endpoint.isHTTPTwin || !failures.isEmpty {
            let target = destination(endpoint)
            do {
                try target.ping()
            } catch {
                failures.append("\(endpoint.url): \(error)")
                continue
            }
            return (endpoint.url, preview(job, state: state, destination: target))
        }
        return (nil, PushPreview(target: job.target, digest: job.image.root.digest, tags: [],
                                 error: "no endpoint answered (\(failures.joined(separator: "; ")))"))
    }
}
