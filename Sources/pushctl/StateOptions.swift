import ArgumentParser
import Foundation
import Run
import State

/// `--state PATH` (docs/cli.md "Common options"). Two declarations of the one option, as its
/// cardinality differs: `StateOption` (one database, every command but `history`) and
/// `StateOptions` (repeatable: `history` reads several databases as one). What they mean and how
/// they open is written once, in `LedgerOptions`.
struct StateOption: ParsableArguments, LedgerOptions {
    @Option(name: .customLong("state"), help: stateHelp, completion: .file())
    var path: String?

    var given: [String] { path.map { [$0] } ?? [] }

    /// One database: ArgumentParser lets the last of a repeated single-value option win silently,
    /// and a second `--state` must not quietly replace the first. It keeps no count of repeats, so
    /// the command line is counted here (the one place pushctl reads it beside ArgumentParser).
    func validate() throws {
        let count = CommandLine.arguments.filter { $0 == "--state" || $0.hasPrefix("--state=") }.count
        if count > 1 { throw ValidationError("this command takes one --state, got \(count)") }
    }
}

/// `--state PATH`, repeatable (`history`).
struct StateOptions: ParsableArguments, LedgerOptions {
    @Option(name: .customLong("state"), help: stateHelp, completion: .file())
    var given: [String] = []
}

private let stateHelp = ArgumentHelp(
    "State database (default: $PUSHCTL_STATE, $XDG_STATE_HOME/pushctl/state.db, ~/.local/state/pushctl/state.db).",
    valueName: "path")

/// Where the ledger is and how a command opens it.
protocol LedgerOptions {
    /// The `--state` values given, in order.
    var given: [String] { get }
}

extension LedgerOptions {
    /// The locations given, or the default one.
    var locations: [LedgerLocation] {
        let environment = ProcessInfo.processInfo.environment
        return given.isEmpty ? [.resolve(nil, environment: environment)] : given.map { .resolve($0, environment: environment) }
    }

    /// The one location of commands that take one.
    var location: LedgerLocation { locations[0] }

    /// Opens every database. Read commands never create one: a missing one is reported (exit 2)
    /// rather than silently answered with an empty history. With `readingOnly`, a database this
    /// process cannot write is opened read-only instead of failing.
    func openExisting(readingOnly: Bool = false, whenMissing why: String = "nothing has been applied with it yet") throws(CommandFailure)
        -> [any Ledger]
    {
        try locations.map { location throws(CommandFailure) in try Self.open(location, readingOnly: readingOnly, whenMissing: why) }
    }

    /// The single database of commands that take one.
    func openSingle(readingOnly: Bool = false, whenMissing why: String = "nothing has been applied with it yet") throws(CommandFailure)
        -> any Ledger
    {
        try Self.open(location, readingOnly: readingOnly, whenMissing: why)
    }

    /// The database when there is one (`plan` reads it if present, and never creates it).
    func openIfPresent(readingOnly: Bool) throws(CommandFailure) -> (any Ledger)? {
        do throws(LedgerOpenError) {
            return try location.openExisting(readingOnly: readingOnly)
        } catch {
            switch error {
            case .missing: return nil
            case .state(let error): throw CommandFailure(error)
            }
        }
    }

    /// Opens the database for writing, creating it when needed (`apply`).
    func openForWriting() throws(CommandFailure) -> any Ledger {
        do throws(StateError) { return try location.openForWriting() } catch { throw CommandFailure(error) }
    }

    /// The ledger and its apply lock, for the commands that write (`apply` creates the ledger,
    /// `prune` needs an existing one): a lock another apply holds is exit 3, reported here.
    func openLocked(
        creating: Bool, scope: ApplyLockScope, whenMissing why: String = "nothing has been applied with it yet"
    ) throws(ExitCode) -> (
        ledger: any Ledger, lock: any ApplyLock
    ) {
        do throws(CommandFailure) {
            let ledger = creating ? try openForWriting() : try openSingle(whenMissing: why)
            do throws(StateError) {
                return (ledger, try ledger.acquireApplyLock(scope: scope))
            } catch {
                throw CommandFailure(error)
            }
        } catch {
            throw error.reported()
        }
    }

    private static func open(_ location: LedgerLocation, readingOnly: Bool, whenMissing why: String) throws(CommandFailure) -> any Ledger {
        do throws(LedgerOpenError) {
            return try location.openExisting(readingOnly: readingOnly)
        } catch {
            switch error {
            case .missing: throw .invalidInput("\(error) (\(why))")
            case .state(let error): throw CommandFailure(error)
            }
        }
    }
}

/// A failure a subcommand reports on stderr, with its docs/cli.md exit code.
enum CommandFailure: Error, CustomStringConvertible {
    /// Exit 2: usage, unknown run, ambiguous digest prefix, unreadable state database.
    case invalidInput(String)
    /// Exit 3: another apply holds the lock.
    case locked(String)
    /// Exit 127: libcurl cannot be loaded (the loader's message).
    case libraryMissing(String)

    init(_ error: StateError) {
        switch error {
        case .locked: self = .locked(error.description)
        default: self = .invalidInput(error.description)
        }
    }

    var status: ExitStatus {
        switch self {
        case .invalidInput: .invalidInput
        case .locked: .locked
        case .libraryMissing: .libraryMissing
        }
    }

    var description: String {
        switch self {
        case .invalidInput(let message), .locked(let message), .libraryMissing(let message): message
        }
    }
}

extension CommandFailure {
    /// Prints `error: …` on stderr and returns the ArgumentParser exit to throw.
    func reported() -> ExitCode {
        StandardError.write("error: \(description)")
        return ExitCode(status)
    }
}

extension ExitCode {
    init(_ status: ExitStatus) { self.init(status.rawValue) }
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
