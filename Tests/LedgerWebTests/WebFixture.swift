import Foundation
import LedgerWeb
import OCI
import State
import TestSupport

/// A real SQLite ledger filled through the State API, and the web view over it.
final class WebFixture: Sendable {
    let scratch: Scratch
    let store: StateStore
    let web: LedgerWeb
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let facts = ServiceFacts(eventsReceived: 7, eventsIgnored: 2, eventsPending: 1, started: t0, version: "0.9.0-test")

    /// What registry text could hold: if a browser ran it, the page's body would get the attribute.
    static let payload = "<script>document.body.setAttribute('data-pwned','1')</script>"
    /// The digest the searches look for ("where did sha256:3f1a go?").
    static let appDigest = try! Digest(algorithm: .sha256, hex: "3f1a" + String(repeating: "7", count: 60))
    static let signature = Digest.of(Array("signature".utf8))
    static let keyID = Digest.of(Array("key".utf8)).string

    init(_ name: String = #function) throws {
        scratch = try Scratch(prefix: "pushctl-web-" + name.filter { $0.isLetter })
        store = try StateStore.open(path: scratch.state)
        web = LedgerWeb(ledger: store, service: { WebFixture.facts })
    }

    /// A run begun and finished at chosen times.
    func run(
        _ job: String, kind: RunKind = .apply, status: RunStatus = .ok, at offset: TimeInterval, error: String? = nil,
        pushes: [(String, String, PushStatus)] = [], digest: Digest? = WebFixture.appDigest
    ) throws -> RunID {
        let started = Self.t0.addingTimeInterval(offset)
        let id = try store.beginRun(
            job: job, file: "jobs/\(job).yaml", fileDigest: Digest.of(Array(job.utf8)), kind: kind, pushctlVersion: "0.9.0-test",
            started: started)
        try store.recordPushes(
            pushes.enumerated().map { index, push in
                Self.push(
                    id, repository: push.0, tag: push.1, status: push.2, digest: digest, started: started.addingTimeInterval(Double(index)))
            })
        try store.finishRun(
            id, status: status, exitCode: status == .ok || status == .verificationOK ? 0 : 1, error: error,
            ended: started.addingTimeInterval(40))
        return id
    }

    static func push(
        _ run: RunID, repository: String, tag: String, status: PushStatus, digest: Digest?, started: Date,
        host: String = "registry.example.com"
    ) -> PushRecord {
        var record = PushRecord(
            runID: run, planItemID: "\(repository):\(tag)", source: "docker://upstream.example.com/\(repository):\(tag)",
            sourceDigest: digest,
            registryName: "mirror", registryHost: host, endpoint: "https://\(host)", repository: repository, tag: tag,
            pushedDigest: status == .pushed || status == .unchanged ? digest : nil, mediaType: "application/vnd.oci.image.manifest.v1+json",
            size: 2048, status: status, bytesUploaded: status == .pushed ? 4096 : 0, blobsUploaded: status == .pushed ? 2 : 0,
            blobsMounted: 1, blobsPresent: 1, error: status == .failed ? "HTTP 500 from \(host): \(payload)" : nil,
            started: started, ended: started.addingTimeInterval(1.5))
        if status == .rejected { record.verdict = "refused: no signature by a trusted key" }
        if status == .pushed && tag == "1.0" { record.verdict = "verified by 1 key"; record.verifiedKeys = [keyID] }
        return record
    }

    /// Runs 1–4: an ok apply with a verified and signed push, a failed apply holding `<script>`
    /// in a tag and its errors, and two verify runs (one with drift).
    static func standard(_ name: String = #function) throws -> WebFixture {
        let f = try WebFixture(name)
        let ok = try f.run("nightly", at: 0, pushes: [("team/app", "1.0", .pushed), ("team/app", "latest", .unchanged)])
        // pushctl signed what it pushed to 1.0 (its source was verified: `push`).
        try f.store.recordSigning(
            SigningRecord(
                runID: ok, planItemID: "team/app:1.0", registryHost: "registry.example.com", repository: "team/app",
                pushedDigest: appDigest,
                signatures: [signature], error: nil))
        _ = try f.run(
            "release", status: .failed, at: 600, error: "1 push failed: \(payload)",
            pushes: [("team/web", payload, .failed), ("team/api", "2.0", .rejected)], digest: Digest.of(Array("web".utf8)))
        let drift = try f.run("nightly", kind: .verify, status: .drift, at: 1200)
        try f.store.recordVerifyChecks(
            [
                check("1.0", expected: appDigest.string, current: appDigest.string, status: "ok"),
                check("latest", expected: appDigest.string, current: Digest.of(Array("other".utf8)).string, status: "changed"),
                check("old", expected: appDigest.string, current: nil, status: "gone"),
                check("broken", expected: appDigest.string, current: nil, status: "error", error: "registry said \(payload)")
            ], run: drift)
        let clean = try f.run("release", kind: .verify, status: .verificationOK, at: 1300)
        try f.store.recordVerifyChecks([check("2.0", expected: appDigest.string, current: appDigest.string, status: "ok")], run: clean)
        return f
    }

    static func check(_ tag: String, expected: String, current: String?, status: String, error: String? = nil) -> VerifyCheckRecord {
        VerifyCheckRecord(
            registryName: "mirror", host: "registry.example.com", endpoint: "https://registry.example.com", repository: "team/app",
            tag: tag,
            expected: expected, current: current, status: status, error: error, pushedInRun: 1)
    }

    /// The answer as text, with its status and content type.
    func get(_ path: String, _ query: [String: String] = [:]) -> (status: Int, type: String, text: String) {
        let response = web.respond(path: path, query: query)
        return (response.status, response.contentType, String(decoding: response.body, as: UTF8.self))
    }
}
