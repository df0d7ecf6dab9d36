import Foundation
import OCI
import Testing
@testable import State

@Suite struct HistoryTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Two jobs, three runs; digests chosen so that "abc" is ambiguous and "abc1" is not.
    private func populated(_ backend: LedgerBackend) throws -> (StateStore, [RunID]) {
        let store = try backend.open()
        let r1 = try store.testRun(job: "nightly", started: t0)
        try store.recordPush(push(run: r1, repository: "team/app", tag: "1.0", digest: try digest(hexPrefix: "abc1"), started: t0))
        try store.recordPush(
            push(run: r1, repository: "team/app", tag: "latest", digest: try digest(hexPrefix: "abc1"), started: t0.addingTimeInterval(1)))
        try store.finishRun(r1, status: .ok, exitCode: 0, ended: t0.addingTimeInterval(5))
        let r2 = try store.testRun(job: "release", started: t0.addingTimeInterval(3600))
        try store.recordPush(
            push(run: r2, repository: "team/lib", tag: "2.0", digest: try digest(hexPrefix: "abc2"), started: t0.addingTimeInterval(3601)))
        try store.recordPush(
            push(
                run: r2, repository: "team/lib", tag: "2.1", host: "mirror.example", digest: try digest(hexPrefix: "def"), status: .failed,
                started: t0.addingTimeInterval(3602)))
        try store.recordPush(
            push(
                run: r2, repository: "team/app", tag: "1.0", digest: try digest(hexPrefix: "abc1"), status: .unchanged,
                started: t0.addingTimeInterval(3603)))
        try store.finishRun(r2, status: .failed, exitCode: 1, ended: t0.addingTimeInterval(3700))
        // A run that failed before pushing anything.
        let r3 = try store.testRun(job: "nightly", started: t0.addingTimeInterval(7200))
        try store.finishRun(r3, status: .failed, exitCode: 2, ended: t0.addingTimeInterval(7201))
        return (store, [r1, r2, r3])
    }

    @Test(arguments: LedgerBackend.allCases) func newestFirstWithPushlessRuns(backend: LedgerBackend) throws {
        let (store, runs) = try populated(backend)
        let rows = try store.history(HistoryFilter())
        #expect(rows.map(\.run.id) == [runs[2], runs[1], runs[1], runs[1], runs[0], runs[0]])
        #expect(rows.first?.push == nil)
        #expect(rows.map { $0.push?.tag } == [nil, "1.0", "2.1", "2.0", "latest", "1.0"])
        #expect(try store.history(HistoryFilter(limit: 2)).map { $0.push?.tag } == [nil, "1.0"])
    }

    @Test(arguments: LedgerBackend.allCases) func filters(backend: LedgerBackend) throws {
        let (store, runs) = try populated(backend)
        func tags(_ f: HistoryFilter) throws -> [String?] { try store.history(f).map { $0.push?.tag } }
        #expect(try tags(HistoryFilter(job: "nightly")) == [nil, "latest", "1.0"])
        #expect(try tags(HistoryFilter(repository: "team/lib")) == ["2.1", "2.0"])
        #expect(try tags(HistoryFilter(repository: "mirror.example/team/lib")) == ["2.1"])
        #expect(try tags(HistoryFilter(tag: "1.0")) == ["1.0", "1.0"])
        #expect(try tags(HistoryFilter(status: .failed)) == ["2.1"])
        #expect(try tags(HistoryFilter(status: .unchanged)) == ["1.0"])
        #expect(try tags(HistoryFilter(status: .pushed)) == ["2.0", "latest", "1.0"])
        #expect(try tags(HistoryFilter(since: t0.addingTimeInterval(3602))) == [nil, "1.0", "2.1"])
        #expect(try tags(HistoryFilter(job: "release", tag: "1.0")) == ["1.0"])
        #expect(try store.history(HistoryFilter(job: "release", tag: "1.0")).first?.run.id == runs[1])
        #expect(try tags(HistoryFilter(job: "nobody")).isEmpty)
    }

    /// `--until`, `--registry`, `--kind` and `--status interrupted` (a run-level status).
    @Test(arguments: LedgerBackend.allCases) func filtersByTimeRegistryKindAndRunStatus(backend: LedgerBackend) throws {
        let (store, runs) = try populated(backend)
        func tags(_ f: HistoryFilter) throws -> [String?] { try store.history(f).map { $0.push?.tag } }
        var until = HistoryFilter()
        until.until = t0.addingTimeInterval(3602)
        #expect(try tags(until) == ["2.0", "latest", "1.0"])
        var registry = HistoryFilter()
        registry.registry = "mirror.example"
        #expect(try tags(registry) == ["2.1"])
        registry.registry = "main"
        #expect(try tags(registry).count == 5)

        let verify = try store.testRun(job: "nightly", started: t0.addingTimeInterval(9000), kind: .verify)
        try store.finishRun(verify, status: .verificationOK, exitCode: 0)
        var kind = HistoryFilter()
        kind.kind = .verify
        #expect(try store.history(kind).map(\.run.id) == [verify])

        let interrupted = try store.testRun(job: "nightly", started: t0.addingTimeInterval(9500))
        try store.recordPush(push(run: interrupted, tag: "9", started: t0.addingTimeInterval(9501)))
        try store.finishRun(interrupted, status: .interrupted, exitCode: 130)
        var status = HistoryFilter()
        status.runStatus = .interrupted
        #expect(try store.history(status).map(\.run.id) == [interrupted])
        #expect(try store.history(status).map { $0.push?.tag } == ["9"])
        #expect(!runs.contains(interrupted))
    }

    @Test(arguments: LedgerBackend.allCases) func digestFilterAcceptsUnambiguousPrefixes(backend: LedgerBackend) throws {
        let (store, _) = try populated(backend)
        let full = try digest(hexPrefix: "abc1").string
        func targets(_ d: String) throws -> [String] { try store.history(HistoryFilter(digest: d)).compactMap { $0.push?.target } }
        let expected = ["registry.example.com/team/app:1.0", "registry.example.com/team/app:latest", "registry.example.com/team/app:1.0"]
        #expect(try targets(full) == expected)
        #expect(try targets("abc1") == expected)
        #expect(try targets("sha256:ABC1") == expected)
        #expect(try targets("sha256:abc2") == ["registry.example.com/team/lib:2.0"])
        #expect(try targets("ffff").isEmpty)
        #expect {
            _ = try store.history(HistoryFilter(digest: "abc"))
        } throws: { error in
            guard case StateError.ambiguousDigest("abc", let candidates)? = error as? StateError else { return false }
            return candidates == [try! digest(hexPrefix: "abc1").string, try! digest(hexPrefix: "abc2").string]
        }
        #expect(throws: StateError.self) { _ = try store.history(HistoryFilter(digest: "md5:abc")) }
        #expect(throws: StateError.self) { _ = try store.history(HistoryFilter(digest: "xyz")) }
    }

    @Test(arguments: LedgerBackend.allCases) func severalDatabasesReadAsOne(backend: LedgerBackend) throws {
        let a = try backend.open("shardA"), b = try backend.open("shardB")
        let ra = try a.testRun(job: "j", started: t0), rb = try b.testRun(job: "j", started: t0)
        try a.recordPush(push(run: ra, tag: "a1", digest: try digest(hexPrefix: "aa1"), started: t0))
        try b.recordPush(push(run: rb, tag: "b1", digest: try digest(hexPrefix: "aa2"), started: t0.addingTimeInterval(5)))
        try a.recordPush(push(run: ra, tag: "a2", digest: try digest(hexPrefix: "bb"), started: t0.addingTimeInterval(10)))
        let rows = try LedgerHistory.rows(HistoryFilter(), in: [a, b])
        #expect(rows.map { $0.push?.tag } == ["a2", "b1", "a1"])
        #expect(rows.map(\.database) == [a.path, b.path, a.path])
        // Each store alone sees one "aa" digest; together the prefix is ambiguous.
        #expect(try a.history(HistoryFilter(digest: "aa")).count == 1)
        #expect(throws: StateError.self) { _ = try LedgerHistory.rows(HistoryFilter(digest: "aa"), in: [a, b]) }
        #expect(try LedgerHistory.rows(HistoryFilter(limit: 1), in: [a, b]).map { $0.push?.tag } == ["a2"])
    }

    @Test(arguments: LedgerBackend.allCases) func pruneRemovesOldRunsButKeepsBlobLocations(backend: LedgerBackend) throws {
        let (store, runs) = try populated(backend)
        try store.recordBlob(
            registryHost: "registry.example.com", repository: "team/app", digest: digest("layer"), identity: "i",
            seen: t0.addingTimeInterval(-86400 * 365))
        let still = try store.testRun(job: "long", started: t0.addingTimeInterval(-86400))  // running: never pruned
        let result = try store.prune(olderThan: t0.addingTimeInterval(1800), keepRuns: nil)
        #expect(result == PruneResult(runsRemoved: 1, pushesRemoved: 2))
        #expect(throws: StateError.self) { _ = try store.run(.id(runs[0])) }
        #expect(try store.run(.id(still)).run.status == .running)
        #expect(try store.history(HistoryFilter()).count == 5)
        #expect(try store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer")))

        let kept = try store.prune(olderThan: nil, keepRuns: 1)
        #expect(kept == PruneResult(runsRemoved: 1, pushesRemoved: 3))
        #expect(try store.run(.last).run.id == runs[2])
        #expect(try store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer")))
    }

    @Test(arguments: LedgerBackend.allCases) func pruneWithBothRulesKeepsWhatEitherKeeps(backend: LedgerBackend) throws {
        let (store, runs) = try populated(backend)
        // Older than t0+2h: runs 0 and 1. Newest 2: runs 2 and 1. Removed: only run 0.
        let result = try store.prune(olderThan: t0.addingTimeInterval(7000), keepRuns: 2)
        #expect(result.runsRemoved == 1)
        #expect(try store.history(HistoryFilter()).map(\.run.id).allSatisfy { $0 != runs[0] })
    }
}
