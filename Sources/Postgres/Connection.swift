import CLibPQ
import CLibPQShim
import Foundation

/// A value bound to a `$n` parameter. Sent in text form with its type, so the server never has
/// to guess (an untyped `$1 IS NULL` would fail with "could not determine data type").
public enum PostgresValue: Equatable, Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case null

    /// The type OID sent with the parameter: int8, float8, text; unknown for NULL so that it
    /// takes the type of the column it is assigned to.
    var typeOID: Oid {
        switch self {
        case .integer: 20
        case .real: 701
        case .text: 25
        case .null: 0
        }
    }

    var text: String? {
        switch self {
        case .integer(let v): String(v)
        // Round-trips exactly: Swift prints the shortest representation that reads back as the same double.
        case .real(let v): "\(v)"
        case .text(let v): v
        case .null: nil
        }
    }
}

/// One libpq connection. Not thread-safe (libpq connections are not): its owner serializes use,
/// as `SQLite.Database` does with its lock.
///
/// Connection strings are PostgreSQL URLs or conninfo text as libpq reads them
/// (https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING); a password is
/// taken only from where libpq itself looks (PGPASSWORD, ~/.pgpass, PGPASSFILE).
public final class PostgresConnection {
    private var handle: OpaquePointer
    /// The URL as shown to people: never a password.
    public let target: String
    /// Rows changed by the last statement run through `query` (INSERT/UPDATE/DELETE).
    public private(set) var changes = 0

    /// Connects to `url`, giving up after `connectTimeoutSeconds` when the server does not answer.
    public init(url: String, target: String, connectTimeoutSeconds: Int = 10) throws(PostgresError) {
        self.target = target
        handle = try Self.connect(url: url, target: target, timeout: connectTimeoutSeconds)
    }

    deinit { PQfinish(handle) }

    private static func connect(url: String, target: String, timeout: Int) throws(PostgresError) -> OpaquePointer {
        // libpq is loaded on first use (CLibPQShim), so that commands without a PostgreSQL
        // ledger never load it and its libraries.
        if let error = pushctl_pq_load() {
            throw .connect(target: target, message: String(cString: error) + " (install Debian's libpq5)", authentication: false)
        }
        // Defaults first: with expand_dbname the URL's own parameters override them.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = [String(timeout), "pushctl", url]
        let conn = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let conn else { throw .connect(target: target, message: "out of memory", authentication: false) }
        if PQstatus(conn) != CONNECTION_OK {
            let message = PostgresError.scrub(String(cString: PQerrorMessage(conn)))
            let authentication =
                PQconnectionNeedsPassword(conn) == 1 || message.contains("password authentication failed")
                || message.contains("no password supplied")
            PQfinish(conn)
            throw .connect(target: target, message: message, authentication: authentication)
        }
        return conn
    }

