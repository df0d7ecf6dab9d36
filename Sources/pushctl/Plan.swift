import ArgumentParser
import Foundation
import JobFile
import Run

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
        _superCommandName: Pushctl.name,
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
        if !failed.isEmpty { throw ExitCode(ExitStatus.invalidInput) }
        // Read-only use of the state database: an absent one is not created.
        let ledger = try global.state.openIfPresent(readingOnly: true)
        let result = PlanRun(ledger: ledger) { StandardError.write($0) }
            .run(PlanRequest(jobs: jobs, only: only, offline: offline, environment: environment))

        if let out, let saved = result.saved {
            do {
                try saved.encoded().write(to: URL(fileURLWithPath: out))
            } catch {
                throw CommandFailure.invalidInput("writing the plan to \(out): \(error.localizedDescription)").reported()
            }
        }
        switch global.output {
        case .text: print(PlanRendering.text(result.plans, details: result.details), terminator: "")
        case .json: print(try PlanRendering.json(result.plans, offline: offline, details: result.details))
        }
        for problem in result.sourceProblems {
            StandardError.write("\(result.status == .invalidInput ? "error" : "note"): \(problem)")
        }
        if result.status != .success { throw ExitCode(result.status) }
    }
}
