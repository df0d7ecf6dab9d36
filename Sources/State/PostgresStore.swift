import struct Crypto.SHA256
import Foundation
import Postgres
import SQLite
import Threading

/// One PostgreSQL session shared by a store's threads, and what keeps it usable across a
/// server restart: before each use a broken connection is re-established (for up to
/// `reconnectSeconds`), and the advisory locks this session held are taken again.
final class PostgresSession: @unchecked Sendable {  // `connection` and `advisoryLocks` are only used under `lock`
    private let lock = Lock()
    private let connection: PostgresConnection
    let target: String
    /// Advisory locks held: key → shared.
    private var advisoryLocks: [Int64: Bool] = [:]
    private let reconnectSeconds: Double

    init(url: String, target: String, reconnectSeconds: Double = 30) throws(PostgresError) {
        connection = try PostgresConnection(url: url, target: target)
        self.target = target
        self.reconnectSeconds = reconnectSeconds
    }

    /// `body` with the connection. A connection found broken on first use (the server restarted
    /// since the last statement; libpq notices only then) is re-established and `body` run once
    /// more: it reads, or takes advisory locks, so running it again is harmless.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try lock.withLock { () throws -> T in
            try ensureConnected()
            do {
                return try body(connection)
            } catch PostgresError.connectionLost {
                try ensureConnected()
                return try body(connection)
            }
        }
    }

    /// `body` in a transaction. A connection lost before COMMIT was sent rolled the transaction
    /// back on the server, so it is run once more on a new connection; a COMMIT whose answer
    /// was lost is not retried (it may have committed) and is reported.
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try lock.withLock { () throws -> T in
            var attempt = 0
            while true {
                attempt += 1
                try ensureConnected()
                let result: T
                do {
                    try connection.exec("BEGIN")
                    result = try body(connection)
                } catch {
                    if !connection.isAlive && attempt == 1 { continue }
                    if connection.isAlive { try? connection.exec("ROLLBACK") }
                    throw error
                }
                try connection.exec("COMMIT")
                return result
            }
        }
    }

    private func ensureConnected() throws {
        guard !connection.isAlive else { return }
        let deadline = Date().addingTimeInterval(reconnectSeconds)
        while !connection.reset() {
            guard Date() < deadline else {
                throw PostgresError.connectionLost(
                    target: target, message: "the server did not answer again within \(Int(reconnectSeconds)) s")
            }
            usleep(500_000)
        }
        // Session-level advisory locks die with the session: take them again, or stop writing
        // rather than write beside a runner that took the lock meanwhile.
        for (key, shared) in advisoryLocks where !(try tryAdvisoryLock(key, shared: shared)) {
            throw PostgresError.connectionLost(
                target: target, message: "the apply lock was lost with the connection and another runner holds it now")
        }
    }

    private func tryAdvisoryLock(_ key: Int64, shared: Bool) throws -> Bool {
        let function = shared ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock"
        let rows = try connection.query("SELECT \(function)($1)", [.integer(key)])
        return try rows[0].int64(0) == 1
    }

    /// Takes `key` (shared or exclusive) without waiting; false when another session holds it.
    func takeAdvisoryLock(_ key: Int64, shared: Bool) throws -> Bool {
        let taken = try withConnection { _ in try tryAdvisoryLock(key, shared: shared) }
        if taken { lock.withLock { advisoryLocks[key] = shared } }
        return taken
    }

    func releaseAdvisoryLock(_ key: Int64) {
        lock.withLock {
            guard let shared = advisoryLocks.removeValue(forKey: key), connection.isAlive else { return }
            _ = try? connection.query(shared ? "SELECT pg_advisory_unlock_shared($1)" : "SELECT pg_advisory_unlock($1)", [.integer(key)])
        }
    }
}

extension StateStore {
    /// Opens the PostgreSQL ledger at `url` (libpq reads the password from PGPASSWORD, ~/.pgpass
    /// or PGPASSFILE) and migrates it to the current schema. `location` is the URL as shown to
    /// people. Without `creating`, a database that holds no ledger yet (no `pushctl_schema`
    /// table) is answered with nil and left untouched: read commands never create a ledger.
    public static func open(postgresURL url: String, location: String, creating: Bool) throws(StateError) -> StateStore? {
        let session: PostgresSession
        do { session = try PostgresSession(url: url, target: location) } catch { throw .postgres(location: location, error) }
        let database = LedgerDatabase(postgres: session)
        if !creating, try postgresSchemaVersion(database, location: location) == 0 { return nil }
        try StateSchema.migratePostgres(database, location: location)
        let key = try loadOrCreateIdentityKey(database, path: location)
        return StateStore(path: location, database: database, identityKey: key)
    }