    /// Whether the connection is usable (false after a server restart or network failure).
    public var isAlive: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Reconnects with the same parameters (after a server restart). False when the server
    /// still does not answer.
    public func reset() -> Bool {
        PQreset(handle)
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Runs one or more statements without parameters (the simple-query protocol): DDL, BEGIN, COMMIT.
    public func exec(_ sql: String) throws(PostgresError) {
        guard let result = PQexec(handle, sql) else { throw lostOrFailed(sql: sql, result: nil) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw lostOrFailed(sql: sql, result: result) }
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
        let types = parameters.map(\.typeOID)
        let texts = parameters.map(\.text)
        let result: OpaquePointer? = withOptionalCStrings(texts) { values in
            PQexecParams(handle, sql, Int32(parameters.count), types, values, nil, nil, 0)
        }
        guard let result else { throw lostOrFailed(sql: sql, result: nil) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw lostOrFailed(sql: sql, result: result) }
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        var cells = [String?]()
        cells.reserveCapacity(rowCount * columnCount)
        for r in 0..<Int32(rowCount) {
            for c in 0..<Int32(columnCount) {
                cells.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
            }
        }
        let columnTypes = (0..<Int32(columnCount)).map { PQftype(result, $0) }
        return PostgresRows(sql: sql, columnCount: columnCount, columnTypes: columnTypes, cells: cells)
    }

    /// Runs one statement once per parameter list, in libpq's pipeline mode
    /// (https://www.postgresql.org/docs/15/libpq-pipeline-mode.html): the statements of a chunk
    /// go out together and their results are read after one sync, instead of one round trip
    /// each. Chunks stay small so that neither side's socket buffer fills while the other
    /// writes. The first failure is thrown; the server skips the rest of its chunk.
    public func runBatch(_ sql: String, _ parameterLists: [[PostgresValue]], chunk: Int = 256) throws(PostgresError) {
        var start = 0
        while start < parameterLists.count {
            let lists = parameterLists[start..<min(start + chunk, parameterLists.count)]
            start += lists.count
            guard PQenterPipelineMode(handle) == 1 else { throw lostOrFailed(sql: sql, result: nil) }
            var failure: PostgresError?
            // Parsed and planned once per chunk (the unnamed statement), with the first list's
            // types; a NULL's type is left to the server, which takes the column's.
            let first = lists[lists.startIndex]
            if PQsendPrepare(handle, "", sql, Int32(first.count), first.map(\.typeOID)) != 1 {
                failure = lostOrFailed(sql: sql, result: nil)
            }
            for parameters in lists where failure == nil {
                let sent = withOptionalCStrings(parameters.map(\.text)) { values in
                    PQsendQueryPrepared(handle, "", Int32(parameters.count), values, nil, nil, 0)
                }
                if sent != 1 {
                    failure = lostOrFailed(sql: sql, result: nil)
                    break
                }
            }
            if failure == nil && PQpipelineSync(handle) != 1 { failure = lostOrFailed(sql: sql, result: nil) }
            // Read every result up to the sync (or until the connection gives no more).
            if failure == nil {
                reading: while true {
                    guard let result = PQgetResult(handle) else {
                        if PQstatus(handle) != CONNECTION_OK {
                            failure = failure ?? lostOrFailed(sql: sql, result: nil)
                            break reading
                        }
                        continue  // the end of one statement's results
                    }
                    let status = PQresultStatus(result)
                    if status == PGRES_PIPELINE_SYNC {
                        PQclear(result)
                        break reading
                    }
                    if status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_PIPELINE_ABORTED && failure == nil {
                        failure = lostOrFailed(sql: sql, result: result)
                    }
                    PQclear(result)
                }
            }
            _ = PQexitPipelineMode(handle)
            if let failure { throw failure }
        }
        changes = parameterLists.count
    }

    private func lostOrFailed(sql: String, result: OpaquePointer?) -> PostgresError {
        let message = PostgresError.scrub(
            String(cString: result.map { PQresultErrorMessage($0) } ?? PQerrorMessage(handle)))
        if PQstatus(handle) != CONNECTION_OK { return .connectionLost(target: target, message: message) }
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        return .statement(sql: sql, sqlState: state, message: message)
    }
}

/// The rows of one result, copied out of libpq (text format).
public struct PostgresRows: Sendable {
    public let sql: String
    public let columnCount: Int
    let columnTypes: [UInt32]
    let cells: [String?]

    public var count: Int { columnCount == 0 ? 0 : cells.count / columnCount }

    public subscript(row: Int) -> PostgresRow { PostgresRow(rows: self, index: row) }
}

/// One row; columns are read in the text form the server sent, parsed by the asked type.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    public func isNull(_ column: Int) -> Bool { rows.cells[index * rows.columnCount + column] == nil }

    public func optionalString(_ column: Int) throws(PostgresError) -> String? { rows.cells[index * rows.columnCount + column] }

    public func string(_ column: Int) throws(PostgresError) -> String {
        guard let text = try optionalString(column) else { throw mismatch(column, "text", "null") }
        return text
    }

    public func optionalInt64(_ column: Int) throws(PostgresError) -> Int64? {
        guard let text = try optionalString(column) else { return nil }
        // bool columns arrive as t/f.
        if text == "t" { return 1 }
        if text == "f" { return 0 }
        guard let value = Int64(text) else { throw mismatch(column, "integer", text) }
        return value
    }

    public func int64(_ column: Int) throws(PostgresError) -> Int64 {
        guard let value = try optionalInt64(column) else { throw mismatch(column, "integer", "null") }
        return value
    }

    public func optionalDouble(_ column: Int) throws(PostgresError) -> Double? {
        guard let text = try optionalString(column) else { return nil }
        guard let value = Double(text) else { throw mismatch(column, "real", text) }
        return value
    }

    public func double(_ column: Int) throws(PostgresError) -> Double {
        guard let value = try optionalDouble(column) else { throw mismatch(column, "real", "null") }
        return value
    }

    private func mismatch(_ column: Int, _ expected: String, _ found: String) -> PostgresError {
        .columnType(sql: rows.sql, column: column, expected: expected, found: found)
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let constant = pointers.map { UnsafePointer($0) } + [nil]
    return constant.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let pointers = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    let constant = pointers.map { $0.map { UnsafePointer($0) } } + [nil]
    return constant.withUnsafeBufferPointer { body($0.baseAddress!) }
}
