import Foundation
import OCI
import Testing
@testable import State

/// Not a timed assertion: fills 100,000 pushes, checks every filter's result counts, and prints
/// how long each filter took, so a regression (a missing index) shows in the test log.
@Suite struct HistoryBenchmarkTests {
    @Test(arguments: LedgerBackend.allCases) func hundredThousandPushes(backend: LedgerBackend) throws {
        let store = try backend.open()
        // The filled file is tens of megabytes: don't leave it behind (the server's folder goes with the server).
        defer { if backend == .sqlite { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) } }
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let runCount = 1_000, pushesPerRun = 100
        let digests = (0..<50).map { digest("manifest \($0)") }
        let jobs = ["nightly", "release", "hotfix", "mirror"]
        var records = [PushRecord]()
        records.reserveCapacity(runCount * pushesPerRun)
        let fillStart = Date()
        for r in 0..<runCount {
            let started = t0.addingTimeInterval(Double(r) * 600)
            let run = try store.testRun(job: jobs[r % jobs.count], started: started)
            for p in 0..<pushesPerRun {
                let status: PushStatus = p % 50 == 0 ? .failed : (p % 5 == 0 ? .unchanged : .pushed)
                records.append(
                    push(
                        run: run, repository: "team/repo\(p % 20)", tag: "v\(r % 10).\(p % 5)",
                        digest: digests[(r + p) % digests.count], status: status,
                        started: started.addingTimeInterval(Double(p))))
            }
        }
        try store.recordPushes(records)
        print("bench \(backend): filled \(records.count) pushes in \(runCount) runs in \(elapsed(since: fillStart))")

        let last = t0.addingTimeInterval(Double(runCount) * 600)
        func measure(_ name: String, _ filter: HistoryFilter) throws -> [HistoryRow] {
            let start = Date()
            let rows = try store.history(filter)
            print("bench \(backend): history \(name): \(rows.count) rows in \(elapsed(since: start))")
            return rows
        }
        // Expected counts come from the records in memory, computed independently of SQL.
        let jobOfRun = Dictionary(uniqueKeysWithValues: (0..<runCount).map { (RunID(Int64($0 + 1)), jobs[$0 % jobs.count]) })
        func expected(_ match: (PushRecord) -> Bool) -> Int { records.filter(match).count }
        #expect(try measure("all, limit 50", HistoryFilter(limit: 50)).count == 50)
        #expect(try measure("all", HistoryFilter()).count == records.count)
        #expect(try measure("--job release", HistoryFilter(job: "release")).count == expected { jobOfRun[$0.runID] == "release" })
        #expect(
            try measure("--repository team/repo7", HistoryFilter(repository: "team/repo7")).count
                == expected { $0.repository == "team/repo7" })
        #expect(try measure("--tag v3.2", HistoryFilter(tag: "v3.2")).count == expected { $0.tag == "v3.2" })
        let withDigest = expected { $0.pushedDigest == digests[0] || $0.sourceDigest == digests[0] }
        #expect(try measure("--digest (full)", HistoryFilter(digest: digests[0].string)).count == withDigest)
        #expect(try measure("--digest (prefix)", HistoryFilter(digest: String(digests[0].hex.prefix(10)))).count == withDigest)
        #expect(try measure("--status failed", HistoryFilter(status: .failed)).count == expected { $0.status == .failed })
        let since = last.addingTimeInterval(-6000)
        #expect(try measure("--since (last 10 runs)", HistoryFilter(since: since)).count == expected { $0.started >= since })
        #expect(
            try measure("--job --tag --status", HistoryFilter(job: "nightly", tag: "v0.0", status: .unchanged)).count
                == expected { jobOfRun[$0.runID] == "nightly" && $0.tag == "v0.0" && $0.status == .unchanged })
        let showStart = Date()
        #expect(try store.run(.last).pushes.count == 100)
        print("bench \(backend): show last in \(elapsed(since: showStart))")
        let lastStart = Date()
        #expect(try store.lastSuccessfulPush(registryHost: "registry.example.com", repository: "team/repo1", tag: "v9.1") != nil)
        print("bench \(backend): lastSuccessfulPush in \(elapsed(since: lastStart))")
    }

    private func elapsed(since start: Date) -> String {
        String(format: "%.1f ms", Date().timeIntervalSince(start) * 1000)
    }
}
