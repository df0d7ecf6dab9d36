#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading

/// Child processes started by the harness. Each is killed by its owner's `stop()`/deinit; the
/// process-wide list also kills leftovers when the test process exits, so a failing or crashing
/// test never leaves a registry running.
enum ChildProcesses {
    private static let live = LockedValue<Set<Int32>>([])
    private static let installed = LockedValue(false)

    static func register(_ pid: Int32) {
        installAtExit()
        live.withLock { _ = $0.insert(pid) }
    }

    static func unregister(_ pid: Int32) {
        live.withLock { _ = $0.remove(pid) }
    }

    private static func installAtExit() {
        let first = installed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        atexit {
            for pid in ChildProcesses.live.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }
}
