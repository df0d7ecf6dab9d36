import CSQLite
import Foundation
import Threading

/// One sqlite3 connection, shared by several threads.
///
/// Thread safety: the connection is opened with SQLITE_OPEN_FULLMUTEX (sqlite serializes its own
/// calls), and in addition every use goes through `withConnection` / `transaction`, which hold
/// `lock` for the whole scope. That keeps a statement's bind/step/reset sequence, and a whole
/// transaction, from interleaving with another thread's — which FULLMUTEX alone does not. Hence
/// `@unchecked Sendable`: all mutable state (the sqlite handle) is only touched under `lock`.
public final class Database: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = Lock()
    public let path: String

    /// Opens (creating if needed) the database at `path`, sets `busy_timeout` so that writers from
    /// other processes wait instead of failing at once, and — unless `wal` is false — switches to
    /// WAL journal mode, so readers never block the writer.
    ///
    /// `readOnly` opens an existing file without ever writing to it (SQLITE_OPEN_READONLY, no
    /// journal-mode switch): for reading history from a file without write permission.
    /// `immutable` additionally tells sqlite that nobody changes the file while it is open, so it
    /// needs no `-shm` file and takes no locks: the only way to read a WAL database on a
    /// read-only file system. It implies `readOnly`.
    public init(
        path: String, busyTimeoutMilliseconds: Int32 = 10_000, wal: Bool = true,
        readOnly: Bool = false, immutable: Bool = false
    ) throws(SQLiteError) {
        var db: OpaquePointer?
        let readOnly = readOnly || immutable
        var flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        flags |= SQLITE_OPEN_FULLMUTEX
        var name = path
        if immutable {
            flags |= SQLITE_OPEN_URI
            name = "file:" + Self.uriPath(path) + "?immutable=1"
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw .open(path: path, code: rc, message: message)
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        self.handle = db
        self.path = path
        do {
            let connection = Connection(handle: db)
            try connection.exec("PRAGMA foreign_keys = ON")
            if wal && !readOnly { _ = try connection.query("PRAGMA journal_mode = WAL") { row throws(SQLiteError) in try row.string(0) } }
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// `path` percent-encoded for a `file:` URI (only what URI syntax reserves).
    static func uriPath(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0...0x20, 0x7F...0xFF:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            default:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    /// Runs `body` with exclusive use of the connection.
    public func withConnection<T, E: Error>(_ body: (Connection) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(Connection(handle: handle))
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// Writers pass `immediate: true` (`BEGIN IMMEDIATE`), which takes the write lock up front so
    /// a transaction never fails half-way on a lock upgrade (SQLITE_BUSY after reading).
    ///
    /// `syncing: false` commits without waiting for the disk (`PRAGMA synchronous = NORMAL` for
    /// this transaction only, then the connection's own level again): in WAL mode the commit is
    /// safe from a crash of the process, and the next syncing commit makes it durable too (its sync
    /// of the WAL covers every frame before its own); only a power loss or a crash of the system
    /// in between can take it back. For rows whose loss costs nothing but a repeated check.
    public func transaction<T>(immediate: Bool = true, syncing: Bool = true, _ body: (Connection) throws -> T) throws -> T {
        try withConnection { (connection: Connection) throws -> T in
            // FULL (2) or EXTRA (3): lowered to NORMAL (1) for this commit, then restored.
            let level = syncing ? nil : try connection.query("PRAGMA synchronous") { row throws(SQLiteError) in try row.int(0) }.first
            let lowered = level.map { $0 > 1 } ?? false
            if lowered { try connection.exec("PRAGMA synchronous = NORMAL") }
            defer { if lowered, let level { try? connection.exec("PRAGMA synchronous = \(level)") } }
            try connection.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
            do {
                let result = try body(connection)
                try connection.exec("COMMIT")
                return result
            } catch {
                try? connection.exec("ROLLBACK")
                throw error
            }
        }
    }

    /// Convenience: `exec` under the lock.
    public func exec(_ sql: String) throws(SQLiteError) {
        try withConnection { (c: Connection) throws(SQLiteError) in try c.exec(sql) }
    }
}

/// The connection as seen inside a locked scope. Not Sendable and not to be kept: it is only
/// valid inside the `withConnection` / `transaction` closure that handed it out.
public struct Connection {
    let handle: OpaquePointer

    /// Runs one or more SQL statements without parameters.
    public func exec(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        guard rc == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw .step(sql: sql, code: sqlite3_extended_errcode(handle), message: message)
        }
    }

    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        try Statement(connection: handle, sql: sql)
    }

    /// Prepares, binds and runs one statement.
    public func run(_ sql: String, _ values: [any SQLiteBindable] = []) throws(SQLiteError) {
        try prepare(sql).run(values)
    }

    /// Prepares, binds and runs one statement, mapping every row.
    public func query<T>(
        _ sql: String, _ values: [any SQLiteBindable] = [],
        _ map: (Row) throws(SQLiteError) -> T
    ) throws(SQLiteError) -> [T] {
        try prepare(sql).query(values, map)
    }

    /// The rowid of the last INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// Rows changed by the last INSERT/UPDATE/DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// `PRAGMA user_version`, the schema version an application keeps in the file header.
    public func userVersion() throws(SQLiteError) -> Int {
        try query("PRAGMA user_version") { row throws(SQLiteError) in try row.int(0) }.first ?? 0
    }

    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        try exec("PRAGMA user_version = \(version)")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
