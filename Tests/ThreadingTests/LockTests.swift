import Foundation
import Threading
import Testing

@Suite struct LockTests {
    /// Many threads incrementing one value: no update lost (and, under TSan, no race reported,
    /// which is what the pthread lock is for).
    @Test func concurrentUpdatesAreNotLost() {
        let counter = LockedValue(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == 80_000)
    }

    struct Refused: Error, Equatable {}

    /// Typed throws pass through, and the lock is released on the way out.
    @Test func aThrowingBodyReleasesTheLock() {
        let value = LockedValue([Int]())
        #expect(throws: Refused.self) {
            try value.withLock { (list: inout [Int]) throws(Refused) in
                list.append(1)
                throw Refused()
            }
        }
        #expect(value.withLock { $0 } == [1])
    }

    /// `withLock(whenReady:)` waits for another thread's change and its broadcast.
    @Test func waitingForAConditionWakesOnBroadcast() {
        let state = LockedValue(0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let seen = state.withLock(whenReady: { $0 >= 3 }) { $0 }
            state.withLock { $0 = seen * 10 }
            done.signal()
        }
        for _ in 0..<3 {
            Thread.sleep(forTimeInterval: 0.01)
            state.withLock { $0 += 1 }
            state.broadcast()
        }
        done.wait()
        #expect(state.withLock { $0 } == 30)
    }

    /// The timed wait gives up at its deadline, telling the body the condition does not hold yet,
    /// and tells it the condition holds once a broadcast made it so.
    @Test func aTimedWaitGivesUpAtItsDeadlineOrWakesOnBroadcast() {
        let state = LockedValue(0)
        let early = state.withLock(whenReady: { $0 > 0 }, until: Lock.deadline(afterSeconds: 0.02)) { value, ready in (value, ready) }
        #expect(early.0 == 0 && early.1 == false)

        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.01)
            state.withLock { $0 = 7 }
            state.broadcast()
        }
        // A deadline far off: only the broadcast ends the wait.
        let late = state.withLock(whenReady: { $0 > 0 }, until: Lock.deadline(afterSeconds: 60)) { value, ready in (value, ready) }
        #expect(late.0 == 7 && late.1 == true)
    }

    /// `Lock` as an `NSCondition`: lock, wait in a loop, unlock.
    @Test func lockWaitAndBroadcast() {
        let lock = Lock()
        let flag = LockedValue(false)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            lock.lock()
            while !flag.withLock({ $0 }) { lock.wait() }
            lock.unlock()
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.01)
        lock.withLock { flag.withLock { $0 = true } }
        lock.broadcast()
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
