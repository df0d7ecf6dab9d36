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

    /// Whether the location is a PostgreSQL URL (`postgres://` or `postgresql://`, as libpq
    /// spells them) rather than a SQLite file path.
    public var isPostgres: Bool { value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") }

    /// Whether the ledger exists (read commands never create one). A PostgreSQL ledger is asked
    /// when opened instead.
    public var exists: Bool { isPostgres || FileManager.default.fileExists(atPath: value) }

    /// Opens the ledger for writing, creating it when needed (`apply`).
    public func openForWriting() throws(StateError) -> any Ledger {
        if isPostgres {
            guard let store = try StateStore.open(postgresURL: try checkedURL(), location: value, creating: true) else {
                throw .invalidLocation("cannot create a ledger at \(value)")
            }
            return store
        }
        return try StateStore.open(path: value)
    }

    /// Opens an existing ledger. With `readingOnly`, one this process cannot write (a read-only
    /// file or file system, someone else's file) is opened read-only instead of failing.
    public func openExisting(readingOnly: Bool = false) throws(LedgerOpenError) -> any Ledger {
        if isPostgres {
            let store: StateStore?
            do throws(StateError) {
                // Read commands never create a ledger: a database without pushctl's tables is missing.
                store = try StateStore.open(postgresURL: try checkedURL(), location: value, creating: false)
            } catch {
                throw .state(error)
            }
            guard let store else { throw .missing(self) }
            return store
        }
        guard exists else { throw .missing(self) }
        let folder = (value as NSString).deletingLastPathComponent
        let writable = access(value, W_OK) == 0 && access(folder.isEmpty ? "." : folder, W_OK) == 0
        do throws(StateError) {
            return try StateStore.open(path: value, readOnly: readingOnly && !writable)
        } catch {
            throw .state(error)
        }
    }

    /// The URL, refused when it carries a password (docs/state.md "PostgreSQL"): a password in
    /// a URL ends up in shell history, process listings and CI logs, so pushctl takes one only
    /// where libpq reads it itself (PGPASSWORD, ~/.pgpass, PGPASSFILE). Exit 2, and the
    /// message shows the URL with the password replaced.
    func checkedURL() throws(StateError) -> String {
        let afterScheme = value[value.range(of: "://")!.upperBound...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
        let userinfo = authority.lastIndex(of: "@").map { authority[..<$0] } ?? ""
        let query = value.firstIndex(of: "?").map { value[$0...] } ?? ""
        let parameters = query.dropFirst().split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).first ?? "" }
        if userinfo.contains(":") || parameters.contains("password") || parameters.contains("sslpassword") {
            throw .invalidLocation(
                "the state URL \(Self.redacted(value)) carries a password; pushctl reads PostgreSQL passwords only from PGPASSWORD, ~/.pgpass or PGPASSFILE (docs/state.md \"PostgreSQL\")"
            )
        }
        return value
    }

    /// `value` with any password replaced by `***` (URL userinfo and a `password=` parameter).
    static func redacted(_ value: String) -> String {
        StateStore.redactedLocation(value)
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
