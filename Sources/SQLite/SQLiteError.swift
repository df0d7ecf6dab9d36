import CSQLite

/// A failure reported by sqlite3, with sqlite's own message and the SQL at fault.
public enum SQLiteError: Error, Equatable, Sendable {
    /// The database file could not be opened or created.
    case open(path: String, code: Int32, message: String)
    /// A statement could not be compiled.
    case prepare(sql: String, code: Int32, message: String)
    /// Binding a parameter failed (wrong index, too big, …).
    case bind(sql: String, index: Int, code: Int32, message: String)
    /// Running a statement failed (constraint violation, busy, I/O error, …).
    case step(sql: String, code: Int32, message: String)
    /// A column did not hold the type the caller asked for.
    case columnType(sql: String, column: Int, expected: String, found: String)

    /// sqlite's primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, …), 0 when not applicable.
    public var code: Int32 {
        switch self {
        case .open(_, let c, _), .prepare(_, let c, _), .bind(_, _, let c, _), .step(_, let c, _): c
        case .columnType: 0
        }
    }

    /// SQLITE_CANTOPEN, for open failures found before sqlite is asked.
    public static let cantOpenCode: Int32 = SQLITE_CANTOPEN

    /// True when another connection held a lock longer than the busy timeout.
    public var isBusy: Bool { (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED }
    /// True for constraint violations (unique, check, foreign key, not null).
    public var isConstraint: Bool { (code & 0xff) == SQLITE_CONSTRAINT }
}

extension SQLiteError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .open(let path, _, let message):
            "cannot open SQLite database \(path): \(message)"
        case .prepare(let sql, _, let message):
            "SQLite error: \(message) (in: \(sql))"
        case .bind(let sql, let index, _, let message):
            "SQLite error binding parameter \(index): \(message) (in: \(sql))"
        case .step(let sql, _, let message):
            "SQLite error: \(message) (in: \(sql))"
        case .columnType(let sql, let column, let expected, let found):
            "SQLite column \(column) holds \(found), expected \(expected) (in: \(sql))"
        }
    }
}
