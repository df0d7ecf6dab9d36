import Foundation
import LedgerWeb
import OCI
import State
import Testing

/// Not a timed assertion: 100,000 pushes in 1,000 runs, then every page and API answer once,
/// printing how long each took (a missing index shows as a figure in the log, docs/web.md).
@Suite struct WebBenchmarkTests {
    @Test func hundredThousandPushes() throws {
        let f = try WebFixture()
        let digests = (0..<50).map { Digest.of(Array("manifest \($0)".utf8)) }
        var records = [PushRecord]()
        records.reserveCapacity(100_000)
        let fillStart = Date()
        for r in 0..<1_000 {
            let started = WebFixture.t0.addingTimeInterval(Double(r) * 600)
            let run = try f.store.beginRun(
                job: ["nightly", "release", "hotfix", "mirror"][r % 4], file: "jobs/j.yaml", fileDigest: digests[0],
                kind: r % 10 == 9 ? .verify : .apply, pushctlVersion: "0.9.0-test", started: started)
            for p in 0..<100 {
                records.append(
                    WebFixture.push(
                        run, repository: "team/repo\(p % 20)", tag: "v\(r % 10).\(p % 5)", status: p % 50 == 0 ? .failed : .pushed,
                        digest: digests[(r + p) % digests.count], started: started.addingTimeInterval(Double(p))))
            }
            try f.store.finishRun(run, status: .ok, exitCode: 0, error: nil, ended: started.addingTimeInterval(120))
        }
        try f.store.recordPushes(records)
        print("bench: filled \(records.count) pushes in 1000 runs in \(Self.elapsed(since: fillStart))")

        let prefix = String(digests[7].string.prefix(13))
        let requests: [(String, [String: String])] = [
            ("/", [:]), ("/", ["page": "20"]), ("/", ["job": "release"]), ("/runs/1000", [:]),
            ("/pushes", [:]), ("/pushes", ["page": "1000"]), ("/pushes", ["page": "2000"]),
            ("/pushes", ["digest": prefix]), ("/pushes", ["digest": prefix, "page": "40"]),
            ("/pushes", ["repository": "team/repo7"]), ("/pushes", ["tag": "v3.2"]),
            ("/pushes", ["repository": "registry.example.com/team/repo7", "tag": "v3.2"]),
            ("/drift", [:]), ("/metrics", [:]),
            ("/api/v1/runs", [:]), ("/api/v1/pushes", ["digest": prefix]), ("/api/v1/runs/500", [:])
        ]
        for (path, query) in requests {
            let start = Date()
            let response = f.web.respond(path: path, query: query)
            let took = Self.elapsed(since: start)
            #expect(response.status == 200, "\(path) \(query)")
            let shown = query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            print("bench: \(path)\(shown.isEmpty ? "" : "?" + shown): \(response.body.count) bytes in \(took)")
        }
        // The ledger queries alone (what another store must match), without rendering.
        func query<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            let result = try body()
            print("bench: ledger \(name) in \(Self.elapsed(since: start))")
            return result
        }
        _ = try query("runSummaries page 1") { try f.store.runSummaries(RunQuery()) }
        _ = try query("runSummaries page 20") { try f.store.runSummaries(RunQuery(page: LedgerPage(number: 20))) }
        _ = try query("pushPage page 1") { try f.store.pushPage(PushQuery()) }
        _ = try query("pushPage page 2000") { try f.store.pushPage(PushQuery(page: LedgerPage(number: 2000))) }
        _ = try query("pushPage repository") { try f.store.pushPage(PushQuery(repository: "team/repo7")) }
        _ = try query("latestVerifyRuns") { try f.store.latestVerifyRuns() }
        _ = try query("statistics") { try f.store.statistics() }
        // The digest search finds every push of that digest (2,000 of the 100,000).
        let page = try query("pushPage digest prefix") { try f.store.pushPage(PushQuery(digestPrefix: prefix)) }
        #expect(page.total == records.filter { $0.sourceDigest == digests[7] }.count)
    }

    static func elapsed(since start: Date) -> String { String(format: "%.1f ms", Date().timeIntervalSince(start) * 1000) }
}
