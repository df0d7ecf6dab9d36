import Foundation
import State

/// Where a ledger lives, as `--state` or `$PUSHCTL_STATE` names it (docs/cli.md "State database"),
/// and how each command opens it. Today a path names a SQLite file; the run layer is the one place
/// that knows which store a location means.
public struct LedgerLocation: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) { self.value = value }

    /// `--state` when given, else `$PUSHCTL_STATE`, else `$XDG_STATE_HOME/pushctl/state.db`, else
    /// `~/.local/state/pushctl/state.db`.
    public static func resolve(_ given: String?, environment: [String: String]) -> LedgerLocation {
        if let given, !given.isEmpty { return LedgerLocation(given) }
        return LedgerLocation(StateStore.defaultPath(environment: environment))
    }

    public var description: String { value }

    /// Whether the ledger exists (read commands never create one).
    public var exists: Bool { FileManager.default.fileExists(atPath: value) }

    /// Opens the ledger for writing, creating it when needed (`apply`).
    public func openForWriting() throws(StateError) -> any Ledger {
        try StateStore.open(path: value)
    }

    /// Opens an existing ledger. With `readingOnly`, one this process cannot write (a read-only
    /// file or file system, someone else's file) is opened read-only instead of failing.
    public func openExisting(readingOnly: Bool = false) throws(LedgerOpenError) -> any Ledger {
        guard exists else { throw .missing(self) }
        let folder = (value as NSString).deletingLastPathComponent
        let writable = access(value, W_OK) == 0 && access(folder.isEmpty ? "." : folder, W_OK) == 0
        do throws(StateError) {
            return try StateStore.open(path: value, readOnly: readingOnly && !writable)
        } catch {
            throw .state(error)
        }
    }
}

/// Why an existing ledger could not be opened.
public enum LedgerOpenError: Error, Sendable, CustomStringConvertible {
    /// Nothing at that location: nothing has been applied with it yet.
    case missing(LedgerLocation)
    case state(StateError)

    public var description: String {
        switch self {
        case .missing(let location): "no state database at \(location)"
        case .state(let error): error.description
        }
    }
}
