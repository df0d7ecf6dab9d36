import Foundation
import Locking

/// Runs `body(0..<count)` on at most `parallelism` dedicated threads and waits for all of them.
/// Dedicated `Thread`s, not Swift's cooperative pool: the bodies block on file I/O and zlib.
func runBounded(count: Int, parallelism: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 0 else { return }
    let threads = max(1, min(parallelism, count))
    if threads == 1 {
        for i in 0..<count { body(i) }
        return
    }
    let next = LockedValue(0)
    let done = DispatchGroup()
    for _ in 0..<threads {
        done.enter()
        let thread = Thread {
            while true {
                let index = next.withLock { value -> Int in
                    defer { value += 1 }
                    return value
                }
                if index >= count { break }
                body(index)
            }
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
}
