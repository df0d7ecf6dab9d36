import Foundation
import SQLite

/// `pushctl state copy FROM TO`: a whole ledger copied into another, SQLite or PostgreSQL either
/// way (docs/state.md "Copying a ledger").
///
/// Idempotent and merging: a run already in the target (same job, kind, start time, host and
/// pid) is not added again, nor is a push already recorded for it (same plan item, target and
/// start time); runs and pushes keep their ids where the target has them free (so a copy into a
/// new ledger keeps `history` identical, ids included) and get new ones where another ledger's
/// rows took them (merging shard files). Blob locations, diffID mappings and rate limits are
/// merged as the ledger itself merges them. The whole copy is one transaction in the target, which
/// keeps other writers of runs and pushes waiting until it commits.
public enum LedgerCopy {
    public struct Result: Sendable, Equatable, Codable {
        public var runsAdded = 0
        public var runsUpdated = 0
        public var pushesAdded = 0
        public var checksAdded = 0
        public var blobLocations = 0
        public var diffIDMappings = 0
        public var rateLimits = 0
    }

    /// Column types of a copied table: i(nteger), r(eal), t(ext).
    private struct Table {
        var name: String
        var columns: [String]
        var types: String
        var select: String { "SELECT \(columns.joined(separator: ", ")) FROM \(name)" }
    }

    private static let runs = Table(
        name: "runs",
        columns: ["id", "job", "file", "file_digest", "kind", "status", "started", "ended", "host", "pid", "version", "exit_code", "error"],
        types: "itttttrrtitit")
    private static let pushes = Table(
        name: "pushes",
        columns: [
            "id", "run_id", "plan_item", "source", "source_digest", "registry_name", "registry_host", "endpoint", "repository", "tag",
            "pushed_digest", "media_type", "size", "status", "bytes_uploaded", "blobs_uploaded", "blobs_mounted", "blobs_present",
            "attempts", "error", "started", "ended", "subject_digest", "verified_keys", "verdict", "signatures"
        ],
        types: "ii" + "tttttttttt" + "it" + "iiiii" + "t" + "rr" + "tttt")
    private static let checks = Table(
        name: "verify_checks",
        columns: [
            "run_id", "registry_name", "host", "endpoint", "repository", "tag", "expected", "current", "status", "error", "pushed_in_run"
        ],
        types: "i" + "ttttttttt" + "i")
    private static let blobs = Table(
        name: "blob_locations", columns: ["registry_host", "repository", "digest", "identity", "last_seen"], types: "ttttr")
    private static let mappings = Table(
        name: "diffid_mappings", columns: ["diff_id", "settings", "compressed_digest", "media_type", "size", "recorded"], types: "ttttir")
    private static let limits = Table(
        name: "rate_limits", columns: ["registry_host", "limit_total", "remaining", "window_seconds", "reset_at", "observed_at"],
        types: "tiiirr")

    private static func values(_ row: any LedgerRow, _ types: String) throws -> [SQLiteValue] {
        try types.enumerated().map { index, type in
            switch type {
            case "i": try row.optionalInt64(index).map(SQLiteValue.integer) ?? .null
            case "r": try row.optionalDouble(index).map(SQLiteValue.real) ?? .null
            default: try row.optionalString(index).map(SQLiteValue.text) ?? .null
            }
        }
    }

    private static func read(_ table: Table, from store: StateStore, order: String = "") throws(StateError) -> [[SQLiteValue]] {
        try store.read { c in try c.query(table.select + order) { row in try values(row, table.types) } }
    }

    private static func insert(_ table: Table, _ values: [SQLiteValue], into c: any LedgerConnection, keepingID: Bool, suffix: String = "")
        throws
    {
        let columns = keepingID ? table.columns : Array(table.columns.dropFirst())
        let bound = keepingID ? values : Array(values.dropFirst())
        try c.run(
            "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))\(suffix)",
            bound)
    }

    /// A run's identity across ledgers: job, kind, start time, host and pid.
    private static func runKey(_ v: [SQLiteValue]) -> String { "\(v[1])|\(v[4])|\(v[6])|\(v[8])|\(v[9])" }
    /// A push's identity within its run: plan item, target and start time.
    private static func pushKey(run: Int64, _ v: [SQLiteValue]) -> String { "\(run)|\(v[2])|\(v[6])|\(v[8])|\(v[9])|\(v[20])" }

