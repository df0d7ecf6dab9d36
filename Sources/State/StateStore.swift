#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import OCI
import Postgres
import SQLite

/// The state database of docs/cli.md ("State database"): runs, pushes, blob locations and diffID
/// mappings, in one SQLite file (WAL mode, busy timeout, schema migrated forward on open) or in
/// one PostgreSQL database (docs/state.md "PostgreSQL"). The ledger's SQL is written once,
/// against `LedgerConnection`; `LedgerDatabase` runs it on either store.
///
/// Thread safety: all access goes through `LedgerDatabase`, which serializes use of the one connection;
/// the remaining stored properties are immutable. Writes are transactions, so a crash or kill
/// never leaves a push recorded that did not complete.
public final class StateStore: Ledger {
    /// The file path, or the PostgreSQL URL without any password.
    public let path: String
    public var location: String { path }
    public let database: LedgerDatabase
    /// The per-database HMAC key behind `credentialIdentity(_:)` (random, created on first open).
    /// Kept as bytes: `SymmetricKey` is not Sendable.
    let identityKeyBytes: [UInt8]

    init(path: String, database: LedgerDatabase, identityKey: [UInt8]) {
        self.path = path
        self.database = database
        self.identityKeyBytes = identityKey
    }

    /// Opens the database at `path`, creating its folder and the file if needed, and migrates it
    /// to the current schema.
    public static func open(path: String) throws(StateError) -> StateStore {
        try open(path: path, readOnly: false)
    }

