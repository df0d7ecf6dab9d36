import Foundation
import JobFile
import OCI
import Planner
import Pusher

/// A resolved plan written by `pushctl plan --out PLAN.json` for review, and executed exactly by
/// `pushctl apply --plan PLAN.json` (docs/run.md "Saved plans"; schemas/saved-plan-v1.schema.json).
///
/// It pins what `apply` would otherwise resolve anew: the job files (by digest), each push's
/// source digest, and the tags each selector chose. `apply --plan` resolves them again and refuses,
/// pushing nothing, when any of these moved.
public struct SavedPlan: Codable, Sendable, Equatable {
    public static let schemaName = "pushctl-saved-plan-v1"

    public struct JobFileEntry: Codable, Sendable, Equatable {
        /// Absolute path of the job file.
        public var file: String
        public var job: String
        public var fileDigest: String
    }

    /// One push: an image to one repository under some tags, with what `plan` decided for it.
    public struct Push: Codable, Sendable, Equatable {
        public var item: String
        public var job: String
        /// The source as the push reads it (a selector's push names its tag).
        public var source: String
        public var sourceDigest: String
        public var mediaType: String
        public var registry: String
        public var repository: String
        public var tags: [String]
        /// True when a tag selector picked the tag.
        public var selected: Bool
        /// Endpoints in fallback order.
        public var endpoints: [String]
        /// The endpoint `plan` reached, if any.
        public var endpoint: String?
        public var decisions: [Decision]
        public var blobs: Blobs?
        public var error: String?
        /// `verify:`: the digests of the source's signature manifests `plan` read (the `.sig`
        /// tag's, then OCI 1.1 referrers'); `apply --plan` refuses when they changed.
        public var signatures: [String]? = nil
        /// `verify:`: the verdict `plan` reached (`rejected: …` when refused).
        public var verdict: String? = nil
    }

    public struct Decision: Codable, Sendable, Equatable {
        public var tag: String
        /// `push` or `unchanged`.
        public var action: String
    }

    public struct Blobs: Codable, Sendable, Equatable {
        public var upload: Int
        public var uploadBytes: Int64
        public var mount: Int
        public var present: Int
    }

    public var schema = SavedPlan.schemaName
    public var pushctlVersion = PushctlVersion.current
    public var created: String
    public var jobs: [JobFileEntry]
    /// `--only` filters the plan was made with (applied again by `apply --plan`).
    public var only: [String]
    public var pushes: [Push]

    public init(created: Date = Date(), jobs: [Job], only: [String], pushes: [Push]) {
        let formatter = ISO8601DateFormatter()
        self.created = formatter.string(from: created)
        self.jobs = jobs.map { JobFileEntry(file: $0.filePath, job: $0.name, fileDigest: $0.fileDigest.string) }
        self.only = only
        self.pushes = pushes
    }

