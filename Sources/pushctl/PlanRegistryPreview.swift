import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import State

/// The online part of `pushctl plan` for `docker://` sources (docs/replication.md): resolves
/// selectors from the source's tag list, and shows per selected tag whether it is `unchanged`,
/// would be a `copy` (with the bytes to upload) or a `mount`. Reads only: `HEAD`s on the targets,
/// the state database (never created here), and, for tags that need pushing, the source manifests.
enum PlanRegistryPreview {
    static func text(_ jobs: [Job], statePath: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let work = jobs.map { job in (job: job, items: Planner.plan(job).items.filter { $0.source.transport == "docker" }) }
        guard work.contains(where: { !$0.items.isEmpty }) else { return "" }
        let store = FileManager.default.fileExists(atPath: statePath) ? try? StateStore.open(path: statePath) : nil
        let prepared: RunPreparation
        do {
            prepared = try RunPreparation.prepare(work, concurrencyOverride: nil, state: store, sourceOptions: SourceOptions(),
                                                  environment: environment)
        } catch {
            StandardError.write("error: \(error)")
            throw PushctlExit.invalidInput
        }
        let state = ReadOnlyPushState(store: store)
        var out = "online (registry sources):\n"
        var lastItem = ""
        for job in prepared.jobs {
            let preview = preview(job, prepared: prepared, state: state)
            if job.target.itemID != lastItem {
                out += "\n  [\(job.target.itemID)] -> registry \(job.target.registry), \(job.target.repository)\n"
                lastItem = job.target.itemID
            }
            out += "    \(job.target.source) (\(preview.digest.short))\n"
            if let error = preview.error {
                out += "      error: \(error)\n"
                continue
            }
            for tag in preview.tags {
                out += "      \(tag.name): \(tag.need.rawValue)"
                if tag.need != .unchanged {
                    out += ", \(preview.blobsToUpload) blob(s) \(HumanBytes.format(preview.bytesToUpload)) to upload"
                    out += ", \(preview.blobsToMount) to mount, \(preview.blobsPresent) present"
                }
                out += "\n"
            }
        }
        return out + "\n"
    }

    /// The preview at the first endpoint that answers `/v2/`.
    private static func preview(_ job: PushJob, prepared: RunPreparation, state: ReadOnlyPushState) -> PushPreview {
        let access = prepared.access[RunPreparation.accessKey(job: job.target.job, registry: job.target.registry)]!
        var failures: [String] = []
        for endpoint in prepared.endpoints[job.target.itemID] ?? [] {
            let client = access.client(for: endpoint, retryPolicy: RetryPolicy(attempts: 2), cancellation: nil)
            do { try client.ping() } catch {
                failures.append("\(endpoint.url): \(error)")
                continue
            }
            return PushPreviewer.preview(job, state: state, destination: RegistryDestination(client: client))
        }
        var none = PushPreview(target: job.target, digest: job.image.root.digest, tags: [])
        none.error = "no endpoint answered (\(failures.joined(separator: "; ")))"
        return none
    }
}

/// `1.2 MB`-style sizes for plan output.
enum HumanBytes {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// The state database for reading only (plan never writes), or nothing when there is none yet.
struct ReadOnlyPushState: PushState {
    let store: StateStore?

    func lastPushedDigest(registry: String, repository: String, tag: String) throws -> OCI.Digest? {
        try store?.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
    }
    func isBlobKnown(registry: String, repository: String, digest: OCI.Digest) throws -> Bool {
        try store?.isBlobKnown(registryHost: registry, repository: repository, digest: digest) ?? false
    }
    func mountCandidates(registry: String, digest: OCI.Digest, targetRepository: String, identity: String, limit: Int) throws -> [String] {
        try store?.mountCandidates(registryHost: registry, digest: digest, targetRepository: targetRepository, identity: identity, limit: limit) ?? []
    }
    // Plan writes nothing.
    func recordBlob(registry: String, repository: String, digest: OCI.Digest, identity: String) throws {}
    func removeBlob(registry: String, repository: String, digest: OCI.Digest) throws {}
    func recordPush(_ record: CompletedPush) throws {}
}
