import Foundation
import Postgres
import SQLite
import Threading

/// The one SQL surface the ledger is written against (docs/state.md "One ledger, two stores").
///
/// Ledger code writes portable SQL with `?` placeholders (or `?1`, `?2` to reuse a value), binds
/// `SQLiteBindable` values and reads rows through `LedgerRow`; it never sees which store runs it.
/// What differs between SQLite and PostgreSQL lives in `SQLDialect` alone: placeholders become
/// `$n`, `INSERT OR IGNORE` becomes `ON CONFLICT DO NOTHING`, and migration DDL gets PostgreSQL
/// types (identity columns, BIGINT, DOUBLE PRECISION, byte-order text).
public protocol LedgerConnection {
    var dialect: SQLDialect { get }
    /// Runs statements without parameters (DDL; several separated by `;`).
    func exec(_ sql: String) throws
    /// Runs one statement.
    func run(_ sql: String, _ values: [any SQLiteBindable]) throws
    /// Runs one statement once per value list (prepared once where the store can).
    func runMany(_ sql: String, _ valueLists: [[any SQLiteBindable]]) throws
    /// Runs one statement and maps every row.
    func query<T>(_ sql: String, _ values: [any SQLiteBindable], _ map: (any LedgerRow) throws -> T) throws -> [T]
    /// Rows changed by the last `run`.
    var changes: Int { get }
    /// The id the last INSERT into a table with an `id INTEGER PRIMARY KEY AUTOINCREMENT` column
    /// gave its row, on this connection (SQLite `last_insert_rowid()`, PostgreSQL `lastval()`).
    func lastInsertRowID() throws -> Int64
}

extension LedgerConnection {
    public func run(_ sql: String) throws { try run(sql, []) }
    public func query<T>(_ sql: String, _ map: (any LedgerRow) throws -> T) throws -> [T] { try query(sql, [], map) }
}

/// A result row, read by column index.
public protocol LedgerRow {
    func isNull(_ column: Int) -> Bool
    func int64(_ column: Int) throws -> Int64
    func double(_ column: Int) throws -> Double
    func string(_ column: Int) throws -> String
    func optionalInt64(_ column: Int) throws -> Int64?
    func optionalDouble(_ column: Int) throws -> Double?
    func optionalString(_ column: Int) throws -> String?
}

extension LedgerRow {
    public func int(_ column: Int) throws -> Int { Int(try int64(column)) }
}

extension SQLite.Row: LedgerRow {}
extension PostgresRow: LedgerRow {}

