import Threading
import Curl
import Foundation
import OCI
import PusherFakes
import Testing

@testable import Pusher

/// The run's one rule for manifests (`TransferLedger`, docs/run.md "Blobs and manifests once per
/// repository and run"), pinned down on its own and through the executor over fakes. The real
/// registry case is `CrossReferencePushIntegrationTests`.
@Suite struct ManifestRuleTests {
    let place = TransferLedger.Place(endpoint: "http://127.0.0.1:5000", repository: "team/app")
    let child = Digest.of(Array("child".utf8))
    let parent = Digest.of(Array("parent".utf8))

    /// Runs `second` on another thread while `first`'s body holds its records, and returns the
    /// order in which the bodies started and ended.
    func order(
        _ ledger: TransferLedger,
        first: (writes: [TransferLedger.Record], reads: [TransferLedger.Record]),
        second: (writes: [TransferLedger.Record], reads: [TransferLedger.Record])
    ) throws -> [String] {
        let log = LogBox()
        let entered = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let one = ledger.newOwner()
        let two = ledger.newOwner()
        try ledger.access(place, owner: one, for: "first", writes: first.writes, reads: first.reads, awaiting: []) {
            log.append("first starts")
            Thread {
                entered.signal()
                try? ledger.access(place, owner: two, for: "second", writes: second.writes, reads: second.reads, awaiting: []) {
                    log.append("second starts")
                }
                done.signal()
            }.start()
            entered.wait()
            // Give the second request every chance to start early; the rule says it must not.
            Thread.sleep(forTimeInterval: 0.2)
            log.append("first ends")
        }
        done.wait()
        return log.entries
    }

    @Test func aManifestIsNotRewrittenWhileAParentsPutReadsIt() throws {
        let ledger = TransferLedger()
        // A parent's PUT reads the child's records; a tag PUT of the child rewrites them.
        let log = try order(
            ledger, first: ([.manifest(parent)], [.manifest(child)]), second: ([.manifest(child), .tag("child")], []))
        #expect(log == ["first starts", "first ends", "second starts"])
    }

    @Test func aParentsPutWaitsForAChildBeingRewritten() throws {
        let ledger = TransferLedger()
        let log = try order(
            ledger, first: ([.manifest(child), .tag("child")], []), second: ([.manifest(parent)], [.manifest(child)]))
        #expect(log == ["first starts", "first ends", "second starts"])
    }

    @Test func oneTagIsWrittenByOneRequestAtATime() throws {
        let ledger = TransferLedger()
        let log = try order(ledger, first: ([.tag("sha256-x")], []), second: ([.tag("sha256-x")], []))
        #expect(log == ["first starts", "first ends", "second starts"])
    }

    /// Two parents' PUTs read one child at once: the second runs while the first holds the child.
    @Test func readersOfOneManifestDoNotWaitForEachOther() throws {
        let ledger = TransferLedger()
        let one = ledger.newOwner()
        let two = ledger.newOwner()
        let done = DispatchSemaphore(value: 0)
        var secondRan = false
        try ledger.access(place, owner: one, for: "first", writes: [.manifest(parent)], reads: [.manifest(child)], awaiting: []) {
            Thread {
                try? ledger.access(place, owner: two, for: "second", writes: [], reads: [.manifest(child)], awaiting: []) {}
                done.signal()
            }.start()
            // Waiting here would never end if the second reader waited for the first.
            secondRan = done.wait(timeout: .now() + 60) == .success
        }
        #expect(secondRan)
    }

