import SQLite

/// The state database's schema, as an ordered list of forward migrations.
///
/// `PRAGMA user_version` holds how many migrations a file has had. Opening a file applies the
/// missing ones in order, each in its own transaction together with the version bump, so a crash
/// leaves the file at a whole version. Never edit a shipped migration: append a new one.
/// (docs/cli.md "State database": the schema carries a version and is migrated forward automatically.)
public enum StateSchema {
    public static let migrations: [String] = [
        // 1: runs, pushes, blob locations and the meta table holding the identity key.
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL,
            file TEXT NOT NULL,
            file_digest TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            started REAL NOT NULL,
            ended REAL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            version TEXT NOT NULL,
            exit_code INTEGER
        );
        CREATE TABLE pushes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            plan_item TEXT NOT NULL,
            source TEXT NOT NULL,
            source_digest TEXT,
            registry_name TEXT NOT NULL,
            registry_host TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            pushed_digest TEXT,
            media_type TEXT,
            size INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pushed', 'unchanged', 'failed')),
            bytes_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_mounted INTEGER NOT NULL DEFAULT 0,
            blobs_present INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            started REAL NOT NULL,
            ended REAL NOT NULL
        );
        CREATE TABLE blob_locations (
            registry_host TEXT NOT NULL CHECK (registry_host <> ''),
            repository TEXT NOT NULL CHECK (repository <> ''),
            digest TEXT NOT NULL CHECK (digest GLOB 'sha256:*' OR digest GLOB 'sha512:*'),
            identity TEXT NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (registry_host, repository, digest, identity)
        );
        CREATE INDEX blob_locations_by_digest ON blob_locations (registry_host, digest);
        """,
        // 2: diffID mappings for archive sources, and an index for every history filter.
        """
        CREATE TABLE diffid_mappings (
            diff_id TEXT NOT NULL,
            settings TEXT NOT NULL,
            compressed_digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            recorded REAL NOT NULL,
            PRIMARY KEY (diff_id, settings)
        );
        CREATE INDEX runs_by_started ON runs (started);
        CREATE INDEX runs_by_job ON runs (job, started);
        CREATE INDEX runs_by_status ON runs (status);
        CREATE INDEX pushes_by_run ON pushes (run_id);
        CREATE INDEX pushes_by_started ON pushes (started);
        CREATE INDEX pushes_by_repository ON pushes (repository, started);
        CREATE INDEX pushes_by_tag ON pushes (tag, started);
        CREATE INDEX pushes_by_status ON pushes (status, started);
        CREATE INDEX pushes_by_pushed_digest ON pushes (pushed_digest);
        CREATE INDEX pushes_by_source_digest ON pushes (source_digest);
        CREATE INDEX pushes_by_target ON pushes (registry_host, repository, tag, started);
        """,
        // 3: the pull budget each source registry last announced (docs/replication.md "Rate limits").
        """
        CREATE TABLE rate_limits (
            registry_host TEXT PRIMARY KEY CHECK (registry_host <> ''),
            limit_total INTEGER,
            remaining INTEGER NOT NULL,
            window_seconds INTEGER,
            reset_at REAL,
            observed_at REAL NOT NULL
        );
        """,
        // 4: why a run failed as a whole (docs/run.md "Every run recorded").
        """
        ALTER TABLE runs ADD COLUMN error TEXT;
        """,
        // 5: what a `verify` run found, one row per tag checked (`show` of a verify run lists them).
        """
        CREATE TABLE verify_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            registry_name TEXT NOT NULL,
            host TEXT NOT NULL,
            endpoint TEXT,
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            expected TEXT NOT NULL,
            current TEXT,
            status TEXT NOT NULL,
            error TEXT,
            pushed_in_run INTEGER NOT NULL
        );
        CREATE INDEX verify_checks_by_run ON verify_checks (run_id);
        """,
        // 6: the manifest a push refers to: referrers brought along with `referrers:` and tag
        //    attachments (`sha256-….sig`); `history --digest SUBJECT` finds them (README "Signatures and SBOMs").
        """
        ALTER TABLE pushes ADD COLUMN subject_digest TEXT;
        CREATE INDEX pushes_by_subject_digest ON pushes (subject_digest);
        """,
        // 7: `pushctl prune` records the tags it deleted as rows with status 'deleted'. SQLite
        //    cannot change a CHECK constraint in place, so the table is rebuilt with the same
        //    columns, rows and indexes.
        """
        CREATE TABLE pushes_v6 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            plan_item TEXT NOT NULL,
            source TEXT NOT NULL,
            source_digest TEXT,
            registry_name TEXT NOT NULL,
            registry_host TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            pushed_digest TEXT,
            media_type TEXT,
            size INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pushed', 'unchanged', 'failed', 'deleted')),
            bytes_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_mounted INTEGER NOT NULL DEFAULT 0,
            blobs_present INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            started REAL NOT NULL,
            ended REAL NOT NULL,
            subject_digest TEXT
        );
        INSERT INTO pushes_v6 (id, run_id, plan_item, source, source_digest, registry_name, registry_host, endpoint,
            repository, tag, pushed_digest, media_type, size, status, bytes_uploaded, blobs_uploaded, blobs_mounted,
            blobs_present, attempts, error, started, ended, subject_digest)
        SELECT id, run_id, plan_item, source, source_digest, registry_name, registry_host, endpoint,
            repository, tag, pushed_digest, media_type, size, status, bytes_uploaded, blobs_uploaded, blobs_mounted,
            blobs_present, attempts, error, started, ended, subject_digest FROM pushes;
        DROP TABLE pushes;
        ALTER TABLE pushes_v6 RENAME TO pushes;
        CREATE INDEX pushes_by_run ON pushes (run_id);
        CREATE INDEX pushes_by_started ON pushes (started);
        CREATE INDEX pushes_by_repository ON pushes (repository, started);
        CREATE INDEX pushes_by_tag ON pushes (tag, started);
        CREATE INDEX pushes_by_status ON pushes (status, started);
        CREATE INDEX pushes_by_pushed_digest ON pushes (pushed_digest);
        CREATE INDEX pushes_by_source_digest ON pushes (source_digest);
        CREATE INDEX pushes_by_target ON pushes (registry_host, repository, tag, started);
        CREATE INDEX pushes_by_subject_digest ON pushes (subject_digest);
        """,
        // 8: supply-chain gates (docs/signing.md, docs/state.md "Signatures"): an item refused by
        //    its `verify:` policy is a row with status 'rejected'; every row may carry the key ids
        //    that verified the source's signatures (`verified_keys`, comma-separated), the
        //    verdict's text (`verdict`: the policy outcome, or why it was refused) and the digests
        //    of the `.sig` manifests pushctl wrote (`signatures`, comma-separated). The table is
        //    rebuilt for the CHECK constraint, as in 7.
        """
        CREATE TABLE pushes_v8 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            plan_item TEXT NOT NULL,
            source TEXT NOT NULL,
            source_digest TEXT,
            registry_name TEXT NOT NULL,
            registry_host TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            pushed_digest TEXT,
            media_type TEXT,
            size INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pushed', 'unchanged', 'failed', 'deleted', 'rejected')),
            bytes_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_uploaded INTEGER NOT NULL DEFAULT 0,
            blobs_mounted INTEGER NOT NULL DEFAULT 0,
            blobs_present INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            started REAL NOT NULL,
            ended REAL NOT NULL,
            subject_digest TEXT,
            verified_keys TEXT,
            verdict TEXT,
            signatures TEXT
        );
        INSERT INTO pushes_v8 (id, run_id, plan_item, source, source_digest, registry_name, registry_host, endpoint,
            repository, tag, pushed_digest, media_type, size, status, bytes_uploaded, blobs_uploaded, blobs_mounted,
            blobs_present, attempts, error, started, ended, subject_digest)
        SELECT id, run_id, plan_item, source, source_digest, registry_name, registry_host, endpoint,
            repository, tag, pushed_digest, media_type, size, status, bytes_uploaded, blobs_uploaded, blobs_mounted,
            blobs_present, attempts, error, started, ended, subject_digest FROM pushes;
        DROP TABLE pushes;
        ALTER TABLE pushes_v8 RENAME TO pushes;
        CREATE INDEX pushes_by_run ON pushes (run_id);
        CREATE INDEX pushes_by_started ON pushes (started);
        CREATE INDEX pushes_by_repository ON pushes (repository, started);
        CREATE INDEX pushes_by_tag ON pushes (tag, started);
        CREATE INDEX pushes_by_status ON pushes (status, started);
        CREATE INDEX pushes_by_pushed_digest ON pushes (pushed_digest);
        CREATE INDEX pushes_by_source_digest ON pushes (source_digest);
        CREATE INDEX pushes_by_target ON pushes (registry_host, repository, tag, started);
        CREATE INDEX pushes_by_subject_digest ON pushes (subject_digest);
        """,
        // 9: registry push events `pushctl serve` accepted (docs/serve.md "Registry events"), stored
        //    before the answer so that a crash loses none: `pending` until a run took them (`ran`,
        //    with that run) or nothing in the jobs wanted them (`ignored`). Portable SQL (standard
        //    types, no AUTOINCREMENT): the event id from the registry is the key.
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            received REAL NOT NULL,
            action TEXT NOT NULL,
            repository TEXT NOT NULL,
            tag TEXT,
            digest TEXT,
            host TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'ran', 'ignored')),
            run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL
        );
        CREATE INDEX events_by_status ON events (status, received);
        CREATE INDEX events_by_run ON events (run_id);
        """
    ]

    /// PostgreSQL's text of the migrations that SQLite's DDL cannot express there; every other
    /// migration runs as `SQLDialect.postgres.ddl(migrations[i])`. 7 and 8 rebuild `pushes` on
    /// SQLite to change a CHECK constraint; PostgreSQL changes it in place.
    static let postgresMigrations: [Int: String] = [
        6: """
        ALTER TABLE pushes DROP CONSTRAINT pushes_status_check;
        ALTER TABLE pushes ADD CONSTRAINT pushes_status_check CHECK (status IN ('pushed', 'unchanged', 'failed', 'deleted'));
        """,
        7: """
        ALTER TABLE pushes ADD COLUMN verified_keys TEXT COLLATE "C", ADD COLUMN verdict TEXT COLLATE "C",
            ADD COLUMN signatures TEXT COLLATE "C";
        ALTER TABLE pushes DROP CONSTRAINT pushes_status_check;
        ALTER TABLE pushes ADD CONSTRAINT pushes_status_check
            CHECK (status IN ('pushed', 'unchanged', 'failed', 'deleted', 'rejected'));
        """
    ]

    /// The version a fully migrated file has.
    public static var currentVersion: Int { migrations.count }

    /// Brings `database` from its version up to `target` (default: current). Throws
    /// `newerSchema` rather than touching a file from a newer pushctl.
    static func migrate(_ database: Database, to target: Int = currentVersion) throws(StateError) {
        for version in 0..<target {
            do {
                try database.transaction { connection in
                    // Read inside the write transaction: two processes opening a new file at once
                    // must not both apply a migration.
                    let found = try connection.userVersion()
                    if found > currentVersion {
                        throw StateError.newerSchema(path: database.path, found: found, supported: currentVersion)
                    }
                    // Already past this step (or applied by a concurrent opener): nothing to do.
                    guard found == version else { return }
                    try connection.exec(migrations[version])
                    try connection.setUserVersion(version + 1)
                }
            } catch let error as StateError {
                throw error
            } catch let error as SQLiteError {
                throw .database(path: database.path, error)
            } catch {
                throw .corrupt(path: database.path, detail: "\(error)")
            }
        }
        // A file already at (or beyond) target still needs the newer-schema check.
        do {
            let found = try database.withConnection { (c: Connection) throws(SQLiteError) in try c.userVersion() }
            if found > currentVersion { throw StateError.newerSchema(path: database.path, found: found, supported: currentVersion) }
        } catch let error as SQLiteError { throw .database(path: database.path, error) } catch let error as StateError { throw error } catch
        { throw .corrupt(path: database.path, detail: "\(error)") }
    }
}
