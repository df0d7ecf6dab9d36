import Foundation
import SQLite
import OCI
import Testing
import RegistryHarness
@testable import State

func openTemporaryStore(_ name: String = #function) throws -> StateStore {
    try StateStore.open(path: try temporaryDirectory(name) + "/state.db")
}

/// The two stores the ledger suite runs on (docs/state.md "One ledger, two stores"): every test
/// of ledger meaning takes `LedgerBackend.allCases` and opens its store with `backend.open()`.
enum LedgerBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    var description: String { rawValue }

    /// A new, empty ledger: a file in a temporary folder, or a new database on the suite's server.
    func open(_ name: String = #function) throws -> StateStore {
        switch self {
        case .sqlite: return try openTemporaryStore(name)
        case .postgres:
            let url = try TestPostgres.server().createDatabase()
            return try #require(try StateStore.open(postgresURL: url, location: url, creating: true))
        }
    }

    /// A second store on the same ledger (as another process would open it).
    func reopen(_ store: StateStore) throws -> StateStore {
        switch self {
        case .sqlite: return try StateStore.open(path: store.path)
        case .postgres: return try #require(try StateStore.open(postgresURL: store.path, location: store.path, creating: false))
        }
    }
}

/// One PostgreSQL server for the whole test process, started on first use; each test gets its
/// own database on it. The test role's password reaches libpq as PGPASSWORD, as it does pushctl.
enum TestPostgres {
    private static let shared: Result<PostgresServer, any Error> = Result {
        let server = try PostgresServer()
        server.stopAtExit()
        setenv("PGPASSWORD", server.password, 1)
        return server
    }

    static func server() throws -> PostgresServer { try shared.get() }
}

/// A digest of some text (distinct texts give distinct digests).
func digest(_ text: String) -> Digest { Digest.of(Array(text.utf8)) }

/// A sha256 digest with chosen leading hex, to build prefix collisions.
func digest(hexPrefix: String) throws -> Digest {
    try Digest(algorithm: .sha256, hex: hexPrefix + String(repeating: "0", count: 64 - hexPrefix.count))
}

/// A push with sensible defaults; tests override what they look at.
func push(
    run: RunID, repository: String = "team/app", tag: String = "1.0", host: String = "registry.example.com",
    digest pushed: Digest? = digest("manifest"), status: PushStatus = .pushed,
    started: Date = Date(timeIntervalSince1970: 1_800_000_000), source: String = "oci:./app"
) -> PushRecord {
    PushRecord(
        runID: run, planItemID: "item-\(repository)-\(tag)", source: source, sourceDigest: pushed,
        registryName: "main", registryHost: host, endpoint: "https://\(host)", repository: repository, tag: tag,
        pushedDigest: status == .failed ? nil : pushed,
        mediaType: "application/vnd.oci.image.manifest.v1+json", size: 1234, status: status,
        bytesUploaded: 1000, blobsUploaded: 2, blobsMounted: 1, blobsPresent: 3, attempts: 1,
        error: status == .failed ? "HTTP 500 from registry.example.com" : nil,
        started: started, ended: started.addingTimeInterval(2.5))
}

extension StateStore {
    /// A run started at `started` (so ordering tests control time).
    func testRun(
        job: String = "nightly", started: Date = Date(timeIntervalSince1970: 1_800_000_000),
        kind: RunKind = .apply
    ) throws -> RunID {
        try beginRun(
            job: job, file: "jobs/\(job).yaml", fileDigest: digest("job \(job)"), kind: kind,
            pushctlVersion: "0.1.0-test", started: started)
    }
}

/// A database file as schema version `version` left it, holding one run (`legacy`, id 1) and one
/// push to `reg.example/a/b:v1` with `status`: what the migration tests open.
func legacyDatabase(at path: String, version: Int, pushStatus: String) throws -> Database {
    let old = try Database(path: path)
    try old.transaction { c in
        for (index, migration) in StateSchema.migrations.prefix(version).enumerated() {
            try c.exec(migration)
            try c.setUserVersion(index + 1)
        }
        try c.run(
            """
            INSERT INTO runs (job, file, file_digest, kind, status, started, ended, host, pid, version, exit_code)
            VALUES ('legacy', 'legacy.yaml', 'sha256:00', 'apply', 'ok', 1700000000, 1700000010, 'h', 1, '0.0.1', 0)
            """)
        try c.run(
            """
            INSERT INTO pushes (run_id, plan_item, source, registry_name, registry_host, endpoint, repository, tag,
                status, started, ended) VALUES (1, 'i', 'oci:x', 'r', 'reg.example', 'https://reg.example', 'a/b', 'v1',
                ?, 1700000001, 1700000002)
            """, [pushStatus])
    }
    return old
}