    /// `location` with any password replaced by `***` (URL userinfo, `password=`), for messages.
    public static func redactedLocation(_ location: String) -> String { PostgresError.scrub(location) }

    static func postgresSchemaVersion(_ database: LedgerDatabase, location: String) throws(StateError) -> Int {
        do {
            return try database.withConnection { c in
                let exists = try c.query("SELECT to_regclass('pushctl_schema') IS NOT NULL") { row in try row.int64(0) }
                guard exists.first == 1 else { return 0 }
                return try c.query("SELECT version FROM pushctl_schema") { row in try row.int(0) }.first ?? 0
            }
        } catch { throw mapError(error, path: location) }
    }
}

extension StateSchema {
    /// PostgreSQL keeps its schema version in the one-row table `pushctl_schema`: the same
    /// numbers and meaning as SQLite's `user_version`. The migrations run in one transaction
    /// behind a transaction-level advisory lock, so shard runners opening a new database at
    /// once migrate it once.
    static func migratePostgres(_ database: LedgerDatabase, location: String) throws(StateError) {
        do {
            try database.transaction { c in
                try c.run("SELECT pg_advisory_xact_lock(?)", [ApplyLockScope.key("pushctl-schema")])
                try c.exec("CREATE TABLE IF NOT EXISTS pushctl_schema (version INTEGER NOT NULL)")
                var found = try c.query("SELECT version FROM pushctl_schema") { row in try row.int(0) }.first ?? -1
                if found < 0 {
                    try c.run("INSERT INTO pushctl_schema (version) VALUES (0)")
                    found = 0
                }
                if found > currentVersion { throw StateError.newerSchema(path: location, found: found, supported: currentVersion) }
                guard found < currentVersion else { return }
                for version in found..<currentVersion {
                    try c.exec(postgresMigrations[version] ?? migrations[version])  // `exec` translates the DDL
                }
                try c.run("UPDATE pushctl_schema SET version = ?", [currentVersion])
            }
        } catch {
            throw StateStore.mapError(error, path: location)
        }
    }
}

/// What an apply lock covers (docs/state.md "The apply lock"). On SQLite the lock is the
/// database file's, whatever the scope (one file per runner). On PostgreSQL, where a fleet
/// shares one database, it is an advisory lock per job set and shard.
public struct ApplyLockScope: Sendable, Hashable {
    /// The names of the jobs the command works on.
    public var jobs: [String]
    /// `--shard I/N`, nil for a run over all items.
    public var shard: String?
    /// `prune` deletes what any shard of the job set may be pushing: it excludes every shard.
    public var wholeJobSet: Bool

    public init(jobs: [String], shard: String? = nil, wholeJobSet: Bool = false) {
        self.jobs = jobs
        self.shard = shard
        self.wholeJobSet = wholeJobSet
    }

    /// The job set's identity: its sorted, distinct job names.
    var jobSetText: String { Set(jobs).sorted().joined(separator: "\n") }

    /// The advisory key of the job set (shared by its shard runners, exclusive for prune).
    var jobSetKey: Int64 { Self.key("pushctl-apply-lock\u{0}" + jobSetText) }
    /// The advisory key of one shard of the job set (exclusive).
    var shardKey: Int64 { Self.key("pushctl-apply-lock\u{0}" + jobSetText + "\u{0}" + (shard ?? "all")) }

