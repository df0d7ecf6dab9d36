import ArgumentParser
import Run
import Foundation
import JobFile
import Planner
import PushOutput
import Pusher
import State

/// `pushctl apply FILE...`: executes the plans, pushes what is needed, records everything in the
/// state database (docs/cli.md "Commands", "Exit codes", "Output").
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        _superCommandName: Pushctl.name,
        abstract: "Push what the job files say, and record it in the state database.",
        discussion: """
            Exit codes:
              0    success (also when nothing needed pushing)
              1    a push failed or a source could not be read (the others completed)
              2    invalid input: usage, job file, a saved plan that no longer matches
              3    another apply holds the state database's lock
              130  interrupted (finished pushes stay recorded)
            """)

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case auto, tty, plain, text, json
    }

    @Option(name: .long, help: "auto (tty on a terminal, plain otherwise), tty, plain (or text), or json (NDJSON events).")
    var output: Output = .auto

    @Flag(name: [.short, .long], help: "Print only errors and the summary.")
    var quiet = false

    @OptionGroup var state: StateOption

    @Option(name: .long, help: ArgumentHelp("Blob transfers at once within one image push (overrides the job's defaults).", valueName: "n"))
    var concurrency: Int?

    @Option(name: .long, help: ArgumentHelp("Image pushes at once (overrides the job's defaults).", valueName: "n"))
    var images: Int?

    @Option(name: .long, help: ArgumentHelp("Attempts per request for retryable failures (overrides the job's defaults).", valueName: "n"))
    var retries: Int?

    @Option(name: .long, help: ArgumentHelp("Push only the plan items of shard I of N (0-based I).", valueName: "I/N"))
    var shard: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Apply only the items whose target registry, repository, source or id is NAME (repeatable).", valueName: "name"))
    var only: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Execute exactly this saved plan (from `pushctl plan --out`); exit 2, nothing pushed, when a job file, source digest or selected tag set moved.",
            valueName: "path"),
        completion: .file(extensions: ["json"]))
    var plan: String?

    @Argument(help: ArgumentHelp("Job files to apply.", valueName: "path"), completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

    func validate() throws {
        if plan != nil {
            if !files.isEmpty { throw ValidationError("--plan names the job files itself; give no job files with it") }
            if shard != nil || !only.isEmpty {
                throw ValidationError("--plan applies the plan as saved; --shard and --only go with `pushctl plan --out`")
            }
        } else if files.isEmpty {
            throw ValidationError("name at least one job file (or --plan PLAN.json)")
        }
        if let concurrency, !Defaults.concurrencyRange.contains(concurrency) { throw ValidationError("--concurrency must be in 1...64") }
        if let images, !Defaults.imagesRange.contains(images) { throw ValidationError("--images must be in 1...32") }
        if let retries, !Defaults.retriesRange.contains(retries) { throw ValidationError("--retries must be in 1...20") }
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
    }

    /// Runs inside `ApplyRun.warmedUp` (`Pushctl.main`): libcurl is loading beside it.
    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let sink = makeSink()
        /// Invalid input (exit 2): said on stderr, and in json output as an `error` event too.
        func invalid(_ message: String, alreadyPrinted: Bool = false) -> ExitCode {
            if output == .json {
                JSONRenderer(err: alreadyPrinted ? TextSink { _ in } : .standardError).emit(
                    .error(message: message, exitCode: ExitStatus.invalidInput.rawValue))
            } else if !alreadyPrinted {
                StandardError.write("error: \(message)")
            }
            return ExitCode(ExitStatus.invalidInput)
        }
        var savedPlan: (plan: SavedPlan, path: String)?
        if let plan {
            do { savedPlan = (try SavedPlan.read(path: plan), plan) } catch { throw invalid(error.description) }
        }
        let (jobs, failed, problems) = JobLoading.loadAllWithProblems(savedPlan?.plan.jobs.map(\.file) ?? files)
        if !failed.isEmpty { throw invalid(problems.joined(separator: "\n"), alreadyPrinted: true) }
        if let (saved, path) = savedPlan {
            let moved = saved.drift(jobs: jobs)
            if !moved.isEmpty { throw invalid(SavedPlanError.moved(path: path, problems: moved).description) }
        }
        let only = savedPlan?.plan.only ?? self.only
        let shard = try self.shard.map { try Shard(parsing: $0) }

        // The lock first: a second apply must fail at once (exit 3), before reading any source.
        let scope = ApplyLockScope(jobs: jobs.map(\.name), shard: shard.map { "\($0.index)/\($0.count)" })
        let (store, lock) = try state.openLocked(creating: true, scope: scope)
        defer { lock.release() }
        if let previous = lock.tookOverFrom {
            StandardError.write("note: took over the lock of pid \(previous.pid) on \(previous.host), which is no longer running")
        }

        // Notices go through the renderer, so a live area on a terminal is cleared around them
        // instead of overwriting them.
        let run = ApplyRun(store: store, sink: sink) { sink.emit(.notice($0)) }
        let interrupts = InterruptHandler(interrupt: run.interrupt) { number in
            sink.emit(
                .notice("\(number == SIGINT ? "interrupt" : "terminated"): stopping; finished pushes stay recorded (again to quit at once)")
            )
        }
        defer { interrupts.stop() }
        let summary: RunSummary
        do {
            var request = ApplyRequest(
                jobs: jobs, only: only, shard: shard, concurrency: concurrency, images: images,
                retries: retries, environment: environment)
            request.savedPlan = savedPlan
            summary = try run.run(request)
        } catch {
            throw CommandFailure(error).reported()
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    /// Live bars move the cursor: not on a dumb terminal, nor when NO_COLOR asks for plain text
    /// (https://no-color.org); then the plain lines are written instead.
    static var terminalCanRedraw: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["TERM"] != "dumb" && (environment["NO_COLOR"] ?? "").isEmpty
    }

    private func makeSink() -> any PushEventSink {
        switch output {
        case .json: JSONRenderer()
        case .plain, .text: PlainRenderer(quiet: quiet)
        case .tty: Self.terminalCanRedraw ? TTYRenderer(quiet: quiet) : PlainRenderer(quiet: quiet)
        case .auto: isatty(STDOUT_FILENO) == 1 && Self.terminalCanRedraw ? TTYRenderer(quiet: quiet) : PlainRenderer(quiet: quiet)
        }
    }
}
