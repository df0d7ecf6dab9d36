import Foundation
import OCI
import SQLite

/// The audit side: `pushctl history`, `show` and `prune-history` (docs/cli.md, docs/state.md).
extension StateStore {
    /// Digest prefixes as typed: `sha256:ab12…`, `sha512:…`, or bare hex (either algorithm).
    /// Returns the `ALGORITHM:` prefixes to try, each with the hex part.
    static func normalizedDigestPrefix(_ text: String) throws(StateError) -> [String] {
        let lower = text.lowercased()
        func isHex(_ s: Substring) -> Bool { s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) } }
        if let colon = lower.firstIndex(of: ":") {
            let algorithm = lower[..<colon], hex = lower[lower.index(after: colon)...]
            guard Digest.Algorithm(rawValue: String(algorithm)) != nil, isHex(hex) else { throw .invalidDigestPrefix(text) }
            return [lower]
        }
        guard !lower.isEmpty, isHex(lower[...]) else { throw .invalidDigestPrefix(text) }
        return Digest.Algorithm.allCases.map { "\($0.rawValue):\(lower)" }
    }

    /// Distinct pushed or source digests starting with `prefix` (at most 20, enough to show).
    public func digestCandidates(_ prefix: String) throws(StateError) -> [String] {
        let prefixes = try Self.normalizedDigestPrefix(prefix)
        return try read { c in
            var found = Set<String>()
            for p in prefixes {
                // A range scan uses the digest indexes; "g" sorts after every hex digit.
                found.formUnion(
                    try c.query(
                        """
                        SELECT d FROM (SELECT pushed_digest AS d FROM pushes WHERE pushed_digest >= ?1 AND pushed_digest < ?2
                                       UNION SELECT source_digest FROM pushes WHERE source_digest >= ?1 AND source_digest < ?2) AS candidates
                        LIMIT 20
                        """, [p, p + "g"]
                    ) { row in try row.string(0) })
            }
            return found.sorted()
        }
    }

    public func history(_ filter: HistoryFilter, exactDigest: String?) throws(StateError) -> [HistoryRow] {
        var conditions = [String](), values = [any SQLiteBindable]()
        if let job = filter.job { conditions.append("r.job = ?"); values.append(job) }
        if let repository = filter.repository {
            let (condition, bound) = Self.repositoryCondition(repository)
            conditions.append(condition); values += bound
        }
        if let tag = filter.tag { conditions.append("p.tag = ?"); values.append(tag) }
        if let digest = exactDigest {
            // A subject's digest also finds its referrers and attachments (schema 5).
            conditions.append("(p.pushed_digest = ? OR p.source_digest = ? OR p.subject_digest = ?)"); values += [digest, digest, digest]
        }
        if let since = filter.since { conditions.append("p.started >= ?"); values.append(since.timeIntervalSince1970) }
        if let status = filter.status { conditions.append("p.status = ?"); values.append(status.rawValue) }
        if let until = filter.until { conditions.append("p.started < ?"); values.append(until.timeIntervalSince1970) }
        if let runStatus = filter.runStatus { conditions.append("r.status = ?"); values.append(runStatus.rawValue) }
        if let kind = filter.kind { conditions.append("r.kind = ?"); values.append(kind.rawValue) }
        if let registry = filter.registry {
            conditions.append("(p.registry_name = ? OR p.registry_host = ?)"); values += [registry, registry]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limitClause = filter.limit.map { "LIMIT \(max(0, $0))" } ?? ""
        let path = self.path
        var rows = try read { c in
            try c.query(
                """
                SELECT \(Self.runColumns), \(Self.pushColumns) FROM pushes p JOIN runs r ON r.id = p.run_id
                \(whereClause) ORDER BY p.started DESC, p.id DESC \(limitClause)
                """, values
            ) { row in
                HistoryRow(
                    database: path, run: try Self.decodeRun(row, offset: 0),
                    push: try Self.decodePush(row, offset: Self.runColumnCount))
            }
        }
        if !filter.narrowsPushes {
            var runConditions = ["NOT EXISTS (SELECT 1 FROM pushes p WHERE p.run_id = r.id)"], runValues = [any SQLiteBindable]()
            if let job = filter.job { runConditions.append("r.job = ?"); runValues.append(job) }
            if let since = filter.since { runConditions.append("r.started >= ?"); runValues.append(since.timeIntervalSince1970) }
            if let until = filter.until { runConditions.append("r.started < ?"); runValues.append(until.timeIntervalSince1970) }
            if let runStatus = filter.runStatus { runConditions.append("r.status = ?"); runValues.append(runStatus.rawValue) }
            if let kind = filter.kind { runConditions.append("r.kind = ?"); runValues.append(kind.rawValue) }
            rows += try read { c in
                try c.query(
                    """
                    SELECT \(Self.runColumns) FROM runs r WHERE \(runConditions.joined(separator: " AND "))
                    ORDER BY r.started DESC, r.id DESC \(limitClause)
                    """, runValues
                ) { row in
                    HistoryRow(database: path, run: try Self.decodeRun(row, offset: 0), push: nil)
                }
            }
        }
        return rows
    }

    /// Records what a `verify` run found, all rows in one transaction.
    public func recordVerifyChecks(_ checks: [VerifyCheckRecord], run: RunID) throws(StateError) {
        try write { c in
            try c.runMany(
                """
                INSERT INTO verify_checks (run_id, registry_name, host, endpoint, repository, tag, expected, current,
                    status, error, pushed_in_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                checks.map { check -> [any SQLiteBindable] in
                    [
                        run.rawValue, check.registryName, check.host, check.endpoint, check.repository, check.tag,
                        check.expected, check.current, check.status, check.error, check.pushedInRun
                    ]
                })
        }
    }

    /// One run with all its pushes, in the order they started.
    public func run(_ reference: RunReference) throws(StateError) -> RunDetail {
        let path = self.path
        let found = try read { c -> (RunRecord, [PushRecord], [VerifyCheckRecord])? in
            let runs: [RunRecord]
            switch reference {
            case .id(let id):
                runs = try c.query("SELECT \(Self.runColumns) FROM runs r WHERE r.id = ?", [id.rawValue]) { row in
                    try Self.decodeRun(row, offset: 0)
                }
            case .last:
                runs = try c.query("SELECT \(Self.runColumns) FROM runs r ORDER BY r.started DESC, r.id DESC LIMIT 1") {
                    row in
                    try Self.decodeRun(row, offset: 0)
                }
            }
            guard let run = runs.first else { return nil }
            let pushes = try c.query(
                "SELECT \(Self.pushColumns) FROM pushes p WHERE p.run_id = ? ORDER BY p.started, p.id",
                [run.id.rawValue], Self.decodePush)
            let checks = try c.query(
                """
                SELECT registry_name, host, endpoint, repository, tag, expected, current, status, error, pushed_in_run
                FROM verify_checks WHERE run_id = ? ORDER BY id
                """, [run.id.rawValue]
            ) { row in
                VerifyCheckRecord(
                    registryName: try row.string(0), host: try row.string(1), endpoint: try row.optionalString(2),
                    repository: try row.string(3), tag: try row.string(4), expected: try row.string(5),
                    current: try row.optionalString(6), status: try row.string(7), error: try row.optionalString(8),
                    pushedInRun: try row.int64(9))
            }
            return (run, pushes, checks)
        }
        guard let (run, pushes, checks) = found else { throw .unknownRun(path: path, run: reference.description) }
        var detail = RunDetail(database: path, run: run, pushes: pushes, checks: checks)
        detail.events = try eventIDs(run: run.id)
        return detail
    }

    /// Removes old runs and their pushes in one transaction, then VACUUMs. A run is removed when
    /// it started before `olderThan` (if given) and is not among the newest `keepRuns` runs (if
    /// given); with both, a run is kept if either rule keeps it. Running runs are never removed.
    /// Blob locations and diffID mappings are kept: they still serve mounts and skips.
    public func prune(olderThan: Date?, keepRuns: Int?) throws(StateError) -> PruneResult {
        guard olderThan != nil || keepRuns != nil else { return PruneResult(runsRemoved: 0, pushesRemoved: 0) }
        var conditions = ["status <> 'running'"], values = [any SQLiteBindable]()
        if let olderThan { conditions.append("started < ?"); values.append(olderThan.timeIntervalSince1970) }
        if let keepRuns {
            conditions.append("id NOT IN (SELECT id FROM runs ORDER BY started DESC, id DESC LIMIT ?)")
            values.append(max(0, keepRuns))
        }
        let selection = "SELECT id FROM runs WHERE " + conditions.joined(separator: " AND ")
        let result = try write { c in
            try c.exec("CREATE TEMP TABLE IF NOT EXISTS prune_runs (id INTEGER PRIMARY KEY); DELETE FROM prune_runs;")
            try c.run("INSERT INTO prune_runs \(selection)", values)
            try c.run("DELETE FROM pushes WHERE run_id IN (SELECT id FROM prune_runs)")
            let pushes = c.changes
            try c.run("DELETE FROM runs WHERE id IN (SELECT id FROM prune_runs)")
            let runs = c.changes
            try c.exec("DELETE FROM prune_runs")
            return PruneResult(runsRemoved: runs, pushesRemoved: pushes)
        }
        // VACUUM cannot run inside a transaction; the checkpoint then shrinks the WAL file too.
        // (PostgreSQL's autovacuum reclaims the space there.)
        guard let sqlite else { return result }
        do {
            try sqlite.withConnection { (c: Connection) throws(SQLiteError) in
                try c.exec("VACUUM")
                try c.exec("PRAGMA wal_checkpoint(TRUNCATE)")
            }
        } catch { throw .database(path: path, error) }
        return result
    }
}