    /// The first 8 bytes of SHA-256 of `text`, as PostgreSQL's bigint advisory-lock key.
    static func key(_ text: String) -> Int64 {
        let digest = Array(SHA256.hash(data: Array(text.utf8)))
        return digest.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    var description: String {
        let names = Set(jobs).sorted().joined(separator: ", ")
        if wholeJobSet { return "job set [\(names)]" }
        return "job set [\(names)], shard \(shard ?? "all")"
    }
}

/// The apply lock on PostgreSQL: session-level advisory locks (released by the server when the
/// session ends, so a dead runner's lock is free at once), and a `meta` row naming the holder
/// (`apply-lock:SET[:SHARD]`), deleted on a clean release, so a row found on acquiring names a
/// holder that died: its `running` runs are marked `interrupted`, as on SQLite.
final class PostgresApplyLock: ApplyLock {
    let holder: LockHolder
    let tookOverFrom: LockHolder?
    private let store: StateStore
    private let session: PostgresSession
    private let keys: [Int64]
    private let metaKey: String
    private let released = LockedValue(false)

    init(store: StateStore, session: PostgresSession, keys: [Int64], metaKey: String, holder: LockHolder, tookOverFrom: LockHolder?) {
        self.store = store
        self.session = session
        self.keys = keys
        self.metaKey = metaKey
        self.holder = holder
        self.tookOverFrom = tookOverFrom
    }

    deinit { release() }

    func release() {
        let first = released.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        _ = try? store.write { c in try c.run("DELETE FROM meta WHERE key = ?", [metaKey]) }
        for key in keys.reversed() { session.releaseAdvisoryLock(key) }
    }

    static func hex(_ key: Int64) -> String { String(UInt64(bitPattern: key), radix: 16) }

    static func acquire(store: StateStore, session: PostgresSession, scope: ApplyLockScope) throws(StateError) -> PostgresApplyLock {
        let location = store.path
        let setKey = scope.jobSetKey, shardKey = scope.shardKey
        let wanted: [(key: Int64, shared: Bool)] = scope.wholeJobSet ? [(setKey, false)] : [(setKey, true), (shardKey, false)]
        let metaKey = "apply-lock:" + hex(setKey) + (scope.wholeJobSet ? "" : ":" + hex(shardKey))
        var taken = [Int64]()
        for (key, shared) in wanted {
            let ok: Bool
            do { ok = try session.takeAdvisoryLock(key, shared: shared) } catch {
                for key in taken { session.releaseAdvisoryLock(key) }
                throw StateStore.mapError(error, path: location)
            }
            guard ok else {
                for key in taken { session.releaseAdvisoryLock(key) }
                // The holder: this exact scope's row, else any row of the job set (prune
                // waits on every shard; a shard on a prune).
                let holder: String? = try? store.read { c in
                    try c.query(
                        "SELECT value FROM meta WHERE key = ? OR key LIKE ? ORDER BY key = ? DESC LIMIT 1",
                        [metaKey, "apply-lock:" + hex(setKey) + "%", metaKey]
                    ) { row in try row.string(0) }.first
                }
                throw .locked(lockFile: "PostgreSQL advisory lock of \(scope.description) in \(location)", holder: holder.flatMap(decode))
            }
            taken.append(key)
        }
        let holder = LockHolder(pid: getpid(), host: currentHostName(), started: Date())
        do {
            let previous = try store.write { c -> LockHolder? in
                let previous = try c.query("SELECT value FROM meta WHERE key = ?", [metaKey]) { row in try row.string(0) }.first
                    .flatMap(decode)
                if let previous {
                    // Its process died holding the lock: its apply runs (and serve's event and schedule runs) never finished.
                    try c.run(
                        "UPDATE runs SET status = ? WHERE status = ? AND kind IN (?, ?, ?) AND host = ? AND pid = ?",
                        [
                            RunStatus.interrupted.rawValue, RunStatus.running.rawValue, RunKind.apply.rawValue,
                            RunKind.event.rawValue, RunKind.schedule.rawValue, previous.host, Int64(previous.pid)
                        ])
                }
                try c.run("DELETE FROM meta WHERE key = ?", [metaKey])
                try c.run("INSERT INTO meta (key, value) VALUES (?, ?)", [metaKey, encode(holder)])
                return previous
            }
            return PostgresApplyLock(
                store: store, session: session, keys: taken, metaKey: metaKey, holder: holder, tookOverFrom: previous)
        } catch {
            for key in taken { session.releaseAdvisoryLock(key) }
            throw error
        }
    }

    private static func encode(_ holder: LockHolder) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(holder)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private static func decode(_ text: String) -> LockHolder? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LockHolder.self, from: Data(text.utf8))
    }
}
