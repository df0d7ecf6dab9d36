import Foundation
import Postgres
import SQLite

/// Everything that can go wrong with the state database (docs/cli.md "State database").
public enum StateError: Error, Sendable {
    /// sqlite reported an error on the database at `path`.
    case database(path: String, SQLiteError)
    /// PostgreSQL reported an error on the ledger at `location` (a URL without any password).
    case postgres(location: String, PostgresError)
    /// A `--state` value that names no ledger pushctl can open (e.g. a URL carrying a password).
    case invalidLocation(String)
    /// The folder for the database could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// The file was written by a newer pushctl; we never migrate backwards.
    case newerSchema(path: String, found: Int, supported: Int)
    /// Another `apply` holds the database's lock (→ exit 3). `holder` is nil when the lock file
    /// could not be read (e.g. the holder is still writing it).
    case locked(lockFile: String, holder: LockHolder?)
    /// A read-only open found a file an older pushctl wrote; migrating it needs write access.
    case olderSchemaReadOnly(path: String, found: Int, current: Int)
    /// The lock file could not be opened or written.
    case lockFile(path: String, reason: String)
    /// `show RUN` named a run the database does not have.
    case unknownRun(path: String, run: String)
    /// A digest prefix given to a filter matches several digests.
    case ambiguousDigest(prefix: String, candidates: [String])
    /// A `--digest` value that is neither a digest nor a hex prefix of one.
    case invalidDigestPrefix(String)
    /// A stored value could not be decoded (the file was edited or is damaged).
    case corrupt(path: String, detail: String)
}

extension StateError {
    /// A unique, check, foreign-key or not-null constraint refused a write (either store).
    public var isConstraintViolation: Bool {
        switch self {
        case .database(_, let error): error.isConstraint
        case .postgres(_, let error): error.sqlState?.hasPrefix("23") == true
        default: false
        }
    }
}

extension StateError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .database(let path, let error):
            "state database \(path): \(error)"
        case .postgres(let location, let error):
            "state database \(location): \(error)"
        case .invalidLocation(let message):
            message
        case .cannotCreateDirectory(let path, let reason):
            "cannot create the state database folder \(path): \(reason)"
        case .newerSchema(let path, let found, let supported):
            "state database \(path) has schema version \(found), but this pushctl supports up to \(supported); use a newer pushctl"
        case .locked(let lockFile, let holder):
            if let holder {
                "the state database is locked by another pushctl apply (pid \(holder.pid) on host \(holder.host), started \(holder.startedText)); lock file \(lockFile)"
            } else {
                "the state database is locked by another pushctl apply (holder unknown); lock file \(lockFile)"
            }
        case .olderSchemaReadOnly(let path, let found, let current):
            "state database \(path) has schema version \(found) and needs migrating to \(current), which a read-only open cannot do; run pushctl once with write access to it"
        case .lockFile(let path, let reason):
            "cannot use the state lock file \(path): \(reason)"
        case .unknownRun(let path, let run):
            "no run \(run) in state database \(path)"
        case .ambiguousDigest(let prefix, let candidates):
            "digest prefix \"\(prefix)\" is ambiguous; it matches:\n" + candidates.map { "  \($0)" }.joined(separator: "\n")
        case .invalidDigestPrefix(let value):
            "invalid digest \"\(value)\": expected sha256:HEX, sha512:HEX or a hex prefix of one"
        case .corrupt(let path, let detail):
            "state database \(path) holds an unexpected value: \(detail)"
        }
    }
}
