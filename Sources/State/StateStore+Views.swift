import Foundation
import OCI
import SQLite

/// The read-only views of the web view and `/metrics` (docs/web.md). Portable SQL only (`?`
/// parameters, standard functions, no GLOB), so another store can take the statements as they are;
/// every listing pages with LIMIT/OFFSET over an indexed order (`runs_by_started`,
/// `pushes_by_started` and the filter indexes of schema 2).
extension StateStore {
    /// `REPO`, or `HOST/REPO` when the first component is a registry host (`history --repository`).
    static func repositoryCondition(_ repository: String) -> (String, [any SQLiteBindable]) {
        guard let slash = repository.firstIndex(of: "/") else { return ("p.repository = ?", [repository]) }
        return (
            "(p.repository = ? OR (p.registry_host = ? AND p.repository = ?))",
            [repository, String(repository[..<slash]), String(repository[repository.index(after: slash)...])]
        )
    }

    public func runSummaries(_ query: RunQuery) throws(StateError) -> RunPage {
        var conditions = [String](), values = [any SQLiteBindable]()
        if let job = query.job { conditions.append("r.job = ?"); values.append(job) }
        if let kind = query.kind { conditions.append("r.kind = ?"); values.append(kind.rawValue) }
        if let status = query.status { conditions.append("r.status = ?"); values.append(status.rawValue) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try read { c in
            let total = try c.query("SELECT COUNT(*) FROM runs r \(whereClause)", values) { row in try row.int(0) }
            let runs = try c.query(
                "SELECT \(Self.runColumns) FROM runs r \(whereClause) ORDER BY r.started DESC, r.id DESC LIMIT ? OFFSET ?",
                values + [query.page.size, query.page.offset]
            ) { row in try Self.decodeRun(row, offset: 0) }
            return RunPage(runs: try Self.summaries(of: runs, c), total: total.first ?? 0)
        }
    }

    /// What the pushes of `runs` add up to, one grouped query over `pushes_by_run`.
    static func summaries(of runs: [RunRecord], _ c: any LedgerConnection) throws -> [RunOverview] {
        guard !runs.isEmpty else { return [] }
        var byID = [Int64: RunOverview]()
        for run in runs { byID[run.id.rawValue] = RunOverview(run: run) }
        let marks = Array(repeating: "?", count: runs.count).joined(separator: ", ")
        let groups = try c.query(
            """
            SELECT run_id, status, COUNT(*), SUM(blobs_uploaded), SUM(blobs_mounted), SUM(blobs_present), SUM(bytes_uploaded)
            FROM pushes WHERE run_id IN (\(marks)) GROUP BY run_id, status
            """, runs.map(\.id.rawValue)
        ) { row in
            (
                try row.int64(0), try row.string(1), try row.int(2), try row.int(3), try row.int(4), try row.int(5),
                try row.int64(6)
            )
        }
        for (id, status, count, uploaded, mounted, present, bytes) in groups {
            guard var summary = byID[id] else { continue }
            // A status from a newer pushctl is still added to the blob and byte sums.
            if let status = PushStatus(rawValue: status) { summary.pushes[status, default: 0] += count }
            summary.blobsUploaded += uploaded; summary.blobsMounted += mounted; summary.blobsPresent += present
            summary.bytesUploaded += bytes
            byID[id] = summary
        }
        return runs.compactMap { byID[$0.id.rawValue] }
    }

    public func pushPage(_ query: PushQuery) throws(StateError) -> PushPage {
        var conditions = [String](), values = [any SQLiteBindable]()
        if let prefix = query.digestPrefix {
            // A range scan per digest column uses its index ("g" sorts after every hex digit); a
            // subject's digest also finds its referrers and attachments, as `history --digest`.
            var alternatives = [String]()
            for p in try Self.normalizedDigestPrefix(prefix) {
                for column in ["p.pushed_digest", "p.source_digest", "p.subject_digest"] {
                    alternatives.append("(\(column) >= ? AND \(column) < ?)"); values += [p, p + "g"]
                }
            }
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        if let repository = query.repository {
            let (condition, bound) = Self.repositoryCondition(repository)
            conditions.append(condition); values += bound
        }
        if let tag = query.tag { conditions.append("p.tag = ?"); values.append(tag) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let path = self.path
        return try read { c in
            let total = try c.query("SELECT COUNT(*) FROM pushes p \(whereClause)", values) { row in try row.int(0) }
            // The page's ids first, from the index alone (a deep OFFSET skips index entries, not
            // rows), then those rows with their runs.
            let rows = try c.query(
                """
                SELECT \(Self.runColumns), \(Self.pushColumns) FROM pushes p JOIN runs r ON r.id = p.run_id
                WHERE p.id IN (SELECT p.id FROM pushes p \(whereClause) ORDER BY p.started DESC, p.id DESC LIMIT ? OFFSET ?)
                ORDER BY p.started DESC, p.id DESC
                """, values + [query.page.size, query.page.offset]
            ) { row in
                HistoryRow(
                    database: path, run: try Self.decodeRun(row, offset: 0), push: try Self.decodePush(row, offset: Self.runColumnCount))
            }
            return PushPage(rows: rows, total: total.first ?? 0)
        }
    }

    public func latestVerifyRuns() throws(StateError) -> [RunDetail] {
        let ids = try read { c in
            try c.query(
                """
                SELECT r.id FROM runs r WHERE r.id IN (SELECT MAX(id) FROM runs WHERE kind = ? GROUP BY job) ORDER BY r.job
                """, [RunKind.verify.rawValue]
            ) { row in RunID(try row.int64(0)) }
        }
        var details = [RunDetail]()
        for id in ids { details.append(try run(.id(id))) }
        return details
    }

    public func statistics() throws(StateError) -> LedgerStatistics {
        try read { c in
            let counts = try c.query("SELECT kind, status, COUNT(*) FROM runs GROUP BY kind, status ORDER BY kind, status") {
                row in
                RunCount(kind: RunKind(rawValue: try row.string(0)), status: RunStatus(rawValue: try row.string(1)), count: try row.int(2))
            }
            let successes = try c.query(
                "SELECT job, MAX(ended) FROM runs WHERE status IN (?, ?) AND ended IS NOT NULL GROUP BY job",
                [RunStatus.ok.rawValue, RunStatus.verificationOK.rawValue]
            ) { row in (try row.string(0), Date(timeIntervalSince1970: try row.double(1))) }
            let latest = try c.query(
                "SELECT \(Self.runColumns) FROM runs r WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY job) ORDER BY r.job"
            ) { row in try Self.decodeRun(row, offset: 0) }
            return LedgerStatistics(
                runCounts: counts, lastSuccess: Dictionary(successes, uniquingKeysWith: max), latestRuns: try Self.summaries(of: latest, c))
        }
    }
}
