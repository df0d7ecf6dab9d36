import ArgumentParser
import Foundation
import State

/// `--state PATH` (docs/cli.md "Common options"): repeatable for `history`, which reads several
/// databases as one; `show` and `prune-history` take one.
struct StateOptions: ParsableArguments {
    @Option(
        name: .customLong("state"),
        help: ArgumentHelp(
            "State database (default: $PUSHCTL_STATE, $XDG_STATE_HOME/pushctl/state.db, ~/.local/state/pushctl/state.db).",
            valueName: "path"))
    var paths: [String] = []

    /// The paths given, or the default one.
    var resolvedPaths: [String] {
        paths.isEmpty ? [StateStore.defaultPath(environment: ProcessInfo.processInfo.environment)] : paths
    }

    /// Opens every database. Read commands never create one: a missing file is reported (exit 2)
    /// rather than silently answered with an empty history. With `readingOnly`, a database this
    /// process cannot write (a read-only file or file system, someone else's file) is opened
    /// read-only instead of failing.
    func openExisting(readingOnly: Bool = false) throws(CommandFailure) -> [StateStore] {
        try resolvedPaths.map { path throws(CommandFailure) in
            guard FileManager.default.fileExists(atPath: path) else {
                throw .invalidInput("no state database at \(path) (nothing has been applied with it yet)")
            }
            let folder = (path as NSString).deletingLastPathComponent
            let writable = access(path, W_OK) == 0 && access(folder.isEmpty ? "." : folder, W_OK) == 0
            do throws(StateError) {
                return try StateStore.open(path: path, readOnly: readingOnly && !writable)
            } catch {
                throw CommandFailure(error)
            }
        }
    }

    /// The single database of commands that take one.
    func openSingle(command: String, readingOnly: Bool = false) throws(CommandFailure) -> StateStore {
        guard paths.count <= 1 else { throw .invalidInput("\(command) takes one --state, got \(paths.count)") }
        return try openExisting(readingOnly: readingOnly)[0]
    }
}

/// A failure a subcommand reports on stderr, with its docs/cli.md exit code.
enum CommandFailure: Error, CustomStringConvertible {
    /// Exit 2: usage, unknown run, ambiguous digest prefix, unreadable state database.
    case invalidInput(String)
    /// Exit 3: another apply holds the lock.
    case locked(String)

    init(_ error: StateError) {
        switch error {
        case .locked: self = .locked(error.description)
        default: self = .invalidInput(error.description)
        }
    }

    var exitCode: Int32 {
        switch self {
        case .invalidInput: 2
        case .locked: 3
        }
    }

    var description: String {
        switch self {
        case .invalidInput(let message), .locked(let message): message
        }
    }
}

extension CommandFailure {
    /// Prints `error: …` on stderr and returns the ArgumentParser exit to throw.
    func reported() -> ExitCode {
        FileHandle.standardError.write(Data("error: \(description)\n".utf8))
        return ExitCode(exitCode)
    }
}

/// Runs a subcommand body, turning `CommandFailure` into its message and exit code.
func reportingFailures(_ body: () throws(CommandFailure) -> Void) throws(ExitCode) {
    do { try body() } catch { throw error.reported() }
}

/// Whether stdout is a terminal (text output then uses relative times and short digests).
var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

/// Writes to stdout without buffering surprises when mixed with stderr.
func writeOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
