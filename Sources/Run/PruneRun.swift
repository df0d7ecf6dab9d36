import Threading
import Curl
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import State

/// `pushctl prune` (README "Pruning"): tags pushctl itself pushed into a job's target
/// repositories that the job no longer selects, and that still hold the digest pushctl recorded,
/// are deleted — only with `confirm`. Everything else is kept and reported: a tag someone moved, a
/// tag pushctl never pushed, a digest another tag still points at (docker-registry deletes
/// manifests by digest, which would take that tag too), a repository whose selection could not be
/// worked out (its source could not be read).
public struct PruneRun {
    public enum Action: String, Encodable, Sendable {
        /// `--confirm`: deleted (recorded as a `deleted` row of a `prune` run).
        case deleted
        /// Dry run: would be deleted with `--confirm`.
        case wouldDelete = "would-delete"
        /// Kept: the tag no longer holds what pushctl pushed.
        case moved
        /// Kept: another tag of the repository points at the same digest.
        case shared
        /// Nothing to do: the tag is already gone.
        case gone
        /// Kept: pushctl never pushed this tag.
        case foreign
        /// Kept: what the job selects here is unknown (a source could not be read).
        case undecided
        /// The registry could not be asked, or refused the deletion (exit 1).
        case failed
    }

    public struct Entry: Encodable, Sendable {
        public var job: String
        public var registry: String
        public var host: String
        public var repository: String
        public var tag: String
        /// What pushctl pushed there (nil for foreign tags).
        public var recorded: String?
        /// What the tag holds now (nil: gone, or not asked).
        public var current: String?
        public var action: Action
        public var message: String?
    }

    public struct Report: Sendable {
        public var entries: [Entry] = []
        public var status: ExitStatus { entries.contains { $0.action == .failed } ? .failed : .success }
    }

    /// Why a prune stopped before it could report its tags.
    public enum Failure: Error, CustomStringConvertible {
        /// The ledger could not be read or written (exit 2, or 3 when another apply holds its lock).
        case state(StateError)
        /// libcurl cannot be loaded (exit 127): the loader's message. Nothing is recorded.
        case libcurlMissing(String)

        public var description: String {
            switch self {
            case .state(let error): error.description
            case .libcurlMissing(let message): message
            }
        }
    }

    public let store: any Ledger
    public let environment: [String: String]
    public let cancellation: CancellationFlag
    public let notice: @Sendable (String) -> Void

    public init(
        store: any Ledger, environment: [String: String], cancellation: CancellationFlag = CancellationFlag(),
        notice: @escaping @Sendable (String) -> Void
    ) {
        self.store = store
        self.environment = environment
        self.cancellation = cancellation
        self.notice = notice
    }

    /// Fallback tags of referrers (`sha256-<hex>`) are pushctl's bookkeeping, not images: never
    /// reported as foreign.
    static func isFallbackTag(_ tag: String) -> Bool {
        for algorithm in ["sha256-", "sha512-"] where tag.hasPrefix(algorithm) {
            let hex = tag.dropFirst(algorithm.count)
            return !hex.isEmpty && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
        }
        return false
    }

    public func run(_ jobs: [Job], confirm: Bool) throws(Failure) -> Report {
        // Before the run is recorded: without libcurl no prune run is left in the ledger.
        if let error = CurlTransport.libraryError { throw .libcurlMissing(error) }
        do throws(StateError) {
            return try pruneAll(jobs, confirm: confirm)
        } catch {
            throw .state(error)
        }
    }

    private func pruneAll(_ jobs: [Job], confirm: Bool) throws(StateError) -> Report {
        var report = Report()
        let registries = RunRegistries(environment: environment, cancellation: cancellation) { [notice] in notice("note: \($0)") }
        for job in jobs {
            let runID =
                confirm
                ? try store.beginRun(
                    job: job.name, file: job.filePath, fileDigest: job.fileDigest, kind: .prune,
                    pushctlVersion: PushctlVersion.current) : nil
            var entries: [Entry] = []
            do {
                entries = try prune(job, registries: registries, confirm: confirm, runID: runID)
            } catch {
                if let runID { try store.finishRun(runID, status: .failed, exitCode: 1, error: error.description) }
                throw error
            }
            report.entries += entries
            if let runID {
                let failed = entries.filter { $0.action == .failed }.count
                try store.finishRun(
                    runID, status: failed > 0 ? .failed : .ok, exitCode: failed > 0 ? 1 : 0,
                    error: failed > 0 ? "\(failed) deletion\(failed == 1 ? "" : "s") failed" : nil)
            }
        }
        return report
    }

    private struct RepositoryKey: Hashable { var registry: String; var repository: String }

