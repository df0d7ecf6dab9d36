import Foundation
import Testing
import Threading
@testable import State

/// Group commit of push rows (docs/state.md "Group commit"): every caller's rows are committed
/// before its `record` returns, with the blob locations its push established, and a failing write
/// fails only the caller whose rows it holds.
@Suite struct PushRecordGroupTests {
    @Test(arguments: LedgerBackend.allCases)
    func concurrentCallersAreAllRecorded(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun()
        let group = PushRecordGroup(ledger: store)
        let failures = LockedValue<[String]>([])
        forEachConcurrently(Array(0..<40), width: 8) { n in
            do throws(StateError) {
                try group.record(
                    [push(run: run, repository: "team/app\(n)", tag: "a"), push(run: run, repository: "team/app\(n)", tag: "b")],
                    blobs: [Self.location(n)])
            } catch {
                failures.withLock { $0.append("\(n): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let rows = try store.lastSuccessfulPushes(job: "nightly")
        #expect(rows.count == 80)
        #expect(Set(rows.map { "\($0.repository):\($0.tag)" }).count == 80)
        // Each push's blob locations went in with its rows.
        for n in 0..<40 {
            #expect(try store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app\(n)", digest: digest("blob \(n)")))
        }
    }

    /// A blob location of push `n` (in its repository `team/app<n>`).
    static func location(_ n: Int) -> BlobLocation {
        BlobLocation(registryHost: "registry.example.com", repository: "team/app\(n)", digest: digest("blob \(n)"), identity: "id")
    }

    /// Rows of a run that does not exist break the foreign key: the group's transaction fails, and
    /// each caller's rows are written again alone, so only that caller sees the error.
    @Test(arguments: LedgerBackend.allCases)
    func aFailingWriteFailsOnlyItsCaller(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun()
        let group = PushRecordGroup(ledger: store)
        let outcomes = LockedValue<[Int: Bool]>([:])
        forEachConcurrently(Array(0..<24), width: 8) { n in
            let target = n == 5 ? RunID(rawValue: 9_999) : run
            let ok: Bool
            do throws(StateError) {
                try group.record([push(run: target, repository: "team/app\(n)")], blobs: [Self.location(n)])
                ok = true
            } catch {
                ok = false
            }
            outcomes.withLock { $0[n] = ok }
        }
        let all = outcomes.withLock { $0 }
        #expect(all.filter { !$0.value }.map(\.key) == [5])
        #expect(try store.lastSuccessfulPushes(job: "nightly").count == 23)
        // A push is recorded whole or not at all: the failed caller's blob location is not there.
        for n in 0..<24 {
            #expect(
                try store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app\(n)", digest: digest("blob \(n)"))
                    == (n != 5), "\(n)")
        }
    }
}
