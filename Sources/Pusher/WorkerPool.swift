import Foundation
import Synchronization

/// Runs `body` for every element on at most `width` dedicated threads and waits for all.
///
/// The work is blocking I/O (libcurl, files, SQLite), so it runs on threads of its own rather than
/// on Swift's cooperative pool, which has one thread per core and would stall.
public func forEachConcurrently<Element: Sendable>(_ elements: [Element], width: Int, _ body: @escaping @Sendable (Element) -> Void) {
    guard !elements.isEmpty else { return }
    let workers = max(1, min(width, elements.count))
    if workers == 1 {
        elements.forEach(body)
        return
    }
    let next = AtomicCounter()
    let done = DispatchGroup()
    let shared = SendableBox(elements)
    for _ in 0..<workers {
        done.enter()
        let thread = Thread {
            while true {
                let i = next.takeNext()
                guard i < shared.value.count else { break }
                body(shared.value[i])
            }
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
}

final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)
    func takeNext() -> Int { value.add(1, ordering: .relaxed).oldValue }
    var current: Int { value.load(ordering: .relaxed) }
}

/// Immutable value handed to worker threads.
final class SendableBox<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