    private func prune(_ job: Job, registries: RunRegistries, confirm: Bool, runID: RunID?) throws(StateError) -> [Entry] {
        // What the job selects now: preparation resolves selectors, source tags and referrer
        // attachments exactly as apply would (reads only).
        let items = Planner.plan(job).items
        let prepared = RunPreparation.prepare(
            [(job, items)], registries: registries, concurrencyOverride: nil,
            state: store, sourceOptions: SourceOptions())
        var selected: Set<String> = []
        for push in prepared.pushes {
            for tag in push.target.tags { selected.insert("\(push.registryKey)\u{0}\(push.target.repository)\u{0}\(tag)") }
        }
        var undecided: [RepositoryKey: String] = [:]
        for failure in prepared.failures {
            undecided[RepositoryKey(registry: failure.failed.registryKey, repository: failure.item.repository)] =
                failure.failed.error.description
        }

        var entries: [Entry] = []
        var done: Set<RepositoryKey> = []
        for item in items {
            guard let registry = job.registry(named: item.registry) else { continue }
            let key = RepositoryKey(registry: registry.url.hostPort, repository: item.repository)
            guard done.insert(key).inserted else { continue }
            let recorded = try store.currentTags(registryHost: key.registry, repository: key.repository)
            func entry(_ tag: String, _ record: PushRecord?, _ action: Action, current: Digest? = nil, _ message: String? = nil) -> Entry {
                Entry(
                    job: job.name, registry: registry.name, host: key.registry, repository: key.repository, tag: tag,
                    recorded: record?.pushedDigest?.string, current: current?.string, action: action, message: message)
            }
            if let why = undecided[key] {
                entries += recorded.map { entry($0.tag, $0, .undecided, "what the job selects here is unknown: \(why)") }
                continue
            }
            let connection: RegistryConnection
            do { connection = try registries.connection(to: registry, of: job) } catch {
                entries += recorded.map { entry($0.tag, $0, .failed, "\(error)") }
                continue
            }
            let isSelected = { (tag: String) in selected.contains("\(key.registry)\u{0}\(key.repository)\u{0}\(tag)") }

            // The repository's tags (one listing), then one HEAD per tag that matters.
            let listed: [String]
            do {
                listed = try connection.endpoints.perform { client, _ throws(RegistryError) -> [String] in
                    do throws(RegistryError) { return try client.listTags(key.repository) } catch {
                        if error.isNotFound { return [] }
                        throw error
                    }
                }.value
            } catch {
                entries += recorded.filter { !isSelected($0.tag) }.map { entry($0.tag, $0, .failed, "listing the tags: \(error)") }
                continue
            }
            var heads: [String: Result<Digest?, any Error>] = [:]
            func head(_ tag: String) -> Result<Digest?, any Error> {
                if let known = heads[tag] { return known }
                let result = Result { () throws -> Digest? in
                    try connection.endpoints.perform { client, _ throws(RegistryError) in
                        try client.manifestDescriptor(key.repository, reference: tag)?.digest
                    }.value
                }
                heads[tag] = result
                return result
            }

            let recordedTags = Set(recorded.map(\.tag))
            for tag in listed where !recordedTags.contains(tag) && !isSelected(tag) && !Self.isFallbackTag(tag) {
                entries.append(entry(tag, nil, .foreign, "not pushed by pushctl (according to this state database): kept"))
            }

            // Candidates: unselected tags that still hold what pushctl pushed, grouped by digest.
            var byDigest: [Digest: [PushRecord]] = [:]
            for record in recorded where !isSelected(record.tag) {
                guard let pushed = record.pushedDigest else { continue }
                switch head(record.tag) {
                case .failure(let error):
                    entries.append(entry(record.tag, record, .failed, "\(error)"))
                case .success(nil):
                    entries.append(entry(record.tag, record, .gone, "the tag no longer exists"))
                case .success(let current?) where current != pushed:
                    entries.append(entry(record.tag, record, .moved, current: current, "moved since pushctl pushed it: kept"))
                case .success:
                    byDigest[pushed, default: []].append(record)
                }
            }
            for (digest, group) in byDigest.sorted(by: { $0.key.string < $1.key.string }) {
                let groupTags = Set(group.map(\.tag))
                // Deleting by digest removes every tag on it: only when no other tag points there.
                var sharing: [String] = []
                var unknown: String?
                for tag in listed where !groupTags.contains(tag) {
                    switch head(tag) {
                    case .success(let current) where current == digest: sharing.append(tag)
                    case .failure(let error): unknown = "checking tag \(tag): \(error)"
                    default: break
                    }
                }
                if !sharing.isEmpty || unknown != nil {
                    let message =
                        unknown
                        ?? "\(digest) is also tagged \(sharing.sorted().joined(separator: ", ")); deleting it by digest would delete that tag too: kept"
                    entries += group.map { entry($0.tag, $0, unknown == nil ? .shared : .failed, current: digest, message) }
                    continue
                }
                guard confirm, let runID else {
                    entries += group.map { entry($0.tag, $0, .wouldDelete, current: digest, "no longer selected by the job") }
                    continue
                }
                let started = Date()
                do {
                    let (_, endpoint) = try connection.endpoints.perform { client, _ throws(RegistryError) in
                        try client.deleteManifest(key.repository, digest: digest)
                    }
                    let ended = Date()
                    try store.recordPushes(
                        group.map { record in
                            PushRecord(
                                runID: runID, planItemID: record.planItemID, source: record.source, sourceDigest: record.sourceDigest,
                                registryName: registry.name, registryHost: key.registry, endpoint: endpoint.url,
                                repository: key.repository, tag: record.tag, pushedDigest: digest, mediaType: record.mediaType,
                                size: record.size, status: .deleted, started: started, ended: ended)
                        })
                    entries += group.map { entry($0.tag, $0, .deleted, current: digest, "deleted \(digest)") }
                } catch let error as StateError {
                    throw error
                } catch {
                    entries += group.map { entry($0.tag, $0, .failed, current: digest, "deleting \(digest): \(error)") }
                }
            }
        }
        return entries
    }
}
