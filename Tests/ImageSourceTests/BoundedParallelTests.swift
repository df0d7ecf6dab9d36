import Foundation
import Locking
import Testing
@testable import ImageSource

@Suite struct BoundedParallelTests {
    /// Every index runs exactly once, never more than `parallelism` at a time, on threads other
    /// than the caller's.
    @Test(arguments: [1, 2, 3])
    func boundedAndComplete(parallelism: Int) {
        struct State { var running = 0; var peak = 0; var seen: [Int] = [] }
        let state = LockedValue(State())
        runBounded(count: 12, parallelism: parallelism) { index in
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
