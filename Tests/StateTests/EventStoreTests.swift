import Foundation
import Testing

@testable import State

/// The `events` table (migration 9): registry push events `pushctl serve` accepted
/// (docs/state.md, docs/serve.md "Registry events").
@Suite struct EventStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func event(_ id: String, at seconds: Double = 0, status: EventStatus = .pending) -> EventRecord {
        EventRecord(
            id: id, received: t0.addingTimeInterval(seconds), action: "push", repository: "lib/app", tag: "v1",
            digest: "sha256:" + String(repeating: "a", count: 64), host: "127.0.0.1:5000", status: status)
    }

    @Test func aRepeatedIdIsIgnoredAndPendingEventsComeOldestFirst() throws {
        let store = try openTemporaryStore()
        #expect(try store.recordEvents([Self.event("b", at: 2), Self.event("a", at: 1)]) == ["b", "a"])
        // The registry delivers "a" again, with another time: nothing changes.
        #expect(try store.recordEvents([Self.event("a", at: 9), Self.event("c", at: 3, status: .ignored)]) == ["c"])
        #expect(try store.pendingEvents().map(\.id) == ["a", "b"])
        #expect(try store.pendingEvents().first == Self.event("a", at: 1))
        #expect(try store.eventCounts() == [.pending: 2, .ignored: 1])
    }

    @Test func eventsRanByARunNameItAndLeaveThePendingOnes() throws {
        let store = try openTemporaryStore()
        _ = try store.recordEvents([Self.event("a"), Self.event("b", at: 1)])
        let run = try store.beginRun(
            job: "mirror", file: "mirror.yaml", fileDigest: digest("job"), kind: .event, pushctlVersion: "test")
        try store.markEvents(["a"], status: .ran, run: run)
        #expect(try store.pendingEvents().map(\.id) == ["b"])
        let recent = try store.recentEvents(limit: 10)
        #expect(recent.map(\.id) == ["b", "a"])
        #expect(recent.last?.runID == run && recent.last?.status == .ran)
        #expect(try store.eventCounts() == [.pending: 1, .ran: 1])
        // The run survives in history with its kind.
        #expect(try store.history(HistoryFilter()).first?.run.kind == .event)
    }

    @Test func aRunLeftRunningByADeadServeIsMarkedInterruptedByTheNextLock() throws {
        let store = try openTemporaryStore()
        let run = try store.beginRun(
            job: "mirror", file: "mirror.yaml", fileDigest: digest("job"), kind: .schedule, pushctlVersion: "test")
        let lock = try store.acquireApplyLock()
        lock.release()
        #expect(try store.run(.id(run)).run.status == .interrupted)
    }
}
