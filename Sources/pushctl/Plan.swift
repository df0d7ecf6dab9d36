import ArgumentParser
import Foundation
import Curl
import ImageSource
import JobFile
import Planner
import Pusher
import Registry
import Run
import State

/// `pushctl plan FILE...`: resolves jobs into push plans (docs/cli.md "Commands").
///
/// `--offline` contacts no registry: it shows per item the source, tags and endpoint order, and
/// for local sources that can be read, their digest, media type, platforms and size (a source not
/// built yet is noted, not fatal: the plan of a valid job is still worth seeing). Without
/// `--offline` it also asks the target registries, with `HEAD` requests only, what each tag needs
/// (push or unchanged) and how many blobs would be uploaded, mounted or found present; nothing is
/// written anywhere, and a source that cannot be read is an error (exit 2), as for `apply`.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show per image and target the source, tags, endpoint order and what apply would do.",
        discussion: "With --output json, prints one document described by schemas/plan-v1.schema.json.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Plan without contacting registries.")
    var offline = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write the resolved plan here for `pushctl apply --plan` (schemas/saved-plan-v1.schema.json).", valueName: "path"),
        completion: .file(extensions: ["json"]))
    var out: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Plan only the items whose target registry, repository, source or id is NAME (repeatable).", valueName: "name"))
    var only: [String] = []

    @Argument(help: ArgumentHelp("Job files to plan.", valueName: "path"), completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
        if out != nil && offline { throw ValidationError("--out saves an online plan (source digests, decisions); drop --offline") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let (jobs, failed) = JobLoading.loadAll(files)
        if !failed.isEmpty { throw PushctlExit.invalidInput }
        let plans = jobs.map(Planner.plan).map { plan in
            var plan = plan
            plan.items = plan.items.filter { $0.matches(only: only) }
            return plan
        }

        // Read-only use of the state database: an absent one is not created.
        let statePath = global.statePath(environment: environment)
        let store = FileManager.default.fileExists(atPath: statePath) ? try? StateStore.open(path: statePath) : nil
        // Offline, registry sources are not read at all (no network): only local sources are.
        let work = zip(jobs, plans).map { job, plan in
            (
                job: job,
                items: plan.items.filter { item in
                    if offline, case .registry = item.source.spec { return false }
                    return true
                }
            )
        }
        let registries = RunRegistries(environment: environment, cancellation: CancellationFlag(), retries: 2) { notice in
            StandardError.write("note: \(notice)")
        }
        let prepared = RunPreparation.prepare(
            work, registries: registries, concurrencyOverride: nil, state: store,
            sourceOptions: SourceOptions())
        var details: [String: PlanRendering.ItemDetail] = [:]
        var saved: [SavedPlan.Push] = []
        let state = ReadOnlyPushState(store: store)
        for prepared in prepared.items {
            let id = prepared.item.id
            switch prepared.result {
            case .failure(let failed):
                details[id, default: .init()].sourceError = failed.error.description
            case .success(let ready):
                details[id, default: .init()].graph = ready.graph
                guard !offline else { continue }
                for push in ready.pushes {
                    let (endpoint, preview) = PushPreviewer.preview(push, state: state)
                    saved.append(SavedPlan.push(push, item: prepared.item, endpoint: endpoint, preview: preview))
                    details[id, default: .init()].previews.append(
                        .init(endpoint: endpoint, preview: preview, replication: push.image.loadContent != nil))
                }
            }
        }

        if let out, prepared.failures.isEmpty {
            do {
                try SavedPlan(jobs: jobs, only: only, pushes: saved).encoded().write(to: URL(fileURLWithPath: out))
            } catch {
                throw CommandFailure.invalidInput("writing the plan to \(out): \(error.localizedDescription)").reported()
            }
        }

        switch global.output {
        case .text: print(PlanRendering.text(plans, details: details), terminator: "")
        case .json: print(try PlanRendering.json(plans, offline: offline, details: details))
        }
        if !prepared.failures.isEmpty {
            var said = Set<String>()
            for failure in prepared.failures where said.insert(failure.failed.error.description).inserted {
                StandardError.write("\(offline ? "note" : "error"): \(failure.failed.error)")
            }
            if !offline { throw PushctlExit.invalidInput }
        }
        if details.values.contains(where: { $0.previews.contains { $0.preview.error != nil } }) { throw ExitCode(1) }
    }
}
