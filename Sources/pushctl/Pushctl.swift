import ArgumentParser
import Run
import Foundation

@main
struct Pushctl: ParsableCommand {
    /// The tool's name, also every subcommand's `_superCommandName` (see `parse`).
    static let name = "pushctl"

    static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "A declarative push-job runner for container images.",
        version: PushctlVersion.current,
        subcommands: [
            Validate.self, PlanCommand.self, Apply.self, Verify.self, History.self, Show.self, PruneHistory.self, Prune.self, Key.self,
            StateCommand.self, ServeCommand.self
        ]
    )

    /// Runs the command, mapping ArgumentParser's usage errors (status 64) to status 2, which
    /// docs/cli.md reserves for invalid input of every kind.
    ///
    /// For `apply`, libcurl is loaded on a thread of its own from the start, while the arguments
    /// and jobs are read (`ApplyRun.warmedUp`); every way out waits for it.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let failure: (any Error)? = ApplyRun.warmedUp(if: arguments.first == Apply._commandName) {
            do {
                var command = try parse(arguments)
                try command.run()
                return nil
            } catch {
                return error
            }
        }
        if let error = failure {
            if let suggestion = suggestion(for: arguments.first) {
                StandardError.write(suggestion)
                Foundation.exit(ExitStatus.invalidInput.rawValue)
            }
            if exitCode(for: error) == .validationFailure {
                StandardError.write(fullMessage(for: error))
                Foundation.exit(ExitStatus.invalidInput.rawValue)
            }
            exit(withError: error)
        }
    }

    /// The command `arguments` name.
    ///
    /// A subcommand named first is parsed as the root of a parser of its own: swift-argument-parser's
    /// root parse first tries every command line twice more as a `--generate-completion-script`
    /// request, with two more parsers built by reflection (about 2 ms of every run,
    /// docs/performance.md "The rerun, a fourth look"), and it skips that check for a root
    /// with a `_superCommandName`; every subcommand's is `pushctl`.
    ///
    /// Only a command of that subcommand's tree is taken from it. Anything else, a parse error, a
    /// help request, `--version` or `--generate-completion-script` (which belong to the root), is
    /// parsed again from the root, so that messages, usage lines and help are the root parse's,
    /// byte for byte.
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        if let first = arguments.first,
            let subcommand = configuration.subcommands.first(where: { $0._commandName == first }),
            let command = try? subcommand.parseAsRoot(Array(arguments.dropFirst())),
            isCommand(type(of: command), inTreeOf: subcommand)
        {
            return command
        }
        return try parseAsRoot(arguments)
    }

    /// Whether `type` is `root` or one of its subcommands, at any depth (not ArgumentParser's own
    /// help command).
    static func isCommand(_ type: ParsableCommand.Type, inTreeOf root: ParsableCommand.Type) -> Bool {
        type == root || root.configuration.subcommands.contains { isCommand(type, inTreeOf: $0) }
    }

    /// "did you mean" for a mistyped subcommand (`pushctl aply`): the closest subcommand name
    /// within two edits.
    static func suggestion(for word: String?) -> String? {
        guard let word, !word.hasPrefix("-") else { return nil }
        let names = configuration.subcommands.map { $0._commandName }
        guard !names.contains(word) else { return nil }
        let ranked = names.map { ($0, editDistance(word, $0)) }.sorted { $0.1 < $1.1 }
        guard let best = ranked.first, best.1 <= 2 else { return nil }
        return "error: unknown command '\(word)'; did you mean '\(best.0)'?\n       See 'pushctl --help' for the commands."
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
