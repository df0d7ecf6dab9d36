/// pushctl's exit statuses (docs/cli.md "Exit codes"): the one list every command's result maps to.
/// The run layer decides the status; the CLI only turns it into the process's exit code.
public enum ExitStatus: Int32, Sendable, CaseIterable, Comparable {
    /// Done (also when nothing needed doing).
    case success = 0
    /// A push, a source or a registry failed; everything else completed.
    case failed = 1
    /// Invalid input: usage, a job file, a saved plan that moved, an unreadable state database.
    case invalidInput = 2
    /// Another `apply` holds the state database's lock.
    case locked = 3
    /// `verify` found a tag moved or gone.
    case drift = 4
    /// libcurl cannot be loaded, so no request can be sent (the dynamic loader's code for a
    /// program whose library is missing).
    case libraryMissing = 127
    /// SIGINT or SIGTERM: finished pushes stay recorded.
    case interrupted = 130

    public static func < (a: ExitStatus, b: ExitStatus) -> Bool { a.rawValue < b.rawValue }
}