/// Where the two stores' SQL differs, in one place.
public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// A statement as this store runs it.
    public func statement(_ sql: String) -> String {
        switch self {
        case .sqlite: sql
        case .postgres: Self.postgresStatement(sql)
        }
    }

    /// `?` → `$1`, `$2`… in order; `?N` → `$N`; text in quotes left alone. `INSERT OR IGNORE
    /// INTO … VALUES (…)` → `INSERT INTO … VALUES (…) ON CONFLICT DO NOTHING`.
    static func postgresStatement(_ sql: String) -> String {
        var out = "", next = 1, quote: Character?
        var characters = Array(sql)[...]
        while let c = characters.popFirst() {
            if let q = quote {
                out.append(c)
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "'", "\"":
                quote = c
                out.append(c)
            case "?":
                let digits = characters.prefix { $0.isASCII && $0.isNumber }
                if digits.isEmpty {
                    out += "$\(next)"
                    next += 1
                } else {
                    out += "$" + String(digits)
                    characters = characters.dropFirst(digits.count)
                }
            default: out.append(c)
            }
        }
        if let range = out.range(of: "INSERT OR IGNORE INTO", options: [.caseInsensitive, .anchored]) {
            out = "INSERT INTO" + out[range.upperBound...] + " ON CONFLICT DO NOTHING"
        }
        return out
    }

    /// Keeps every other writer out of `tables` until the transaction ends (`state copy`, which
    /// inserts explicit ids). SQLite's write transaction (`BEGIN IMMEDIATE`) already does; on
    /// PostgreSQL a concurrent writer's INSERT waits, and takes its id once the copy committed.
    public func exclusiveWrites(_ tables: [String]) -> String {
        switch self {
        case .sqlite: "SELECT 1"
        case .postgres: "LOCK TABLE \(tables.joined(separator: ", ")) IN EXCLUSIVE MODE"
        }
    }

    /// After rows were inserted with explicit ids (`state copy`): the statement that makes the
    /// next generated id follow them. SQLite's AUTOINCREMENT already does (sqlite_sequence keeps
    /// the largest id used); a PostgreSQL identity column's sequence must be moved.
    public func identityCatchUp(table: String) -> String {
        switch self {
        case .sqlite: "SELECT 1"
        case .postgres:
            "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT MAX(id) FROM \(table)), 0) + 1, false)"
        }
    }

    /// A migration's DDL as this store runs it. The SQLite text is the reference; PostgreSQL
    /// gets the same tables with its own types: 64-bit integers (SQLite's INTEGER is 64-bit),
    /// identity columns for AUTOINCREMENT, DOUBLE PRECISION for REAL (times are float seconds),
    /// LIKE for GLOB, and `COLLATE "C"` text so that comparisons and ORDER BY are bytewise as in
    /// SQLite whatever the server's locale.
    /// Idempotent: translated text is left as it is (`exec` translates whatever it runs).
    public func ddl(_ sql: String) -> String {
        guard self == .postgres else { return sql }
        var text = sql
        let rules: [(String, String)] = [
            (#"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"#, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
            (#"\bINTEGER\b"#, "BIGINT"),
            (#"\bREAL\b"#, "DOUBLE PRECISION"),
            (#"\bTEXT\b(?! COLLATE)"#, #"TEXT COLLATE "C""#),
            (#"\bGLOB '([^'*]*)\*'"#, "LIKE '$1%'")
        ]
        for (pattern, template) in rules {
            let regex = try! NSRegularExpression(pattern: pattern)
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        return text
    }
}

// MARK: SQLite

struct SQLiteLedgerConnection: LedgerConnection {
    let connection: SQLite.Connection
    var dialect: SQLDialect { .sqlite }
    func exec(_ sql: String) throws { try connection.exec(sql) }
    func run(_ sql: String, _ values: [any SQLiteBindable]) throws { try connection.run(sql, values) }
    func runMany(_ sql: String, _ valueLists: [[any SQLiteBindable]]) throws {
        guard !valueLists.isEmpty else { return }
        let statement = try connection.prepare(sql)
        for values in valueLists { try statement.run(values) }
    }
    func query<T>(_ sql: String, _ values: [any SQLiteBindable], _ map: (any LedgerRow) throws -> T) throws -> [T] {
        let statement = try connection.prepare(sql)
        try statement.bind(values)
        var out = [T]()
        while let row = try statement.step() { out.append(try map(row)) }
        return out
    }
    var changes: Int { connection.changes }
    func lastInsertRowID() throws -> Int64 { connection.lastInsertRowID }
}

// MARK: PostgreSQL

struct PostgresLedgerConnection: LedgerConnection {
    let connection: PostgresConnection
    var dialect: SQLDialect { .postgres }
    func exec(_ sql: String) throws { try connection.exec(SQLDialect.postgres.ddl(sql)) }
    func run(_ sql: String, _ values: [any SQLiteBindable]) throws {
        _ = try connection.query(SQLDialect.postgresStatement(sql), values.map(Self.value))
    }
    func runMany(_ sql: String, _ valueLists: [[any SQLiteBindable]]) throws {
        try connection.runBatch(SQLDialect.postgresStatement(sql), valueLists.map { $0.map(Self.value) })
    }
    func query<T>(_ sql: String, _ values: [any SQLiteBindable], _ map: (any LedgerRow) throws -> T) throws -> [T] {
        let rows = try connection.query(SQLDialect.postgresStatement(sql), values.map(Self.value))
        return try (0..<rows.count).map { try map(rows[$0]) }
    }
    var changes: Int { connection.changes }
    func lastInsertRowID() throws -> Int64 {
        let rows = try connection.query("SELECT lastval()")
        return try rows[0].int64(0)
    }

    static func value(_ bindable: any SQLiteBindable) -> PostgresValue {
        switch bindable.sqliteValue {
        case .integer(let v): .integer(v)
        case .real(let v): .real(v)
        case .text(let v): .text(v)
        // The ledger stores no blobs; hex keeps one representable should it ever bind one.
        case .blob(let v): .text(v.map { String(format: "%02x", $0) }.joined())
        case .null: .null
        }
    }
}

/// The store behind a `StateStore`: one SQLite file or one PostgreSQL database, each used through
/// one connection that this object serializes (libpq and sqlite connections are not for two
/// threads at once).
public final class LedgerDatabase: @unchecked Sendable {  // all mutable state is used under `lock`
    enum Backend {
        case sqlite(Database)
        case postgres(PostgresSession)
    }

    let backend: Backend

    init(sqlite: Database) { backend = .sqlite(sqlite) }
    init(postgres: PostgresSession) { backend = .postgres(postgres) }

    public var dialect: SQLDialect {
        switch backend {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Runs `body` with exclusive use of the connection (each statement its own transaction).
    public func withConnection<T>(_ body: (any LedgerConnection) throws -> T) throws -> T {
        switch backend {
        case .sqlite(let database):
            return try database.withConnection { (c: SQLite.Connection) throws -> T in try body(SQLiteLedgerConnection(connection: c)) }
        case .postgres(let session):
            return try session.withConnection { c in try body(PostgresLedgerConnection(connection: c)) }
        }
    }

    /// Runs `body` in a write transaction: committed if it returns, rolled back if it throws.
    /// `syncing: false`: a SQLite commit that does not wait for the disk (`SQLite.Database`'s
    /// `transaction`), made durable by the next one that does; PostgreSQL commits as always.
    public func transaction<T>(syncing: Bool = true, _ body: (any LedgerConnection) throws -> T) throws -> T {
        switch backend {
        case .sqlite(let database):
            return try database.transaction(immediate: true, syncing: syncing) { c in try body(SQLiteLedgerConnection(connection: c)) }
        case .postgres(let session):
            return try session.transaction { c in try body(PostgresLedgerConnection(connection: c)) }
        }
    }
}