    /// Opens the database at `path`.
    ///
    /// Read-write (the default) creates missing folders owner-only (0700) and a missing file
    /// owner-only (0600): the file records registry hosts, repositories and credential
    /// identities, which other users of the machine have no business reading. sqlite gives its
    /// `-wal` and `-shm` files the database file's permissions.
    ///
    /// `readOnly` opens an existing, fully migrated file for reading only (`history`, `show`):
    /// it never creates, migrates or writes anything, so it works on a file without write
    /// permission and on a read-only file system. Writing through such a store fails with a
    /// `.database` error.
    public static func open(path: String, readOnly: Bool) throws(StateError) -> StateStore {
        if readOnly { return try openReadOnly(path: path) }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try createPrivateDirectories(folder) }
        try createPrivateFile(path)
        let database: Database
        do { database = try Database(path: path) } catch { throw .database(path: path, error) }
        try StateSchema.migrate(database)
        let ledger = LedgerDatabase(sqlite: database)
        let key = try loadOrCreateIdentityKey(ledger, path: path)
        return StateStore(path: path, database: ledger, identityKey: key)
    }

    private static func openReadOnly(path: String) throws(StateError) -> StateStore {
        guard access(path, F_OK) == 0 else {
            throw .database(
                path: path,
                .open(
                    path: path, code: SQLiteError.cantOpenCode,
                    message: "no state database at this path (\(String(cString: strerror(errno))))"))
        }
        // A WAL database needs its `-shm` index; where sqlite can neither find nor create one
        // (a read-only directory or file system), the file is read as immutable instead: nobody
        // can be writing to it there.
        do {
            return try openReadOnly(path: path, immutable: false)
        } catch .database {
            return try openReadOnly(path: path, immutable: true)
        }
    }

    private static func openReadOnly(path: String, immutable: Bool) throws(StateError) -> StateStore {
        let database: Database
        do { database = try Database(path: path, readOnly: true, immutable: immutable) } catch { throw .database(path: path, error) }
        let version: Int
        do {
            version = try database.withConnection { (c: Connection) throws(SQLiteError) in try c.userVersion() }
        } catch { throw .database(path: path, error) }
        if version > StateSchema.currentVersion {
            throw .newerSchema(path: path, found: version, supported: StateSchema.currentVersion)
        }
        if version < StateSchema.currentVersion {
            throw .olderSchemaReadOnly(path: path, found: version, current: StateSchema.currentVersion)
        }
        let hex: String?
        do {
            hex = try database.withConnection { (c: Connection) throws(SQLiteError) in
                try c.query("SELECT value FROM meta WHERE key = ?", [identityKeyName]) { (row: Row) throws(SQLiteError) in try row.string(0)
                }
                .first
            }
        } catch { throw .database(path: path, error) }
        // Reading never needs the key; a file without one gets a throwaway key.
        let key =
            hex.flatMap { bytes(fromHex: $0) }.flatMap { $0.count == 32 ? $0 : nil }
            ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
        return StateStore(path: path, database: LedgerDatabase(sqlite: database), identityKey: key)
    }

    /// The SQLite database, for what only SQLite has (VACUUM, `PRAGMA user_version`); nil on PostgreSQL.
    public var sqlite: Database? {
        if case .sqlite(let database) = database.backend { return database }
        return nil
    }

    /// Creates the missing folders of `folder` with mode 0700 (existing ones are left as they are).
    private static func createPrivateDirectories(_ folder: String) throws(StateError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue { return }
        let parent = (folder as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != folder { try createPrivateDirectories(parent) }
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw .cannotCreateDirectory(path: folder, reason: String(cString: strerror(errno)))
        }
    }

    /// Creates the database file with mode 0600 when it does not exist yet. An existing file
    /// (or a symlink to one, which the user may have set up on purpose) is left alone.
    private static func createPrivateFile(_ path: String) throws(StateError) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
            return
        }
        let failure = errno
        if failure == EEXIST { return }
        throw .database(path: path, .open(path: path, code: SQLiteError.cantOpenCode, message: String(cString: strerror(failure))))
    }

    /// The database path when `--state` is not given: `$PUSHCTL_STATE`, else
    /// `$XDG_STATE_HOME/pushctl/state.db`, else `~/.local/state/pushctl/state.db` (docs/cli.md).
    public static func defaultPath(environment: [String: String]) -> String {
        if let path = environment["PUSHCTL_STATE"], !path.isEmpty { return path }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty, xdg.hasPrefix("/") {
            return xdg + "/pushctl/state.db"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/pushctl/state.db"
    }

    static let identityKeyName = "credential-identity-key"

    static func loadOrCreateIdentityKey(_ database: LedgerDatabase, path: String) throws(StateError) -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        let fresh = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        do {
            let hex = try database.transaction { c -> String in
                // INSERT OR IGNORE: whoever creates the key first wins; everyone reads that one.
                try c.run("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", [identityKeyName, hexString(fresh)])
                return try c.query("SELECT value FROM meta WHERE key = ?", [identityKeyName]) { row in try row.string(0)
                }.first ?? ""
            }
            guard let bytes = bytes(fromHex: hex), bytes.count == 32 else {
                throw StateError.corrupt(path: path, detail: "meta \(identityKeyName) is not 32 hex-encoded bytes")
            }
            return bytes
        } catch {
            throw mapError(error, path: path)
        }
    }

    // MARK: runs

    /// Records the start of a run (status `running`, this host and pid) and returns its id.
    public func beginRun(
        job: String, file: String, fileDigest: Digest, kind: RunKind,
        pushctlVersion: String, started: Date = Date()
    ) throws(StateError) -> RunID {
        // Committed without waiting for the disk: every later record of the run that must last
        // (a pushed row, the run's end) syncs the WAL, and that sync covers this row too; lost
        // alone in a power cut, it is a run that recorded nothing.
        try write(syncing: false) { c in
            try c.run(
                """
                INSERT INTO runs (job, file, file_digest, kind, status, started, host, pid, version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    job, file, fileDigest.string, kind.rawValue, RunStatus.running.rawValue,
                    started.timeIntervalSince1970, currentHostName(), Int64(getpid()), pushctlVersion
                ])
            return RunID(try c.lastInsertRowID())
        }
    }

    /// Records how a run ended.
    public func finishRun(_ id: RunID, status: RunStatus, exitCode: Int32, error: String? = nil, ended: Date = Date()) throws(StateError) {
        let changed = try write { c in
            try c.run(
                "UPDATE runs SET status = ?, exit_code = ?, error = ?, ended = ? WHERE id = ?",
                [status.rawValue, Int64(exitCode), error, ended.timeIntervalSince1970, id.rawValue])
            return c.changes
        }
        if changed == 0 { throw .unknownRun(path: path, run: id.description) }
    }

    // MARK: pushes

    /// Records one finished (pushed, unchanged or failed) push, together with the blob locations
    /// it established, in one transaction: either all of it is recorded or none of it.
    @discardableResult
    public func recordPush(_ record: PushRecord, blobs: [BlobLocation] = []) throws(StateError) -> Int64 {
        try write { c in
            let id = try insertPush(record, into: c)
            try upsertBlobs(blobs, into: c, seen: record.ended)
            return id
        }
    }

    /// Records many pushes, and the blob locations they established, in one transaction (an
    /// apply's group commit, imports, benchmarks).
    ///
    /// Rows that are all `unchanged` (a rerun's) are committed without waiting for the disk: their
    /// loss in a power cut before the run's end is recorded costs a check on the next run, not a
    /// push, and the run's end (or the next push) makes them durable with its own sync
    /// (docs/state.md "Group commit").
    public func recordPushes(_ records: [PushRecord], blobs: [BlobLocation]) throws(StateError) {
        try write(syncing: Self.mustSync(records)) { c in
            try c.runMany(Self.insertPushSQL, records.map(Self.pushValues))
            try upsertBlobs(blobs, into: c, seen: Date())
        }
    }

    public func recordSigning(_ r: SigningRecord) throws(StateError) {
        let signatures: String? = r.signatures.isEmpty ? nil : r.signatures.map(\.string).joined(separator: ",")
        try write { c in
            try c.run(
                """
                UPDATE pushes SET signatures = ?,
                    status = CASE WHEN CAST(? AS TEXT) IS NULL THEN status ELSE 'failed' END,
                    error = COALESCE(?, error)
                WHERE run_id = ? AND plan_item = ? AND registry_host = ? AND repository = ?
                  AND pushed_digest = ? AND subject_digest IS NULL AND status IN ('pushed', 'unchanged')
                """,
                [
                    signatures, r.error, r.error,
                    r.runID.rawValue, r.planItemID, r.registryHost, r.repository, r.pushedDigest.string
                ] as [any SQLiteBindable])
        }
    }

    private static let insertPushSQL = """
        INSERT INTO pushes (run_id, plan_item, source, source_digest, registry_name, registry_host, endpoint,
            repository, tag, pushed_digest, media_type, size, status, bytes_uploaded, blobs_uploaded,
            blobs_mounted, blobs_present, attempts, error, started, ended, subject_digest, verified_keys, verdict,
            signatures)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    private static func pushValues(_ r: PushRecord) -> [any SQLiteBindable] {
        [
            r.runID.rawValue, r.planItemID, r.source, r.sourceDigest?.string, r.registryName, r.registryHost,
            r.endpoint, r.repository, r.tag, r.pushedDigest?.string, r.mediaType, r.size, r.status.rawValue,
            r.bytesUploaded, r.blobsUploaded, r.blobsMounted, r.blobsPresent, r.attempts, r.error,
            r.started.timeIntervalSince1970, r.ended.timeIntervalSince1970, r.subjectDigest?.string,
            r.verifiedKeys.isEmpty ? String?.none : r.verifiedKeys.joined(separator: ","), r.verdict,
            r.signatures.isEmpty ? String?.none : r.signatures.map(\.string).joined(separator: ",")
        ]
    }

    private func insertPush(_ record: PushRecord, into c: any LedgerConnection) throws -> Int64 {
        try c.run(Self.insertPushSQL, Self.pushValues(record))
        return try c.lastInsertRowID()
    }

    /// The newest `pushed`/`unchanged` push to a tag: what `verify` compares the registry against.
    public func lastSuccessfulPush(registryHost: String, repository: String, tag: String) throws(StateError) -> PushRecord? {
        try read { c in
            try c.query(
                """
                SELECT \(Self.pushColumns) FROM pushes p
                WHERE p.registry_host = ? AND p.repository = ? AND p.tag = ? AND p.status IN ('pushed', 'unchanged', 'deleted')
                ORDER BY p.started DESC, p.id DESC LIMIT 1
                """, [registryHost, repository, tag], Self.decodePush
            ).first
        }.flatMap { $0.status == .deleted ? nil : $0 }  // pruned since: pushctl no longer holds it
    }

    /// Per tag of a repository (tags pushed by digest left out), the newest push that put it
    /// there, unless `prune` deleted the tag since: the tags `prune` may consider.
    public func currentTags(registryHost: String, repository: String) throws(StateError) -> [PushRecord] {
        try read { c in
            try c.query(
                """
                SELECT \(Self.pushColumns) FROM pushes p
                WHERE p.id IN (
                    SELECT (SELECT p2.id FROM pushes p2
                            WHERE p2.registry_host = t.registry_host AND p2.repository = t.repository AND p2.tag = t.tag
                              AND p2.status IN ('pushed', 'unchanged', 'deleted')
                            ORDER BY p2.started DESC, p2.id DESC LIMIT 1)
                    FROM (SELECT DISTINCT registry_host, repository, tag FROM pushes
                          WHERE registry_host = ? AND repository = ? AND tag <> '' AND status IN ('pushed', 'unchanged')) t)
                  AND p.status <> 'deleted'
                ORDER BY p.tag
                """, [registryHost, repository], Self.decodePush)
        }
    }

    /// For every tag a job has pushed successfully, the newest successful push to that tag by any
    /// job (the digest the tag should still point to): `verify FILE…` walks these.
    public func lastSuccessfulPushes(job: String) throws(StateError) -> [PushRecord] {
        try read { c in
            try c.query(
                """
                SELECT \(Self.pushColumns) FROM pushes p
                WHERE p.id IN (
                    SELECT (SELECT p2.id FROM pushes p2
                            WHERE p2.registry_host = t.registry_host AND p2.repository = t.repository
                              AND p2.tag = t.tag AND p2.status IN ('pushed', 'unchanged', 'deleted')
                            ORDER BY p2.started DESC, p2.id DESC LIMIT 1)
                    FROM (SELECT DISTINCT p1.registry_host, p1.repository, p1.tag FROM pushes p1
                          JOIN runs r ON r.id = p1.run_id
                          WHERE r.job = ? AND p1.status IN ('pushed', 'unchanged')) t)
                  AND p.status <> 'deleted' AND p.tag <> ''
                ORDER BY p.registry_host, p.repository, p.tag
                """, [job], Self.decodePush)
        }
    }

    static let pushColumns = """
        p.id, p.run_id, p.plan_item, p.source, p.source_digest, p.registry_name, p.registry_host, p.endpoint, \
        p.repository, p.tag, p.pushed_digest, p.media_type, p.size, p.status, p.bytes_uploaded, p.blobs_uploaded, \
        p.blobs_mounted, p.blobs_present, p.attempts, p.error, p.started, p.ended, p.subject_digest, \
        p.verified_keys, p.verdict, p.signatures
        """
    static let pushColumnCount = 26

    /// Decodes `pushColumns` starting at column `offset`.
    static func decodePush(_ row: any LedgerRow, offset o: Int) throws -> PushRecord {
        func digest(_ column: Int) throws -> Digest? {
            guard let text = try row.optionalString(column) else { return nil }
            // Stored by us from a parsed Digest; an unparsable one is reported as damage.
            guard let d = try? Digest(parsing: text) else {
                throw ValueError(detail: "pushes column \(column) holds \"\(text)\", not a digest")
            }
            return d
        }
        let statusText = try row.string(o + 13)
        guard let status = PushStatus(rawValue: statusText) else {
            throw ValueError(detail: "pushes.status holds \"\(statusText)\", not a push status")
        }
        var record = PushRecord(
            id: try row.int64(o), runID: RunID(try row.int64(o + 1)), planItemID: try row.string(o + 2),
            source: try row.string(o + 3), sourceDigest: try digest(o + 4), registryName: try row.string(o + 5),
            registryHost: try row.string(o + 6), endpoint: try row.string(o + 7), repository: try row.string(o + 8),
            tag: try row.string(o + 9), pushedDigest: try digest(o + 10), mediaType: try row.optionalString(o + 11),
            size: try row.optionalInt64(o + 12), status: status, bytesUploaded: try row.int64(o + 14),
            blobsUploaded: try row.int(o + 15), blobsMounted: try row.int(o + 16), blobsPresent: try row.int(o + 17),
            attempts: try row.int(o + 18), error: try row.optionalString(o + 19),
            started: Date(timeIntervalSince1970: try row.double(o + 20)),
            ended: Date(timeIntervalSince1970: try row.double(o + 21)), subjectDigest: try digest(o + 22))
        record.verifiedKeys = try row.optionalString(o + 23).map { $0.split(separator: ",").map(String.init) } ?? []
        record.verdict = try row.optionalString(o + 24)
        record.signatures =
            try row.optionalString(o + 25).map { $0.split(separator: ",").compactMap { try? Digest(parsing: String($0)) } } ?? []
        return record
    }

    static func decodePush(_ row: any LedgerRow) throws -> PushRecord { try decodePush(row, offset: 0) }

    static let runColumns = """
        r.id, r.job, r.file, r.file_digest, r.kind, r.status, r.started, r.ended, r.host, r.pid, r.version, r.exit_code, r.error
        """
    static let runColumnCount = 13

    static func decodeRun(_ row: any LedgerRow, offset o: Int) throws -> RunRecord {
        RunRecord(
            id: RunID(try row.int64(o)), job: try row.string(o + 1), file: try row.string(o + 2),
            fileDigest: try row.string(o + 3), kind: RunKind(rawValue: try row.string(o + 4)),
            status: RunStatus(rawValue: try row.string(o + 5)),
            started: Date(timeIntervalSince1970: try row.double(o + 6)),
            ended: try row.optionalDouble(o + 7).map { Date(timeIntervalSince1970: $0) },
            host: try row.string(o + 8), pid: Int32(truncatingIfNeeded: try row.int64(o + 9)),
            version: try row.string(o + 10), exitCode: try row.optionalInt64(o + 11).map { Int32(truncatingIfNeeded: $0) },
            error: try row.optionalString(o + 12))
    }

    /// Whether a commit of `records` must wait for the disk: unless they are all `unchanged`.
    static func mustSync(_ records: [PushRecord]) -> Bool {
        !records.allSatisfy { $0.status == .unchanged }
    }

    // MARK: plumbing

    /// Runs `body` in a write transaction (SQLite `BEGIN IMMEDIATE`), mapping errors to `StateError`.
    func write<T>(syncing: Bool = true, _ body: (any LedgerConnection) throws -> T) throws(StateError) -> T {
        do { return try database.transaction(syncing: syncing, body) } catch { throw Self.mapError(error, path: path) }
    }

    /// Runs `body` with the connection (reads see one consistent snapshot per statement).
    func read<T>(_ body: (any LedgerConnection) throws -> T) throws(StateError) -> T {
        do { return try database.withConnection(body) } catch { throw Self.mapError(error, path: path) }
    }

    static func mapError(_ error: any Error, path: String) -> StateError {
        switch error {
        case let e as StateError: e
        case let e as SQLiteError: .database(path: path, e)
        case let e as PostgresError: .postgres(location: path, e)
        case let e as ValueError: .corrupt(path: path, detail: e.detail)
        default: .corrupt(path: path, detail: "\(error)")
        }
    }
}

/// A stored value that does not decode (the database was edited or is damaged).
struct ValueError: Error {
    var detail: String
}

func currentHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
    return String(decoding: out, as: UTF8.self)
}

func bytes(fromHex hex: String) -> [UInt8]? {
    let chars = Array(hex.utf8)
    guard chars.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
