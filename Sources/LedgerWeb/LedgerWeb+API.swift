import Foundation
import LedgerFormat
import State

/// The JSON API under `/api/v1/` (docs/web.md "API"): the pages' data, in the run and push shapes
/// of `history`/`show` (schemas/web-*-v1.schema.json, schemas/show-v1.schema.json).
extension LedgerWeb {
    func apiRuns(_ query: [String: String]) throws -> [String: Any] {
        let runQuery = try Self.runQuery(query)
        let page = try ledger.runSummaries(runQuery)
        return [
            "schema": "pushctl-web-runs-v1", "page": runQuery.page.number, "pageSize": runQuery.page.size, "total": page.total,
            "runs": page.runs.map { s -> [String: Any] in
                [
                    "run": LedgerJSON.run(s.run),
                    "pushes": Dictionary(uniqueKeysWithValues: PushStatus.allCases.map { ($0.rawValue, s.pushes[$0] ?? 0) }),
                    "blobs": ["uploaded": s.blobsUploaded, "mounted": s.blobsMounted, "present": s.blobsPresent],
                    "bytesUploaded": s.bytesUploaded
                ]
            }
        ]
    }

    func apiPushes(_ query: [String: String]) throws -> [String: Any] {
        let pushQuery = try Self.pushQuery(query)
        let page = try ledger.pushPage(pushQuery)
        return [
            "schema": "pushctl-web-pushes-v1", "page": pushQuery.page.number, "pageSize": pushQuery.page.size, "total": page.total,
            "query": [
                "digest": pushQuery.digestPrefix as Any? ?? NSNull(), "repository": pushQuery.repository as Any? ?? NSNull(),
                "tag": pushQuery.tag as Any? ?? NSNull()
            ],
            "pushes": page.rows.compactMap { row -> [String: Any]? in
                row.push.map { ["run": LedgerJSON.run(row.run), "push": LedgerJSON.push($0)] }
            }
        ]
    }

    func apiDrift() throws -> [String: Any] {
        [
            "schema": "pushctl-web-drift-v1",
            "jobs": try ledger.latestVerifyRuns().map { d -> [String: Any] in
                [
                    "run": LedgerJSON.run(d.run), "checks": d.checks.map(LedgerJSON.check),
                    "counts": Dictionary(grouping: d.checks, by: \.status).mapValues(\.count)
                ]
            }
        ]
    }
}
