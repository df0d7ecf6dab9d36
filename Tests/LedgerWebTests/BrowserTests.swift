import Foundation
import LedgerWeb
import Testing
import TestSupport

/// The pages in a real browser (Debian's headless Chromium). The HTTP server is `serve`'s, so each
/// page is rendered to a file and loaded via file://; the DOM Chromium returns is what a person
/// sees. Screenshots of each page (phone and desktop sizes) go to `.build/serve-screenshots/`.
@Suite(.serialized) struct BrowserTests {
    static let screenshots = packageRoot + "/.build/serve-screenshots"
    /// What the DOM holds if `WebFixture.payload` ran (the escaped text only holds `'data-pwned','1'`).
    static let ranMark = "data-pwned=\"1\""

    /// The control: the same payload as markup does run in this browser, and the check sees it.
    @Test func payloadAsMarkupWouldRun() throws {
        let scratch = try Scratch(prefix: "pushctl-web-control")
        let file = try scratch.write("control.html", "<!DOCTYPE html><html><body><p>x</p>\(WebFixture.payload)</body></html>")
        let dom = try HeadlessChromium(scratch: scratch).dumpDOM("file://" + file)
        #expect(dom.contains(Self.ranMark))
    }

    /// Renders `path` into the scratch folder, loads it in Chromium and returns the DOM; writes
    /// the screenshot `NAME.png`.
    func load(_ f: WebFixture, _ name: String, _ path: String, _ query: [String: String] = [:]) throws -> String {
        let response = f.web.respond(path: path, query: query)
        #expect(response.status == 200, "\(path)")
        let file = f.scratch.sub(name + ".html")
        try Data(response.body).write(to: URL(fileURLWithPath: file))
        let chromium = HeadlessChromium(scratch: f.scratch)
        let dom = try chromium.dumpDOM("file://" + file)
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        // A phone (the tables become cards) and a desktop window.
        for (size, width, height) in [("phone", 412, 915), ("desktop", 1280, 900)] {
            let png = Self.screenshots + "/\(name)-\(size).png"
            try chromium.screenshot("file://" + file, to: png, width: width, height: height)
            print("screenshot: \(png)")
        }
        // Nothing ran: no script element was created, and the payload's attribute is not on the body.
        #expect(!dom.lowercased().contains("<script"), "\(name): a script element in the DOM")
        #expect(!dom.contains(Self.ranMark), "\(name): registry text ran as script")
        return dom
    }

    @Test func runList() throws {
        let f = try WebFixture.standard()
        let dom = try load(f, "runs", "/")
        #expect(dom.components(separatedBy: "<tr class=\"run\"").count - 1 == 4)
        #expect(dom.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        // The failed run's error is text: the browser shows the tag characters.
        #expect(dom.contains("1 push failed: &lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;"))
    }

    @Test func oneRun() throws {
        let f = try WebFixture.standard()
        let ok = try load(f, "run-ok", "/runs/1")
        #expect(ok.contains("verify: verified by 1 key") && ok.contains(WebFixture.signature.string))
        let failed = try load(f, "run-failed-script-text", "/runs/2")
        #expect(
            failed.contains(
                "<code>registry.example.com/team/web:&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;</code>"))
        #expect(failed.contains("refused: no signature by a trusted key"))
        let verify = try load(f, "run-verify", "/runs/3")
        #expect(verify.components(separatedBy: "<tr class=\"check\"").count - 1 == 4)
    }

    @Test func digestSearch() throws {
        let f = try WebFixture.standard()
        let dom = try load(f, "pushes-digest-search", "/pushes", ["digest": "sha256:3f1a"])
        #expect(dom.components(separatedBy: "<tr class=\"push\"").count - 1 == 2)
        #expect(dom.contains("value=\"sha256:3f1a\""))
        #expect(dom.contains(WebFixture.appDigest.string))
    }

    @Test func drift() throws {
        let f = try WebFixture.standard()
        let dom = try load(f, "drift", "/drift")
        #expect(dom.components(separatedBy: "<section class=\"job\"").count - 1 == 2)
        #expect(dom.contains("s-changed") && dom.contains("s-gone"))
        #expect(dom.contains("registry said &lt;script&gt;"))
    }
}