    public static func copy(from source: StateStore, to target: StateStore) throws(StateError) -> Result {
        let sourceRuns = try read(runs, from: source, order: " ORDER BY id")
        let sourcePushes = try read(pushes, from: source, order: " ORDER BY id")
        let sourceChecks = try read(checks, from: source, order: " ORDER BY id")
        let sourceBlobs = try read(blobs, from: source)
        let sourceMappings = try read(mappings, from: source)
        let sourceLimits = try read(limits, from: source)
        return try target.write { c -> Result in
            var result = Result()
            try c.exec(c.dialect.exclusiveWrites(["runs", "pushes", "verify_checks"]))
            var runIDs = [String: (id: Int64, status: SQLiteValue)]()
            var usedRunIDs = Set<Int64>()
            for v in try c.query(runs.select, { row in try values(row, runs.types) }) {
                guard case .integer(let id) = v[0] else { continue }
                runIDs[runKey(v)] = (id, v[5])
                usedRunIDs.insert(id)
            }
            var mappedRun = [Int64: Int64]()
            var newRuns = Set<Int64>()
            for v in sourceRuns {
                guard case .integer(let id) = v[0] else { continue }
                if let existing = runIDs[runKey(v)] {
                    mappedRun[id] = existing.id
                    // Copied while it ran, copied again since it ended: take how it ended.
                    if existing.status == .text(RunStatus.running.rawValue) && v[5] != existing.status {
                        try c.run(
                            "UPDATE runs SET status = ?, ended = ?, exit_code = ?, error = ? WHERE id = ?",
                            [v[5], v[7], v[11], v[12], existing.id])
                        result.runsUpdated += 1
                    }
                    continue
                }
                let keep = !usedRunIDs.contains(id)
                try insert(runs, v, into: c, keepingID: keep)
                let newID = keep ? id : try c.lastInsertRowID()
                usedRunIDs.insert(newID)
                mappedRun[id] = newID
                newRuns.insert(newID)
                result.runsAdded += 1
            }
            var pushKeys = Set<String>(), usedPushIDs = Set<Int64>()
            for v in try c.query(pushes.select, { row in try values(row, pushes.types) }) {
                guard case .integer(let id) = v[0], case .integer(let run) = v[1] else { continue }
                pushKeys.insert(pushKey(run: run, v))
                usedPushIDs.insert(id)
            }
            for var v in sourcePushes {
                guard case .integer(let id) = v[0], case .integer(let run) = v[1], let targetRun = mappedRun[run] else { continue }
                v[1] = .integer(targetRun)
                guard pushKeys.insert(pushKey(run: targetRun, v)).inserted else { continue }
                let keep = !usedPushIDs.contains(id)
                try insert(pushes, v, into: c, keepingID: keep)
                usedPushIDs.insert(keep ? id : try c.lastInsertRowID())
                result.pushesAdded += 1
            }
            // A run's verify findings are written together; copy them with a run that has none.
            let runsWithChecks = Set(try c.query("SELECT DISTINCT run_id FROM verify_checks") { row in try row.int64(0) })
            for var v in sourceChecks {
                guard case .integer(let run) = v[0], let targetRun = mappedRun[run], !runsWithChecks.contains(targetRun) else { continue }
                v[0] = .integer(targetRun)
                try c.run(
                    "INSERT INTO verify_checks (\(checks.columns.joined(separator: ", "))) VALUES (\(checks.columns.map { _ in "?" }.joined(separator: ", ")))",
                    v)
                result.checksAdded += 1
            }
            try c.runMany(StateStore.upsertBlobSQL, sourceBlobs)
            result.blobLocations = sourceBlobs.count
            try c.runMany(
                """
                INSERT INTO diffid_mappings (diff_id, settings, compressed_digest, media_type, size, recorded)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (diff_id, settings) DO NOTHING
                """, sourceMappings)
            result.diffIDMappings = sourceMappings.count
            try c.runMany(StateStore.upsertRateLimitSQL, sourceLimits)
            result.rateLimits = sourceLimits.count
            for table in ["runs", "pushes"] { try c.exec(c.dialect.identityCatchUp(table: table)) }
            return result
        }
    }
}
