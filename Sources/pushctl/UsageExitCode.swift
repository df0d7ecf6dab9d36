import ArgumentParser
import Foundation

extension Pushctl {
    /// ArgumentParser exits 64 (EX_USAGE) on usage errors; cli.md promises 2 for "invalid input:
    /// usage". Help, version and the subcommands' own exit codes pass through unchanged.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
