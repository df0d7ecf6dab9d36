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
