#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Runs `body` for every element on at most `width` threads and returns when all are done: the
/// one bounded-parallel helper (docs/concurrency.md "Pools").
///
/// The work is blocking (libcurl, files, zlib, SQLite), so it runs on threads of its own rather
/// than on Swift's cooperative pool, which has one thread per core and would stall. The calling
/// thread takes part, so `width` threads work in all and `width - 1` are started; a nested call
/// (images × blobs) therefore adds threads only where it has work for them.
public func forEachConcurrently<Element: Sendable>(_ elements: [Element], width: Int, _ body: @escaping @Sendable (Element) -> Void) {
    guard !elements.isEmpty else { return }
    let workers = max(1, min(width, elements.count))
    if workers == 1 {
        elements.forEach(body)
        return
    }
    // Next index to take, and how many workers are still running.
    let progress = LockedValue((next: 0, running: workers))
    let work: @Sendable () -> Void = {
        while true {
            let index = progress.withLock { state -> Int in
                defer { state.next += 1 }
                return state.next
            }
            guard index < elements.count else { break }
            body(elements[index])
        }
        progress.withLock { $0.running -= 1 }
        progress.broadcast()
    }
    for _ in 1..<workers {
        let thread = Thread { work() }
        thread.stackSize = 1 << 20
        thread.start()
    }
    work()
    progress.withLock(whenReady: { $0.running == 0 }) { _ in }
}

/// Runs `body` on a thread of its own and returns at once; nothing waits for it (work whose
/// result is taken elsewhere, e.g. a `lazy` global's initialiser that a later caller waits for).
public func startDetached(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread { body() }
    thread.stackSize = stackSize
    thread.start()
}

/// A counting gate: at most `count` bodies run inside `withSlot` at once, across threads. It
/// bounds work that several pools share (the tag `HEAD`s of every push of a run, the pushes past
/// their tag decisions), where nesting `forEachConcurrently` alone would multiply the widths
/// (docs/concurrency.md "Pools").
public final class Slots: Sendable {
    public let count: Int
    private let busy = LockedValue(0)

    public init(_ count: Int) {
        self.count = max(1, count)
    }

    public func withSlot<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let count = count
        busy.withLock(whenReady: { $0 < count }) { $0 += 1 }
        defer {
            busy.withLock { $0 -= 1 }
            busy.broadcast()
        }
        return try body()
    }
}
