import ArgumentParser
import Foundation
import Run

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `pushctl key generate PREFIX` (docs/cli.md "Commands"): a cosign key pair for `sign:`.
struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        _superCommandName: Pushctl.name,
        abstract: "Manage signing keys.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
            abstract: "Write a cosign key pair: PREFIX.key (encrypted, mode 0600) and PREFIX.pub.",
            discussion: """
                The passphrase comes from PUSHCTL_KEY_PASSPHRASE, else it is asked for twice on the \
                terminal. cosign reads both files (cosign sign --key PREFIX.key, cosign verify --key \
                PREFIX.pub). Existing files are never overwritten.
                """)

        @Argument(help: ArgumentHelp("Path prefix of the two files.", valueName: "prefix"))
        var prefix: String

        static let passphraseVariable = "PUSHCTL_KEY_PASSPHRASE"

        func run() throws {
            let passphrase: String
            if let value = ProcessInfo.processInfo.environment[Self.passphraseVariable] {
                passphrase = value
            } else if isatty(STDIN_FILENO) == 1 {
                guard let first = Self.prompt("Passphrase for the new key: "),
                    let second = Self.prompt("Passphrase again: ")
                else {
                    StandardError.write("error: no passphrase read")
                    throw ExitCode(ExitStatus.invalidInput)
                }
                guard first == second else {
                    StandardError.write("error: the two passphrases differ")
                    throw ExitCode(ExitStatus.invalidInput)
                }
                passphrase = first
            } else {
                StandardError.write(
                    "error: set \(Self.passphraseVariable) to the new key's passphrase (standard input is not a terminal to ask on)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            do throws(KeyGeneration.Failure) {
                let id = try KeyGeneration.writeKeyPair(prefix: prefix, passphrase: passphrase)
                print("wrote \(prefix).key (private, mode 0600) and \(prefix).pub; key id \(id)")
            } catch {
                StandardError.write("error: \(error)")
                throw ExitCode(ExitStatus.invalidInput)
            }
        }

        /// Reads a line from the terminal without echo.
        static func prompt(_ text: String) -> String? {
            guard let pass = getpass(text) else { return nil }
            return String(cString: pass)
        }
    }
}
