import ArgumentParser
import Foundation
import Run
import Serve

/// `pushctl serve JOB...`: one long-running process that runs the jobs on their schedules and on
/// registry push events, and serves the ledger read-only (docs/serve.md, docs/cli.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        _superCommandName: Pushctl.name,
        abstract: "Run the jobs on their schedules and on registry push events, as one long-running process.",
        discussion: """
            Routes: POST /hooks/registry (docker-registry notifications, Bearer token), GET /healthz, \
            and the read-only view of the ledger. SIGHUP reloads the job files (the old jobs stay when \
            a new one is invalid); SIGTERM or SIGINT stops (a run in progress is recorded interrupted).
            Exit codes:
              0    stopped by SIGTERM or SIGINT
              1    the HTTP server could not start or stopped (e.g. the address is in use)
              2    invalid input: usage, a job file, --listen, the token file
            """)

    @Option(name: .long, help: ArgumentHelp("Address to listen on (loopback unless another is asked for).", valueName: "host:port"))
    var listen: String = ListenAddress.standard.description

    @OptionGroup var state: StateOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "File holding the bearer token registries send to /hooks/registry (without it hooks are refused).", valueName: "path"),
        completion: .file())
    var hookTokenFile: String?

    /// How long events are gathered into one run: the run starts once none arrived for this many
    /// seconds (docs/serve.md "Registry events"). Hidden: a tuning knob the tests turn.
    @Option(name: .long, help: .hidden)
    var coalesce: Double?

    /// Requests handled at once before 503 (docs/serve.md "Limits"). Hidden: the tests lower it.
    @Option(name: .long, help: .hidden)
    var maxRequests: Int?

    @Argument(help: ArgumentHelp("Job files to serve.", valueName: "path"), completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
        do { _ = try ListenAddress(parsing: listen) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        var options = ServeOptions(
            listen: try ListenAddress(parsing: listen), ledger: state.location, jobFiles: files, hookTokenFile: hookTokenFile,
            environment: ProcessInfo.processInfo.environment)
        if let maxRequests { options.maxConcurrentRequests = max(1, maxRequests) }
        if let coalesce {
            options.coalesceQuiet = coalesce
            options.coalesceMaxWait = max(options.coalesceMaxWait, coalesce * 5)
        }
        do {
            try Serve.run(options)
        } catch {
            // Job-file problems are located lines that say `error:` themselves.
            if case .jobs = error { StandardError.write(error.description) } else { StandardError.write("error: \(error)") }
            throw ExitCode(error.exitStatus)
        }
    }
}
