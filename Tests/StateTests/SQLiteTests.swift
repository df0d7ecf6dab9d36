import Foundation
import SQLite
import TestSupport
import Testing

@Suite struct SQLiteTests {
    @Test func typedBindingsRoundTrip() throws {
        let db = try Database(path: try temporaryDirectory() + "/t.db")
        let rows = try db.withConnection { (c: Connection) throws(SQLiteError) -> [[SQLiteValue]] in
            try c.exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)")
            try c.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [Int64.max, 2.5, "héllo 'quoted'", [UInt8]([0, 1, 255]), SQLiteValue.null])
            return try c.query("SELECT i, r, s, b, n FROM t") { row throws(SQLiteError) in (0..<5).map { row.value($0) } }
        }
        #expect(rows == [[.integer(Int64.max), .real(2.5), .text("héllo 'quoted'"), .blob([0, 1, 255]), .null]])
    }

    @Test func walAndBusyTimeoutAreSet() throws {
        let db = try Database(path: try temporaryDirectory() + "/t.db")
        let mode = try db.withConnection { (c: Connection) throws(SQLiteError) in
            try c.query("PRAGMA journal_mode") { row throws(SQLiteError) in try row.string(0) }
        }
        let timeout = try db.withConnection { (c: Connection) throws(SQLiteError) in
            try c.query("PRAGMA busy_timeout") { row throws(SQLiteError) in try row.int(0) }
        }
        #expect(mode == ["wal"])
        #expect(timeout == [10_000])
    }

    @Test func errorsCarryMessageAndSQL() throws {
        let db = try Database(path: try temporaryDirectory() + "/t.db")
        let error = #expect(throws: SQLiteError.self) {
            try db.exec("SELECT * FROM no_such_table")
        }
        #expect(error?.description.contains("no such table: no_such_table") == true)
        #expect(error?.description.contains("SELECT * FROM no_such_table") == true)
    }

    @Test func transactionRollsBackOnError() throws {
        let db = try Database(path: try temporaryDirectory() + "/t.db")
        try db.exec("CREATE TABLE t (v INTEGER NOT NULL)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction { c in
                try c.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        let count = try db.withConnection { (c: Connection) throws(SQLiteError) in
            try c.query("SELECT count(*) FROM t") { row throws(SQLiteError) in try row.int(0) }
        }
        #expect(count == [0])
    }

    /// `syncing: false` lowers `synchronous` to NORMAL for its own commit only: the transaction
    /// sees NORMAL, the connection is back at its level after it (also when it throws), a
    /// syncing transaction sees the level unchanged, and what it wrote is there for another
    /// connection and after the file is opened again.
    @Test func aTransactionThatDoesNotSyncLowersTheLevelForItselfOnly() throws {
        let path = try temporaryDirectory() + "/t.db"
        func level(_ c: Connection) throws(SQLiteError) -> Int {
            try c.query("PRAGMA synchronous") { row throws(SQLiteError) in try row.int(0) }.first ?? -1
        }
        do {
            let db = try Database(path: path)
            try db.exec("CREATE TABLE t (v INTEGER NOT NULL)")
            try db.exec("PRAGMA synchronous = FULL")
            let inside = try db.transaction(syncing: false) { c in
                try c.run("INSERT INTO t VALUES (1)")
                return try level(c)
            }
            #expect(inside == 1, "NORMAL inside the transaction")
            #expect(try db.withConnection(level) == 2, "FULL again after it")
            #expect(try db.transaction { c in try level(c) } == 2, "a syncing transaction keeps FULL")

            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.transaction(syncing: false) { c in
                    try c.run("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            #expect(try db.withConnection(level) == 2, "FULL again after a rollback")

            try db.exec("PRAGMA synchronous = EXTRA")
            _ = try db.transaction(syncing: false) { c in try c.run("INSERT INTO t VALUES (3)") }
            #expect(try db.withConnection(level) == 3, "the connection's own level comes back, not a fixed one")

            let other = try Database(path: path)
            let seen = try other.withConnection { (c: Connection) throws(SQLiteError) in
                try c.query("SELECT v FROM t ORDER BY v") { row throws(SQLiteError) in try row.int(0) }
            }
            #expect(seen == [1, 3])
        }
        let reopened = try Database(path: path)
        let rows = try reopened.withConnection { (c: Connection) throws(SQLiteError) in
            try c.query("SELECT v FROM t ORDER BY v") { row throws(SQLiteError) in try row.int(0) }
        }
        #expect(rows == [1, 3])
    }

    @Test func columnTypeMismatchIsAnError() throws {
        let db = try Database(path: try temporaryDirectory() + "/t.db")
        #expect(throws: SQLiteError.self) {
            _ = try db.withConnection { (c: Connection) throws(SQLiteError) in
                try c.query("SELECT 'text'") { row throws(SQLiteError) in try row.int64(0) }
            }
        }
    }
}
