import ArgumentParser
import JobFile
import Planner

/// `pushctl plan FILE...`: resolves jobs into push plans (cli.md "Commands").
/// Offline planning needs no I/O; online planning (digests, what each tag needs) is not built yet,
/// so without `--offline` the command says so on stderr and prints the offline plan.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show per image and target the source, tags and endpoint fallback order.",
        discussion: "With --output json, prints one document described by schemas/plan-v1.schema.json.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Plan without contacting sources or registries.")
    var offline = false

    @Flag(name: .long, help: "Contact docker:// sources and their targets: resolve tag selectors and show per tag copy (bytes), mount or unchanged (text output).")
    var registrySources = false

    @Argument(help: "Job files to plan.", completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
        if registrySources && offline { throw ValidationError("--registry-sources contacts registries; it cannot be combined with --offline") }
    }

    func run() throws {
        let (jobs, failed) = JobLoading.loadAll(files)
        if !failed.isEmpty { throw PushctlExit.invalidInput }
        if !offline && !registrySources {
            StandardError.write("note: online planning is not available yet; showing the offline plan")
        }
        let plans = jobs.map(Planner.plan)
        switch global.output {
        case .text:
            print(PlanRendering.text(plans), terminator: "")
            if registrySources { print(try PlanRegistryPreview.text(jobs, statePath: global.statePath()), terminator: "") }
        case .json:
            if registrySources { StandardError.write("note: --registry-sources previews are printed with --output text only") }
            print(try PlanRendering.json(plans, offline: true))
        }
    }
}
