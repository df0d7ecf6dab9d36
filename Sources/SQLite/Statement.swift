import CSQLite

/// sqlite copies bound text and blobs when given SQLITE_TRANSIENT, so Swift buffers may go away
/// right after binding.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Not Sendable: it lives inside one `Connection` scope, which holds the
/// database lock (see `Database`).
public final class Statement {
    let handle: OpaquePointer
    let connection: OpaquePointer
    public let sql: String

    init(connection: OpaquePointer, sql: String) throws(SQLiteError) {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(connection, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw .prepare(sql: sql, code: rc, message: String(cString: sqlite3_errmsg(connection)))
        }
        self.handle = statement
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to parameters 1…n.
    public func bind(_ values: [any SQLiteBindable]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value.sqliteValue {
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v): rc = sqlite3_bind_text(handle, index, v, -1, transient)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob64(handle, index, $0.baseAddress, sqlite3_uint64($0.count), transient) }
            case .null: rc = sqlite3_bind_null(handle, index)
            }
            guard rc == SQLITE_OK else {
                throw .bind(sql: sql, index: Int(index), code: rc, message: String(cString: sqlite3_errmsg(connection)))
            }
        }
    }

    /// Advances to the next row; nil when the statement is done.
    public func step() throws(SQLiteError) -> Row? {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return Row(statement: self)
        case SQLITE_DONE: return nil
        default:
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(handle)
            throw .step(sql: sql, code: sqlite3_extended_errcode(connection), message: message)
        }
    }

    /// Runs the statement to completion, ignoring rows.
    public func run(_ values: [any SQLiteBindable] = []) throws(SQLiteError) {
        try bind(values)
        while try step() != nil {}
        sqlite3_reset(handle)
    }

    /// Runs the statement and maps every row.
    public func query<T>(_ values: [any SQLiteBindable] = [], _ map: (Row) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        try bind(values)
        var out = [T]()
        while let row = try step() { out.append(try map(row)) }
        sqlite3_reset(handle)
        return out
    }
}

/// The current row of a statement; valid only until the next `step()`.
public struct Row {
    let statement: Statement

    public var columnCount: Int { Int(sqlite3_column_count(statement.handle)) }

    public func isNull(_ column: Int) -> Bool {
        sqlite3_column_type(statement.handle, Int32(column)) == SQLITE_NULL
    }

    public func value(_ column: Int) -> SQLiteValue {
        let h = statement.handle, c = Int32(column)
        switch sqlite3_column_type(h, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(h, c))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(h, c))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(h, c)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(h, c))
            guard count > 0, let base = sqlite3_column_blob(h, c) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default: return .null
        }
    }

    public func int64(_ column: Int) throws(SQLiteError) -> Int64 {
        switch value(column) {
        case .integer(let v): return v
        case let other: throw mismatch(column, "integer", other)
        }
    }

    public func int(_ column: Int) throws(SQLiteError) -> Int { Int(try int64(column)) }

    public func double(_ column: Int) throws(SQLiteError) -> Double {
        switch value(column) {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        case let other: throw mismatch(column, "real", other)
        }
    }

    public func string(_ column: Int) throws(SQLiteError) -> String {
        switch value(column) {
        case .text(let v): return v
        case let other: throw mismatch(column, "text", other)
        }
    }

    public func blob(_ column: Int) throws(SQLiteError) -> [UInt8] {
        switch value(column) {
        case .blob(let v): return v
        case let other: throw mismatch(column, "blob", other)
        }
    }

    public func optionalInt64(_ column: Int) throws(SQLiteError) -> Int64? { isNull(column) ? nil : try int64(column) }
    public func optionalDouble(_ column: Int) throws(SQLiteError) -> Double? { isNull(column) ? nil : try double(column) }
    public func optionalString(_ column: Int) throws(SQLiteError) -> String? { isNull(column) ? nil : try string(column) }

    private func mismatch(_ column: Int, _ expected: String, _ found: SQLiteValue) -> SQLiteError {
        let name: String
        switch found {
        case .integer: name = "integer"
        case .real: name = "real"
        case .text: name = "text"
        case .blob: name = "blob"
        case .null: name = "null"
        }
        return .columnType(sql: statement.sql, column: column, expected: expected, found: name)
    }
}