    /// The saved form of one prepared push and its preview.
    public static func push(_ job: PushJob, item: PlanItem, endpoint: String?, preview: PushPreview) -> Push {
        Push(
            item: item.id, job: job.target.job, source: job.target.source, sourceDigest: job.image.root.digest.string,
            mediaType: job.image.root.mediaType, registry: item.registry, repository: item.repository, tags: job.target.tags,
            selected: { if case .selector = item.tags { return true } else { return false } }(),
            endpoints: item.endpoints.map(\.url), endpoint: endpoint,
            decisions: preview.tags.map { Decision(tag: $0.name, action: $0.need == .unchanged ? "unchanged" : "push") },
            blobs: preview.error == nil
                ? Blobs(
                    upload: preview.blobsToUpload, uploadBytes: preview.bytesToUpload, mount: preview.blobsToMount,
                    present: preview.blobsPresent)
                : nil,
            error: preview.error)
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a saved plan; the error names the file and what is wrong with it.
    public static func read(path: String) throws(SavedPlanError) -> SavedPlan {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        let plan: SavedPlan
        do { plan = try JSONDecoder().decode(SavedPlan.self, from: data) } catch {
            throw .unreadable(path: path, reason: "not a pushctl saved plan: \(error)")
        }
        guard plan.schema == schemaName else {
            throw .unreadable(path: path, reason: "schema \(plan.schema), expected \(schemaName)")
        }
        return plan
    }

    /// What moved between the plan and `jobs` (each problem once); empty when the plan still holds.
    public func drift(jobs: [Job]) -> [String] {
        var problems: [String] = []
        for saved in self.jobs {
            guard let job = jobs.first(where: { $0.filePath == saved.file }) else {
                problems.append("job file \(saved.file) is not loaded")
                continue
            }
            if job.fileDigest.string != saved.fileDigest {
                problems.append("job file \(saved.file) changed (planned \(saved.fileDigest), now \(job.fileDigest))")
            }
        }
        return problems
    }

    /// What moved between the plan's pushes and the pushes resolved now (source digests, the tag
    /// sets selectors chose, pushes that appeared or vanished).
    /// What moved in the sources' signatures: a push whose signature manifests (`seen`, by the
    /// resolved primary push's `pushKey`) differ from those the plan read.
    func signatureDrift(pushes now: [PushJob], seen: [String: [Digest]]) -> [String] {
        var problems: [String] = []
        for push in pushes {
            guard let planned = push.signatures else { continue }
            guard
                let match = now.first(where: {
                    $0.subject == nil && $0.target.itemID == push.item && Set($0.target.tags) == Set(push.tags)
                })
            else { continue }
            let current = (seen[match.target.pushKey] ?? []).map(\.string)
            if current != planned {
                problems.append(
                    "\(push.source): signatures changed since the plan (planned \(planned.isEmpty ? "none" : planned.joined(separator: ", ")), now \(current.isEmpty ? "none" : current.joined(separator: ", ")))"
                )
            }
        }
        return problems
    }

    public func drift(pushes now: [PushJob], failedItems: Set<String> = []) -> [String] {
        var problems: [String] = []
        let planned = Dictionary(grouping: pushes, by: \.item)
        let resolved = Dictionary(grouping: now, by: \.target.itemID)
        for (item, saved) in planned.sorted(by: { $0.key < $1.key }) where !failedItems.contains(item) {
            let current = resolved[item] ?? []
            let first = saved[0]
            if first.selected {
                let plannedTags = Set(saved.flatMap(\.tags)), currentTags = Set(current.flatMap(\.target.tags))
                if plannedTags != currentTags {
                    let added = currentTags.subtracting(plannedTags).sorted(), gone = plannedTags.subtracting(currentTags).sorted()
                    problems.append(
                        "\(first.repository) (\(first.registry)): the selector now picks "
                            + [
                                added.isEmpty ? nil : "new tags \(added.joined(separator: ", "))",
                                gone.isEmpty ? nil : "no longer \(gone.joined(separator: ", "))"
                            ].compactMap { $0 }.joined(separator: " and "))
                }
            }
            for push in saved {
                // Referrers of one item share its (empty) tag set: their sources, which name their
                // digests, tell them apart.
                guard
                    let match = current.first(where: {
                        Set($0.target.tags) == Set(push.tags) && ($0.subject == nil || $0.target.source == push.source)
                    })
                else {
                    if !first.selected {
                        problems.append(
                            "\(push.source) → \(push.repository): no longer planned with tags \(push.tags.joined(separator: ", "))")
                    }
                    continue
                }
                if match.image.root.digest.string != push.sourceDigest {
                    problems.append("\(push.source): source digest moved from \(push.sourceDigest) to \(match.image.root.digest)")
                }
            }
        }
        for item in resolved.keys.sorted() where planned[item] == nil {
            let push = resolved[item]![0]
            problems.append("\(push.target.source) → \(push.target.repository): not in the saved plan")
        }
        return problems
    }
}

public enum SavedPlanError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// The plan no longer matches the job files or the sources: nothing was pushed.
    case moved(path: String, problems: [String])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .moved(let path, let problems):
            "\(path) no longer matches; nothing was pushed (plan again):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

extension PlanItem {
    /// True when `--only NAME` selects this item: NAME is its target registry, its repository,
    /// its source as written, or its id.
    public func matches(only names: [String]) -> Bool {
        names.isEmpty || names.contains { $0 == registry || $0 == repository || $0 == source.written || $0 == id }
    }
}