    @Test func aManifestIsPutOnceAndAFailureIsFinalForTheRun() throws {
        let ledger = TransferLedger()
        let one = ledger.newOwner()
        let two = ledger.newOwner()
        guard case .send = try ledger.claimManifest(place, child, owner: one) else { Issue.record("first claim"); return }
        ledger.finishManifest(place, child, failure: StepFailure(.manifest(reference: "x", error: "DENIED"), kind: .final))
        guard case .failed(let failure) = try ledger.claimManifest(place, child, owner: two) else {
            Issue.record("a failed PUT is not sent again in the run")
            return
        }
        #expect(failure.description.contains("DENIED"))
        // A parent that needs it fails, naming it, without being sent.
        var sent = false
        let refused = #expect(throws: StepFailure.self) {
            try ledger.access(place, owner: two, for: parent.string, writes: [.manifest(parent)], reads: [], awaiting: [child]) {
                sent = true
            }
        }
        #expect(refused?.kind == .final)
        #expect(refused?.description == "manifest \(parent): not put, because its child \(child) failed in this run: manifest x: DENIED")
        #expect(!sent)
        // Another endpoint is another place: tried there afresh.
        let mirror = TransferLedger.Place(endpoint: "http://127.0.0.1:5001", repository: "team/app")
        guard case .send = try ledger.claimManifest(mirror, child, owner: two) else { Issue.record("mirror claim"); return }
    }

    /// Owners waiting for each other's claims are refused with the cycle, not left hanging.
    @Test func aWaitThatWouldCloseACycleIsRefused() throws {
        let ledger = TransferLedger()
        let one = ledger.newOwner()
        let two = ledger.newOwner()
        _ = try ledger.claimManifest(place, parent, owner: one)
        _ = try ledger.claimManifest(place, child, owner: two)
        let finished = DispatchSemaphore(value: 0)
        let firstResult = LogBox()
        Thread {
            do {
                try ledger.access(place, owner: one, for: "p", writes: [.manifest(parent)], reads: [], awaiting: [child]) {}
                firstResult.append("put")
            } catch {
                firstResult.append("\(error)")
            }
            finished.signal()
        }.start()
        while !ledger.waitingOwners.contains(one) { Thread.sleep(forTimeInterval: 0.01) }
        let refused = #expect(throws: StepFailure.self) {
            try ledger.access(place, owner: two, for: "c", writes: [.manifest(child)], reads: [], awaiting: [parent]) {}
        }
        #expect(refused?.description.contains("cycle") == true, "\(String(describing: refused))")
        ledger.finishManifest(place, child, failure: nil)
        finished.wait()
        #expect(firstResult.entries == ["put"])
    }

    /// Through the executor: an index and its child pushed as two items, the child's PUT refused.
    /// The child is PUT once (by digest when the index's push claims it first, else by the child
    /// item's tag), the index never, and both pushes fail naming the child.
    @Test func aFailedChildFailsTheItemsThatNeedIt() {
        let registry = FakeRegistry()
        let image = makeImage(seed: "child")
        let index = makeIndex(over: [image], seed: "parent")
        registry.refuseManifests = [image.root.digest]
        var jobs = [makeJob(index, tags: ["index"]), makeJob(image, tags: ["image"])]
        jobs[1].target.itemID = "image"
        let outcomes = TestExecutor(
            executor: Executor(state: FakeState(), sink: EventLog(), cancellation: CancellationFlag()),
            registries: ["http://127.0.0.1:5000": registry]
        ).run(jobs, images: 2)
        #expect(outcomes.map(\.status) == [.failed, .failed])
        let puts = registry.requestLog.filter { $0.hasPrefix("PUT manifest") }
        let byDigest = puts == ["PUT manifest team/app:\(image.root.digest)"]
        #expect(byDigest || puts == ["PUT manifest team/app:image"], "\(puts)")
        #expect(outcomes[0].error?.contains(image.root.digest.string) == true, "\(outcomes[0].error ?? "")")
        let childNamed = byDigest ? image.root.digest.string : "manifest image:"
        #expect(outcomes[1].error?.contains(childNamed) == true, "\(outcomes[1].error ?? "")")
    }

    /// Indexes sharing a child, pushed at once: the child is stored once, every index after it.
    @Test func indexesSharingAChildPutItOnceAndAfterwards() {
        let registry = FakeRegistry()
        let image = makeImage(seed: "shared")
        var jobs = [makeJob(image, tags: ["shared"])]
        for n in 0..<8 {
            var job = makeJob(makeIndex(over: [image, makeImage(seed: "own-\(n)")], seed: "index-\(n)"), tags: ["index-\(n)"])
            job.target.itemID = "index-\(n)"
            jobs.append(job)
        }
        let outcomes = TestExecutor(
            executor: Executor(state: FakeState(), sink: EventLog(), cancellation: CancellationFlag()),
            registries: ["http://127.0.0.1:5000": registry]
        ).run(jobs, images: 9)
        #expect(outcomes.allSatisfy { $0.status == .pushed }, "\(outcomes.map(\.error))")
        // The child goes up once: by digest when an index's push claims it first, else by the
        // child item's tag (docs/run.md rule 1); either way before every index.
        let puts = registry.requestLog.filter { $0.hasPrefix("PUT manifest") }
        let byDigest = puts.filter { $0 == "PUT manifest team/app:\(image.root.digest)" }.count
        #expect(byDigest <= 1, "\(puts)")
        let child = puts.firstIndex { $0 == "PUT manifest team/app:\(image.root.digest)" || $0 == "PUT manifest team/app:shared" }
        let firstIndex = puts.firstIndex { $0.hasPrefix("PUT manifest team/app:index-") }
        #expect(child != nil && firstIndex != nil && child! < firstIndex!, "\(puts)")
    }
}

final class LogBox: @unchecked Sendable {
    private let lock = Lock()
    private var all: [String] = []
    func append(_ entry: String) { lock.withLock { all.append(entry) } }
    var entries: [String] { lock.withLock { all } }
}
