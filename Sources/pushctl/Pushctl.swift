import ArgumentParser
import Run
import Foundation

@main
struct Pushctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushctl",
        abstract: "A declarative push-job runner for container images.",
        version: PushctlVersion.current,
        subcommands: [Validate.self, PlanCommand.self, Apply.self, Verify.self, History.self, Show.self, PruneHistory.self, Prune.self]
    )

    /// Runs the command, mapping ArgumentParser's usage errors (status 64) to status 2, which
    /// cli.md reserves for invalid input of every kind.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                StandardError.write(fullMessage(for: error))
                Foundation.exit(PushctlExit.invalidInput.rawValue)
            }
            exit(withError: error)
        }
    }
}


