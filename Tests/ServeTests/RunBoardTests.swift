import Foundation
import Serve
import State
import Testing

/// The runner's rules without I/O: one run at a time, no overlap of a job with itself, events
/// coalesced (docs/serve.md "Runs").
struct RunBoardTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func event(_ id: String) -> EventRecord {
        EventRecord(id: id, received: t0, action: "push", repository: "lib/app", tag: "1", digest: nil, host: nil)
    }

    @Test func aScheduledJobStillRunningIsSkippedNotQueuedTwice() {
        var board = RunBoard(quiet: 2, maxWait: 10)
        let r1 = board.offer(job: "nightly", due: Self.t0)
        #expect(r1)
        let r2 = board.next(at: Self.t0).work
        #expect(r2 == .schedule(job: "nightly", due: Self.t0))
        // Due again while it runs: skipped.
        let r3 = board.offer(job: "nightly", due: Self.t0 + 60)
        #expect(!r3)
        // Another job waits for its turn (one run at a time), and is not queued twice.
        let r4 = board.offer(job: "other", due: Self.t0 + 60)
        #expect(r4)
        let r5 = board.offer(job: "other", due: Self.t0 + 120)
        #expect(!r5)
        let r6 = board.next(at: Self.t0 + 61).work
        #expect(r6 == nil)
        board.finished()
        let r7 = board.next(at: Self.t0 + 62).work
        #expect(r7 == .schedule(job: "other", due: Self.t0 + 60))
        board.finished()
        let r8 = board.offer(job: "nightly", due: Self.t0 + 180)
        #expect(r8)
    }

    @Test func eventsCloseTogetherBecomeOneRun() {
        var board = RunBoard(quiet: 2, maxWait: 10)
        board.add(events: [Self.event("a")], at: Self.t0)
        let first = board.next(at: Self.t0 + 1)
        #expect(first.work == nil)
        #expect(first.lookAgainAt == Self.t0 + 2)
        board.add(events: [Self.event("b"), Self.event("a")], at: Self.t0 + 1.5)
        let r9 = board.next(at: Self.t0 + 3).work
        #expect(r9 == nil)
        let r10 = board.next(at: Self.t0 + 3.5).work
        #expect(r10 == .events([Self.event("a"), Self.event("b")]))
        #expect(board.pendingCount == 0)
    }

    @Test func aSteadyStreamOfEventsStillRunsAfterMaxWait() {
        var board = RunBoard(quiet: 2, maxWait: 5)
        for second in 0..<8 { board.add(events: [Self.event("e\(second)")], at: Self.t0 + Double(second)) }
        // The last arrived at +7, but the first at +0: ready at +5 (already passed).
        guard case .events(let events)? = board.next(at: Self.t0 + 7).work else {
            Issue.record("no event run after maxWait")
            return
        }
        #expect(events.count == 8)
    }

    @Test func eventsPutBackWaitForTheLock() {
        var board = RunBoard(quiet: 0, maxWait: 0)
        board.putBack(events: [Self.event("a")], at: Self.t0, after: 5)
        let r11 = board.next(at: Self.t0 + 1).work
        #expect(r11 == nil)
        let r12 = board.next(at: Self.t0 + 5).work
        #expect(r12 == .events([Self.event("a")]))
    }

    @Test func stoppingStartsNothing() {
        var board = RunBoard(quiet: 0, maxWait: 0)
        let r13 = board.offer(job: "a", due: Self.t0)
        #expect(r13)
        board.stop()
        let r14 = board.next(at: Self.t0).work
        #expect(r14 == nil)
    }
}
