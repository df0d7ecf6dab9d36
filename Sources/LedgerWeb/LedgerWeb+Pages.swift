import Foundation
import LedgerFormat
import SafeText
import State

/// The HTML pages' values for the templates (WebTemplates). Text a registry or a job file
/// supplied goes through `DisplayText.safe` (control characters and bidirectional overrides made
/// visible, URL queries cut) and then the template's HTML escaping.
extension LedgerWeb {
    func runsPage(_ query: [String: String]) throws -> [String: Any] {
        let runQuery = try Self.runQuery(query)
        let page = try ledger.runSummaries(runQuery)
        let filter = ["job", "kind", "status"].compactMap { key in query[key].map { "\(key) \($0)" } }.joined(separator: ", ")
        var values: [String: Any] = [
            "title": "Runs", "total": page.total, "runs": page.runs.map(Self.runRow), "hasRuns": !page.runs.isEmpty,
            "pager": Self.pager("/", query, page: runQuery.page, total: page.total)
        ]
        if !filter.isEmpty { values["filter"] = filter }
        return values
    }

    func runPage(_ id: RunID) throws -> [String: Any] {
        let detail = try ledger.run(.id(id))
        let summary = RunOverview(detail), r = detail.run
        var fields: [(String, String)] = [
            ("Job", r.job), ("Kind", r.kind.rawValue), ("Job file", "\(r.file) (\(r.fileDigest))"),
            ("Status", r.status.rawValue + (r.exitCode.map { ", exit code \($0)" } ?? "")), ("Host", "\(r.host) (pid \(r.pid))"),
            ("pushctl", r.version), ("Started", HumanFormat.timestamp(r.started)),
            ("Ended", r.ended.map(HumanFormat.timestamp) ?? "not recorded"), ("Duration", Self.duration(r)),
            ("Pushes", Self.counts(summary)), ("Uploaded", HumanFormat.bytes(summary.bytesUploaded))
        ]
        if !detail.checks.isEmpty { fields.append(("Checked", Self.checkCounts(detail.checks))) }
        var values: [String: Any] = [
            "title": "Run \(r.id)", "id": r.id.rawValue, "status": r.status.rawValue, "statusClass": Self.cssClass(r.status.rawValue),
            "fields": fields.map { ["name": $0.0, "value": DisplayText.safe($0.1)] },
            "pushCount": detail.pushes.count, "pushes": detail.pushes.map(Self.pushRow), "hasPushes": !detail.pushes.isEmpty,
            "checkCount": detail.checks.count, "checks": detail.checks.map(Self.checkRow), "hasChecks": !detail.checks.isEmpty
        ]
        if let error = r.error { values["runError"] = DisplayText.safe(error) }
        return values
    }

    func pushesPage(_ query: [String: String]) throws -> [String: Any] {
        let pushQuery = try Self.pushQuery(query)
        let page = try ledger.pushPage(pushQuery)
        let rows = page.rows.compactMap { row -> [String: Any]? in
            guard let push = row.push else { return nil }
            var values = Self.pushRow(push)
            values["runID"] = row.run.id.rawValue
            values["runHref"] = "/runs/\(row.run.id)"
            values["job"] = row.run.job
            return values
        }
        return [
            "title": "Pushes", "total": page.total, "rows": rows, "hasRows": !rows.isEmpty,
            "query": ["digest": query["digest"] ?? "", "repository": query["repository"] ?? "", "tag": query["tag"] ?? ""],
            "pager": Self.pager("/pushes", query, page: pushQuery.page, total: page.total)
        ]
    }

    func driftPage() throws -> [String: Any] {
        let runs = try ledger.latestVerifyRuns()
        let drifting = runs.filter { $0.checks.contains { $0.status != "ok" } }.count
        let jobs = runs.map { detail -> [String: Any] in
            let r = detail.run
            return [
                "job": r.job, "id": r.id.rawValue, "href": "/runs/\(r.id)", "status": r.status.rawValue,
                "statusClass": Self.cssClass(r.status.rawValue), "started": HumanFormat.timestamp(r.started),
                "counts": Self.checkCounts(detail.checks), "checks": detail.checks.map(Self.checkRow), "hasChecks": !detail.checks.isEmpty
            ]
        }
        return [
            "title": "Drift", "jobs": jobs,
            "summary": "\(runs.count) job(s) verified, \(drifting) with findings other than ok (each job's newest verify run)"
        ]
    }

    // MARK: rows

    static func runRow(_ s: RunOverview) -> [String: Any] {
        let r = s.run
        var values: [String: Any] = [
            "id": r.id.rawValue, "href": "/runs/\(r.id)", "status": r.status.rawValue, "statusClass": cssClass(r.status.rawValue),
            "kind": r.kind.rawValue, "job": r.job, "started": HumanFormat.timestamp(r.started), "duration": duration(r),
            "counts": counts(s)
        ]
        if let error = r.error { values["runError"] = DisplayText.safe(error) }
        return values
    }

    static func pushRow(_ p: PushRecord) -> [String: Any] {
        var values: [String: Any] = [
            "target": DisplayText.safe(p.target), "status": p.status.rawValue, "statusClass": cssClass(p.status.rawValue),
            "digest": p.pushedDigest?.string ?? "-", "source": DisplayText.safe(p.source),
            "blobs": "\(p.blobsUploaded) uploaded, \(p.blobsMounted) mounted, \(p.blobsPresent) present",
            "bytes": HumanFormat.bytes(p.bytesUploaded), "attempts": p.attempts, "started": HumanFormat.timestamp(p.started),
            "duration": HumanFormat.duration(p.duration), "verifiedKeys": p.verifiedKeys, "signatures": p.signatures.map(\.string)
        ]
        if let digest = p.sourceDigest, digest != p.pushedDigest { values["sourceDigest"] = digest.string }
        if let verdict = p.verdict { values["verdict"] = DisplayText.safe(verdict) }
        if let error = p.error { values["pushError"] = DisplayText.safe(error) }
        return values
    }

    static func checkRow(_ c: VerifyCheckRecord) -> [String: Any] {
        var values: [String: Any] = [
            "status": c.status, "statusClass": cssClass(c.status), "target": DisplayText.safe("\(c.host)/\(c.repository):\(c.tag)"),
            "expected": c.expected, "current": c.current ?? "-", "pushedInRun": c.pushedInRun, "pushedInHref": "/runs/\(c.pushedInRun)"
        ]
        if let error = c.error { values["checkError"] = DisplayText.safe(error) }
        return values
    }

    // MARK: text

    /// `3 pushed, 1 failed`: the outcomes the run had, in the order of `PushStatus`.
    static func counts(_ s: RunOverview) -> String {
        let parts = PushStatus.allCases.compactMap { status in s.pushes[status].map { "\($0) \(status)" } }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    static func checkCounts(_ checks: [VerifyCheckRecord]) -> String {
        let counts = Dictionary(grouping: checks, by: \.status).mapValues(\.count)
        guard !counts.isEmpty else { return "no tags checked" }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    static func duration(_ r: RunRecord) -> String {
        r.ended.map { HumanFormat.duration($0.timeIntervalSince(r.started)) } ?? "-"
    }

    /// A status as a CSS class name: letters, digits and dashes only (the status is an open set).
    static func cssClass(_ status: String) -> String {
        String(status.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-" })
    }
}
