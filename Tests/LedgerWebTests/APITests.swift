import Foundation
import LedgerWeb
import Testing
import TestSupport
import Threading

/// Every JSON answer, validated against its schema in schemas/ (python3-jsonschema).
@Suite struct APITests {
    func answer(_ f: WebFixture, _ path: String, _ query: [String: String] = [:], schema: String, status: Int = 200) throws -> [String: Any]
    {
        let (code, type, text) = f.get(path, query)
        #expect(code == status, "\(path): \(text)")
        #expect(type == "application/json")
        let problems = try SchemaValidator.problems(text, schema: schema)
        #expect(problems == nil, "\(path) against \(schema): \(problems ?? "")")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func runs() throws {
        let f = try WebFixture.standard()
        let doc = try answer(f, "/api/v1/runs", schema: "web-runs-v1.schema.json")
        #expect(doc["total"] as? Int == 4 && doc["page"] as? Int == 1 && doc["pageSize"] as? Int == 50)
        let runs = try #require(doc["runs"] as? [[String: Any]])
        #expect(runs.count == 4)
        let failed = try #require(runs.first { ($0["run"] as? [String: Any])?["id"] as? Int == 2 })
        #expect((failed["pushes"] as? [String: Int]) == ["pushed": 0, "unchanged": 0, "failed": 1, "deleted": 0, "rejected": 1])
        #expect(((failed["run"] as? [String: Any])?["error"] as? String)?.hasSuffix(WebFixture.payload) == true)
        let page2 = try answer(f, "/api/v1/runs", ["page": "2"], schema: "web-runs-v1.schema.json")
        #expect((page2["runs"] as? [Any])?.isEmpty == true)
        _ = try answer(f, "/api/v1/runs", ["page": "x"], schema: "web-error-v1.schema.json", status: 400)
    }

    @Test func oneRun() throws {
        let f = try WebFixture.standard()
        let doc = try answer(f, "/api/v1/runs/1", schema: "show-v1.schema.json")
        let pushes = try #require(doc["pushes"] as? [[String: Any]])
        #expect(pushes.count == 2)
        #expect(pushes[0]["verdict"] as? String == "verified by 1 key")
        #expect(pushes[0]["signatures"] as? [String] == [WebFixture.signature.string])
        let verify = try answer(f, "/api/v1/runs/3", schema: "show-v1.schema.json")
        #expect((verify["checks"] as? [Any])?.count == 4)
        let missing = try answer(f, "/api/v1/runs/42", schema: "web-error-v1.schema.json", status: 404)
        #expect(missing["error"] as? String == "no run 42 in the ledger")
        _ = try answer(f, "/api/v1/whatever", schema: "web-error-v1.schema.json", status: 404)
    }

    @Test func pushes() throws {
        let f = try WebFixture.standard()
        let doc = try answer(f, "/api/v1/pushes", ["digest": "sha256:3f1a"], schema: "web-pushes-v1.schema.json")
        #expect(doc["total"] as? Int == 2)
        #expect((doc["query"] as? [String: Any])?["digest"] as? String == "sha256:3f1a")
        let rows = try #require(doc["pushes"] as? [[String: Any]])
        #expect(Set(rows.compactMap { ($0["push"] as? [String: Any])?["tag"] as? String }) == ["1.0", "latest"])
        let all = try answer(f, "/api/v1/pushes", schema: "web-pushes-v1.schema.json")
        #expect(all["total"] as? Int == 4)
        let bad = try answer(f, "/api/v1/pushes", ["digest": "md5:00"], schema: "web-error-v1.schema.json", status: 400)
        #expect((bad["error"] as? String)?.contains("md5:00") == true)
    }

    @Test func drift() throws {
        let f = try WebFixture.standard()
        let doc = try answer(f, "/api/v1/drift", schema: "web-drift-v1.schema.json")
        let jobs = try #require(doc["jobs"] as? [[String: Any]])
        #expect(jobs.count == 2)
        #expect((jobs[0]["run"] as? [String: Any])?["job"] as? String == "nightly")
        #expect(jobs[0]["counts"] as? [String: Int] == ["ok": 1, "changed": 1, "gone": 1, "error": 1])
        _ = try answer(WebFixture(), "/api/v1/drift", schema: "web-drift-v1.schema.json")
    }
}

/// The server calls `respond` from many threads at once: every answer is the same as alone.
@Suite struct ConcurrentRequestTests {
    @Test func manyAtOnce() throws {
        let f = try WebFixture.standard()
        let paths = ["/", "/runs/1", "/runs/2", "/pushes", "/drift", "/api/v1/runs", "/api/v1/pushes", "/api/v1/drift", "/api/v1/runs/3"]
        let alone = paths.map { f.web.respond(path: $0, query: [:]).body }
        let answers = LockedValue([Int: [UInt8]]())
        let web = f.web
        forEachConcurrently(Array(0..<(paths.count * 8)), width: 8) { i in
            let body = web.respond(path: paths[i % paths.count], query: [:]).body
            answers.withLock { $0[i] = body }
        }
        let all = answers.withLock { $0 }
        #expect(all.count == paths.count * 8)
        for (i, body) in all { #expect(body == alone[i % paths.count], "\(paths[i % paths.count])") }
    }
}
