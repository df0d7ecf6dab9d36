import Threading
import Foundation
import ImageSource
import JobFile
import Planner
import Pusher
import State

/// What `pushctl plan` was asked to do.
public struct PlanRequest: Sendable {
    public var jobs: [Job]
    /// `--only NAME`: the items whose registry, repository, source or id is one of these.
    public var only: [String]
    /// `--offline`: no registry is contacted; only local sources are read.
    public var offline: Bool
    public var environment: [String: String]

    public init(jobs: [Job], only: [String], offline: Bool, environment: [String: String]) {
        self.jobs = jobs
        self.only = only
        self.offline = offline
        self.environment = environment
    }
}

/// What planning found out about one item beyond the job file.
public struct PlanItemDetail: Sendable {
    public var graph: ImageGraph?
    public var sourceError: String?
    /// Online: one preview per push of the item (a selector makes one per selected tag).
    public var previews: [PlanPreview] = []
    /// `verify:`: per image of the item, its source and the verdict (`rejected: …` when refused);
    /// offline `not checked`. Empty without a policy.
    public var verdicts: [(source: String, verdict: String)] = []
}

/// One push's preview, with the endpoint that answered.
public struct PlanPreview: Sendable {
    public var endpoint: String?
    public var preview: PushPreview
    /// A registry source: tags that need pushing are a `copy` or a `mount`; else a `push`.
    public var replication: Bool

    /// The word the plan shows for a tag's need.
    public func action(_ need: PushPreview.Need) -> String {
        need == .unchanged ? "unchanged" : replication ? need.rawValue : "push"
    }
}

/// The outcome of `plan`: the plans, what was found per item, the saved form, and the status.
public struct PlanResult: Sendable {
    public var plans: [Plan]
    /// Per plan item id.
    public var details: [String: PlanItemDetail]
    /// The plan as `apply --plan` executes it; nil offline or when a source could not be read.
    public var saved: SavedPlan?
    /// Problems with sources, each said once: errors online, notes offline (a source not built yet).
    public var sourceProblems: [String]
    public var status: ExitStatus
}

/// One `plan` (docs/cli.md "plan"): reads only — the ledger (if there is one), the sources, and
/// online `HEAD`s on the targets through the run's fallback rule and the executor's own
/// decisions (`PushDecider`). Nothing is written anywhere.
public struct PlanRun {
    public let ledger: (any Ledger)?
    public let notice: @Sendable (String) -> Void

    public init(ledger: (any Ledger)?, notice: @escaping @Sendable (String) -> Void) {
        self.ledger = ledger
        self.notice = notice
    }

    public func run(_ request: PlanRequest) -> PlanResult {
        let plans = request.jobs.map(Planner.plan).map { plan in
            var plan = plan
            plan.items = plan.items.filter { $0.matches(only: request.only) }
            return plan
        }
        // Offline, registry and engine sources are not read at all (no network, no engine API):
        // only file sources are.
        let work = zip(request.jobs, plans).map { job, plan in
            (
                job: job,
                items: plan.items.filter { item in
                    guard request.offline else { return true }
                    switch item.source.spec {
                    case .registry, .engine: return false
                    default: return true
                    }
                }
            )
        }
        let registries = RunRegistries(environment: request.environment, cancellation: CancellationFlag(), retries: 2) { [notice] in
            notice("note: \($0)")
        }
        var prepared = RunPreparation.prepare(
            work, registries: registries, concurrencyOverride: nil, state: ledger, sourceOptions: SourceOptions())
        // `verify:` (public keys only): online the gate reads and checks the sources' signatures.
        var gate = SignatureGate()
        var keyProblem: String?
        do throws(SignatureKeyError) {
            let keys = try SignatureKeys.load(request.jobs, environment: request.environment, signing: false)
            if !request.offline { gate = SignatureGate.apply(&prepared, keys: keys, registries: registries) }
        } catch {
            keyProblem = error.description
        }

        var details: [String: PlanItemDetail] = [:]
        var saved: [SavedPlan.Push] = []
        for (job, plan) in zip(request.jobs, plans) {
            for item in plan.items {
                guard let entry = job.images.first(where: { $0.index == item.imageIndex }), job.verify(of: entry) != nil else { continue }
                if request.offline { details[item.id, default: .init()].verdicts.append((item.source.written, "not checked")) }
            }
        }
        for rejection in gate.rejections {
            let push = rejection.push
            details[push.target.itemID, default: .init()].verdicts.append((push.target.source, "rejected: " + rejection.verdict.text))
            if let item = prepared.items.first(where: { $0.item.id == push.target.itemID })?.item {
                var entry = SavedPlan.push(
                    push, item: item, endpoint: nil, preview: PushPreview(target: push.target, digest: push.image.root.digest, tags: []))
                entry.decisions = []
                entry.blobs = nil
                entry.verdict = "rejected: " + rejection.verdict.text
                entry.signatures = gate.seen[push.target.pushKey]?.map(\.string)
                saved.append(entry)
            }
        }
        let state = LedgerPushState.readingOnly(ledger)
        for prepared in prepared.items {
            let id = prepared.item.id
            switch prepared.result {
            case .failure(let failed):
                details[id, default: .init()].sourceError = failed.error.description
            case .success(let ready):
                details[id, default: .init()].graph = ready.graph
                guard !request.offline else { continue }
                for push in ready.pushes {
                    if push.subject == nil, let verdict = gate.verdicts[push.target.pushKey] {
                        details[id, default: .init()].verdicts.append((push.target.source, verdict.text))
                    }
                    let (endpoint, preview) = PushPreviewer.preview(push, state: state)
                    var entry = SavedPlan.push(push, item: prepared.item, endpoint: endpoint, preview: preview)
                    if push.subject == nil, let seen = gate.seen[push.target.pushKey] {
                        entry.signatures = seen.map(\.string)
                        entry.verdict = gate.verdicts[push.target.pushKey]?.text
                    }
                    saved.append(entry)
                    details[id, default: .init()].previews.append(
                        .init(endpoint: endpoint, preview: preview, replication: push.image.loadContent != nil))
                }
            }
        }

        var problems: [String] = keyProblem.map { [$0] } ?? []
        for failure in prepared.failures where !problems.contains(failure.failed.error.description) {
            problems.append(failure.failed.error.description)
        }
        // Offline, a source that is not built yet is only noted (the plan of a valid job is still
        // worth seeing); one that exists but cannot be read is invalid input, as online.
        let broken = keyProblem != nil || prepared.failures.contains { !(request.offline && $0.failed.error.isNotBuiltYet) }
        let previewFailed = details.values.contains { $0.previews.contains { $0.preview.error != nil } }
        let status: ExitStatus = broken ? .invalidInput : previewFailed || !gate.rejections.isEmpty ? .failed : .success
        return PlanResult(
            plans: plans, details: details,
            saved: request.offline || !prepared.failures.isEmpty ? nil : SavedPlan(jobs: request.jobs, only: request.only, pushes: saved),
            sourceProblems: problems, status: status)
    }
}

extension PreparationError {
    /// A local source whose path does not exist yet (a build step has not run): `plan --offline`
    /// notes it instead of failing.
    var isNotBuiltYet: Bool {
        if case .source(_, .notFound) = self { return true }
        return false
    }
}
