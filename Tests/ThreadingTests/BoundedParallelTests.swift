import Foundation
import Threading
import Testing

@Suite struct BoundedParallelTests {
    /// Every element runs exactly once, never more than `parallelism` at a time.
    @Test(arguments: [1, 2, 3])
    func boundedAndComplete(parallelism: Int) {
        struct State { var running = 0; var peak = 0; var seen: [Int] = [] }
        let state = LockedValue(State())
        forEachConcurrently(Array(0..<12), width: parallelism) { index in
            state.withLock {
                $0.running += 1; $0.peak = max($0.peak, $0.running)
            }
            usleep(20_000)
            state.withLock {
                $0.running -= 1; $0.seen.append(index)
            }
        }
        let final = state.withLock { $0 }
        #expect(final.seen.sorted() == Array(0..<12))
        #expect(final.peak <= parallelism)
        #expect(final.running == 0)
        if parallelism > 1 { #expect(final.peak > 1) }
    }
}

@Suite struct SlotsTests {
    /// Nested pools sharing one gate: never more than its count inside at once, and every body runs.
    @Test func nestedPoolsStayWithinTheGate() {
        struct State { var inside = 0; var peak = 0; var runs = 0 }
        let state = LockedValue(State())
        let slots = Slots(3)
        forEachConcurrently(Array(0..<4), width: 4) { _ in
            forEachConcurrently(Array(0..<4), width: 4) { _ in
                slots.withSlot {
                    state.withLock {
                        $0.inside += 1; $0.peak = max($0.peak, $0.inside)
                    }
                    usleep(10_000)
                    state.withLock {
                        $0.inside -= 1; $0.runs += 1
                    }
                }
            }
        }
        let final = state.withLock { $0 }
        #expect(final.runs == 16)
        #expect(final.peak <= 3)
        #expect(final.peak > 1)
        #expect(final.inside == 0)
    }

    /// A body that throws gives its slot back.
    @Test func aThrowingBodyReleasesItsSlot() {
        struct Failed: Error {}
        let slots = Slots(1)
        #expect(throws: Failed.self) { try slots.withSlot { () throws(Failed) in throw Failed() } }
        #expect(slots.withSlot { 7 } == 7)
    }
}
