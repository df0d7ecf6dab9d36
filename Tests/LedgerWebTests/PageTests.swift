import Foundation
import LedgerWeb
import State
import Testing
import TestSupport

/// Every HTML page over a real ledger: what it lists, its escaping, its pagination and its errors.
@Suite struct PageTests {
    /// No page holds a script element, and registry text shows escaped.
    static func expectSafe(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.lowercased().contains("<script"), "a script element in the page", sourceLocation: sourceLocation)
        #expect(html.contains("<meta name=\"viewport\""), sourceLocation: sourceLocation)
    }

    /// A page that must answer 200 with safe HTML, as text.
    static func page(_ f: WebFixture, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let answer = f.get(path)
        #expect(answer.status == 200 && answer.type == "text/html; charset=utf-8", sourceLocation: sourceLocation)
        expectSafe(answer.text, sourceLocation: sourceLocation)
        return answer.text
    }

    @Test func runList() throws {
        let f = try WebFixture.standard()
        let page = Self.page(f, "/")
        for id in 1...4 { #expect(page.contains("data-run=\"\(id)\""), "run \(id) listed") }
        #expect(page.contains("4 run(s)"))
        #expect(page.contains("1 pushed, 1 unchanged"))
        #expect(page.contains("1 failed, 1 rejected"))
        #expect(page.contains("40.0s"))
        // Newest first.
        let first = try #require(page.range(of: "data-run=\"4\"")), last = try #require(page.range(of: "data-run=\"1\""))
        #expect(first.lowerBound < last.lowerBound)
        #expect(
            page.contains("1 push failed: &lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)&lt;/script&gt;"))
        // Filters narrow the list.
        let release = f.get("/", ["job": "release", "kind": "verify"])
        #expect(release.text.contains("data-run=\"4\"") && !release.text.contains("data-run=\"2\"") && release.text.contains("1 run(s)"))
    }

    @Test func oneRun() throws {
        let f = try WebFixture.standard()
        let ok = Self.page(f, "/runs/1")
        #expect(ok.contains("registry.example.com/team/app:1.0"))
        #expect(ok.contains(WebFixture.appDigest.string))
        #expect(ok.contains("verify: verified by 1 key"))
        #expect(ok.contains(WebFixture.keyID))
        #expect(ok.contains("signed: <span class=\"digest\">\(WebFixture.signature)</span>"))
        #expect(ok.contains("jobs/nightly.yaml"))

        let failed = f.get("/runs/2")
        Self.expectSafe(failed.text)
        #expect(failed.text.contains("registry.example.com/team/web:&lt;script&gt;"))
        #expect(failed.text.contains("HTTP 500 from registry.example.com: &lt;script&gt;"))
        #expect(failed.text.contains("verify: refused: no signature by a trusted key"))
        #expect(failed.text.contains("exit code 1"))

        let verify = f.get("/runs/3")
        #expect(verify.text.contains("Checked tags (4)"))
        #expect(verify.text.contains("s-changed") && verify.text.contains("s-gone"))
        #expect(verify.text.contains("registry said &lt;script&gt;"))
    }

    @Test func pushSearch() throws {
        let f = try WebFixture.standard()
        for prefix in ["sha256:3f1a", "3f1a", "3F1A77"] {
            let page = f.get("/pushes", ["digest": prefix])
            #expect(page.status == 200)
            #expect(page.text.contains("2 push(es)"), "digest \(prefix)")
            #expect(page.text.contains("team/app:1.0") && page.text.contains("team/app:latest") && !page.text.contains("team/api"))
            #expect(page.text.contains("value=\"\(prefix)\""), "the form keeps the search")
        }
        #expect(f.get("/pushes", ["repository": "team/app", "tag": "latest"]).text.contains("1 push(es)"))
        #expect(f.get("/pushes", ["repository": "registry.example.com/team/api"]).text.contains("1 push(es)"))
        #expect(f.get("/pushes", ["digest": "sha256:ffff"]).text.contains("No pushes match."))
        let all = f.get("/pushes", ["digest": "", "repository": "", "tag": ""])
        #expect(all.text.contains("4 push(es)"))
        Self.expectSafe(all.text)
        #expect(all.text.contains("&lt;script&gt;"))
        let typed = f.get("/pushes", ["tag": WebFixture.payload])
        #expect(typed.text.contains("1 push(es)"))
        Self.expectSafe(typed.text)
    }

    @Test func drift() throws {
        let f = try WebFixture.standard()
        let page = Self.page(f, "/drift")
        #expect(page.contains("2 job(s) verified, 1 with findings other than ok"))
        #expect(page.contains("1 changed, 1 error, 1 gone, 1 ok"))
        #expect(page.contains("href=\"/runs/3\"") && page.contains("href=\"/runs/4\""))
        let empty = try WebFixture().get("/drift")
        #expect(empty.text.contains("No verify run recorded."))
    }

    @Test func errors() throws {
        let f = try WebFixture.standard()
        for path in ["/nope", "/runs", "/runs/abc", "/runs/0", "/runs/1/x", "/api/v2/runs", "/api/v1"] {
            let page = f.get(path)
            #expect(page.status == 404, "\(path)")
        }
        let unknown = f.get("/runs/99")
        #expect(unknown.status == 404 && unknown.text.contains("no run 99 in the ledger"))
        let escapedPath = f.get("/<script>x</script>")
        #expect(escapedPath.status == 404)
        Self.expectSafe(escapedPath.text)
        let badDigest = f.get("/pushes", ["digest": "sha256:xyz"])
        #expect(badDigest.status == 400 && badDigest.text.contains("sha256:xyz"))
        for page in ["0", "-1", "abc", "1.5"] {
            let answer = f.get("/", ["page": page])
            #expect(answer.status == 400 && answer.text.contains("invalid page"), "page \(page)")
        }
        // The same ledger still answers after bad requests.
        #expect(f.get("/").status == 200)
    }

    @Test func pagination() throws {
        let f = try WebFixture()
        for i in 0..<120 { _ = try f.run(i % 2 == 0 ? "even" : "odd", at: Double(i) * 60, pushes: [("team/app", "t\(i)", .pushed)]) }
        let first = f.get("/")
        #expect(first.text.components(separatedBy: "<tr class=\"run\"").count - 1 == 50)
        #expect(first.text.contains("data-run=\"120\"") && !first.text.contains("data-run=\"70\""))
        #expect(first.text.contains("page 1 of 3") && first.text.contains("href=\"/?page=2\"") && !first.text.contains("rel=\"prev\""))
        let last = f.get("/", ["page": "3"])
        #expect(last.text.components(separatedBy: "<tr class=\"run\"").count - 1 == 20)
        #expect(last.text.contains("data-run=\"1\"") && last.text.contains("href=\"/?page=2\"") && !last.text.contains("rel=\"next\""))
        let beyond = f.get("/", ["page": "9"])
        #expect(beyond.status == 200 && beyond.text.contains("No runs recorded."))
        // The pager keeps the filters.
        let even = f.get("/", ["job": "even"])
        #expect(even.text.contains("href=\"/?job=even&amp;page=2\""))
        let pushes = f.get("/pushes", ["repository": "team/app", "page": "2"])
        #expect(pushes.text.contains("120 push(es)") && pushes.text.contains("page 2 of 3"))
        #expect(
            pushes.text.contains("href=\"/pushes?repository=team/app&amp;page=3\"")
                || pushes.text.contains("href=\"/pushes?page=3&amp;repository=team/app\""))
    }
}

/// A ledger that cannot be read (its `pushes` table dropped behind its back, with Debian's
/// sqlite3) answers 500 with the reason on every kind of path.
@Suite struct UnreadableLedgerTests {
    @Test func fiveHundred() throws {
        let f = try WebFixture.standard()
        try TestTools.run("sqlite3", [f.scratch.state, "DROP TABLE pushes"])
        let page = f.get("/pushes")
        #expect(page.status == 500 && page.type == "text/html; charset=utf-8")
        #expect(page.text.contains("the ledger could not be read") && page.text.contains("pushes"))
        PageTests.expectSafe(page.text)
        let api = f.get("/api/v1/pushes")
        #expect(api.status == 500)
        #expect(try SchemaValidator.problems(api.text, schema: "web-error-v1.schema.json") == nil)
        let metrics = f.get("/metrics")
        #expect(metrics.status == 500 && metrics.text.contains("the ledger could not be read"))
        #expect(f.get("/drift").status == 500)
        // Paths that need no ledger still answer.
        #expect(f.get("/nope").status == 404)
    }
}
