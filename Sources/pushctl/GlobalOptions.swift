import ArgumentParser
import Foundation
import State

/// Options shared by the commands that load jobs or use the state database (docs/cli.md "Common options").
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(
        name: .long,
        help: ArgumentHelp(
            "State database path.",
            discussion: "Default: $PUSHCTL_STATE, else $XDG_STATE_HOME/pushctl/state.db, else ~/.local/state/pushctl/state.db.",
            valueName: "path"),
        completion: .file())
    var state: String?

    /// The state database path per docs/cli.md: `--state`, else `StateStore.defaultPath`.
    func statePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state, !state.isEmpty { return state }
        return StateStore.defaultPath(environment: environment)
    }
}

/// `--output` values of the commands that print one document or one line per event.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Writes to standard error (messages for people; standard output stays machine-readable).
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// Exit statuses of docs/cli.md "Exit codes".
enum PushctlExit {
    static let invalidInput = ExitCode(2)
}
