import Foundation
import OCI

/// What `apply` would do for one push job, found with the state database and `HEAD` requests only:
/// nothing is written anywhere (cli.md "Commands", `plan` without `--offline`).
public struct PushPreview: Sendable {
    public enum TagAction: String, Sendable { case push, unchanged }

    public var endpoint: String?
    public var tags: [(tag: String, action: TagAction)] = []
    public var upload = 0
    public var mount = 0
    public var present = 0
    public var uploadBytes: Int64 = 0
    public var error: String?

    /// Looks at one push job through the first endpoint that answers.
    public static func make(_ job: PushJob, state: (any PushState)?, destination: (EndpointChoice) -> any PushDestination) -> PushPreview {
        var preview = PushPreview()
        var problems: [String] = []
        for endpoint in job.endpoints where !endpoint.isHTTPTwin || !problems.isEmpty {
            let target = destination(endpoint)
            do {
                try preview.fill(job, state: state, destination: target)
                preview.endpoint = endpoint.url
                preview.error = nil
                return preview
            } catch {
                problems.append("\(endpoint.url): \(error)")
                if case .endpointUnavailable = target.classify(error) { continue }
                break
            }
        }
        preview.error = problems.joined(separator: "; ")
        return preview
    }

    private mutating func fill(_ job: PushJob, state: (any PushState)?, destination: any PushDestination) throws {
        let repository = job.target.repository
        let root = job.image.root.digest
        tags = []
        for tag in job.target.tags {
            let last = try state?.lastPushedDigest(registry: job.registryKey, repository: repository, tag: tag)
            let unchanged = try last == root && destination.manifestDigest(repository: repository, reference: tag) == root
            tags.append((tag, unchanged ? .unchanged : .push))
        }
        (upload, mount, present, uploadBytes) = (0, 0, 0, 0)
        guard tags.contains(where: { $0.action == .push }) else { return }
        for blob in job.image.blobs {
            let known = try state?.isBlobKnown(registry: job.registryKey, repository: repository, digest: blob.digest) ?? false
            if known, try destination.blobExists(repository: repository, digest: blob.digest) {
                present += 1
            } else if let candidates = try state?.mountCandidates(registry: job.registryKey, digest: blob.digest, targetRepository: repository,
                                                                   identity: job.credentialIdentity, limit: 1), !candidates.isEmpty {
                mount += 1
            } else if try destination.blobExists(repository: repository, digest: blob.digest) {
                present += 1
            } else {
                upload += 1
                uploadBytes += blob.size
            }
        }
    }
}
