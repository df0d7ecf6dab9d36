#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A mutex with a condition variable, over `pthread_mutex_t` / `pthread_cond_t`.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with raw futex system calls, which
/// ThreadSanitizer does not intercept, so every value it guards is reported as racing. The pthread
/// calls here are intercepted by TSan (and are what `NSLock` uses underneath), so TSan sees the
/// happens-before edges and reports only real races. Like SwiftNIO's `NIOLock`, the pthread
/// objects live on the heap: they must not move, and a Swift class's stored properties may.
///
/// `wait()` and `broadcast()` make it usable like `NSCondition`: lock, loop on a predicate with
/// `wait()`, unlock; whoever changes the predicate's state calls `broadcast()`.
public final class Lock: @unchecked Sendable {  // the pthread objects are the synchronization
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        // Error checking costs nothing noticeable and turns a double unlock or an unlock from the
        // wrong thread into a crash at the mistake instead of undefined behaviour.
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK))
        let rc = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        let crc = pthread_cond_init(condition, nil)
        precondition(crc == 0, "pthread_cond_init failed: \(crc)")
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deinitialize(count: 1)
        condition.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    public func lock() {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    public func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    /// Releases the lock (which the caller holds), sleeps until a `broadcast()` (or a spurious
    /// wake-up: always wait in a loop over the predicate), and takes the lock again.
    public func wait() {
        let rc = pthread_cond_wait(condition, mutex)
        precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
    }

    /// As `wait()`, but gives up at `deadline` (CLOCK_REALTIME, from `deadline(afterSeconds:)`):
    /// returns false when the deadline passed, true when woken (maybe spuriously: loop).
    public func wait(until deadline: timespec) -> Bool {
        var deadline = deadline
        return pthread_cond_timedwait(condition, mutex, &deadline) != ETIMEDOUT
    }

    /// The absolute time `seconds` from now, for `wait(until:)`.
    public static func deadline(afterSeconds seconds: Double) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let whole = Int(seconds)
        var nanoseconds = Int(now.tv_nsec) + Int((seconds - Double(whole)) * 1_000_000_000)
        var secondsPart = Int(now.tv_sec) + whole + nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        if nanoseconds < 0 { nanoseconds += 1_000_000_000; secondsPart -= 1 }
        return timespec(tv_sec: secondsPart, tv_nsec: nanoseconds)
    }

    /// Wakes every thread in `wait()`.
    public func broadcast() {
        pthread_cond_broadcast(condition)
    }

    @inlinable
    public func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value only reachable while holding its lock: the drop-in for `Synchronization.LockedValue<Value>`
/// (same `withLock { value in … }`, typed throws included), but a class, so it can also be captured
/// by escaping closures. See `Lock` for why pthreads.
///
/// For a lock guarding no value use `Lock`, not `LockedValue<Void>`: TSan's Swift access checks
/// place a zero-sized value's accesses at the object's own address, which other threads read
/// (retain/release) without the lock, and report that as a race (seen in the TSan run).
public final class LockedValue<Value> {
    /// The lock guarding the value (public for timed waits on it, as `CancellationFlag` does).
    public let lock = Lock()
    @usableFromInline var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// Waits, with the lock released, until `ready(value)` holds, then runs `body` under the lock
    /// (the check and `body` are one critical section). Whoever changes what `ready` looks at must
    /// call `broadcast()` afterwards.
    @inlinable
    public func withLock<Result, Failure: Error>(
        whenReady ready: (Value) -> Bool,
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        while !ready(value) { lock.wait() }
        return try body(&value)
    }

    /// As `withLock(whenReady:_:)`, but waits no longer than until `deadline` (from
    /// `Lock.deadline(afterSeconds:)`): `body` then runs all the same, told whether `ready` holds.
    @inlinable
    public func withLock<Result, Failure: Error>(
        whenReady ready: (Value) -> Bool, until deadline: timespec,
        _ body: (inout Value, _ ready: Bool) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        while !ready(value) {
            if !lock.wait(until: deadline) { break }
        }
        return try body(&value, ready(value))
    }

    /// Wakes every thread waiting in `withLock(whenReady:_:)`.
    public func broadcast() {
        lock.broadcast()
    }
}

// Like `NIOLockedValueBox`: shareable when the value is, as every access goes through `lock`.
extension LockedValue: @unchecked Sendable where Value: Sendable {}
