import Foundation
import Threading

/// Who holds the apply lock, as written into the lock file.
public struct LockHolder: Codable, Hashable, Sendable {
    public var pid: Int32
    public var host: String
    public var started: Date

    public init(pid: Int32, host: String, started: Date) { self.pid = pid; self.host = host; self.started = started }

    var startedText: String { started.formatted(.iso8601) }
}

/// The exclusive lock an `apply` holds on a state database (docs/cli.md exit code 3).
///
/// Mechanism: the file `DATABASE.lock`, locked with `flock(LOCK_EX | LOCK_NB)` and holding the
/// holder's `{pid, host, started}` as JSON. The kernel releases a flock when its process dies
/// (crash, SIGKILL), so a dead holder's lock is taken over without any pid-liveness guessing;
/// the JSON it left behind is reported as `tookOverFrom`. A clean `release()` empties the file
/// before unlocking, so leftover JSON means the previous holder died. flock does not work across
/// NFS clients: keep the state database on a local file system.
public final class StateLock: ApplyLock {
    public let lockFile: String
    public let holder: LockHolder
    /// The previous holder, when its process died holding the lock.
    public let tookOverFrom: LockHolder?
    /// The open, flocked descriptor; -1 once released.
    private let descriptor: LockedValue<Int32>

    init(lockFile: String, holder: LockHolder, tookOverFrom: LockHolder?, descriptor: Int32) {
        self.lockFile = lockFile
        self.holder = holder
        self.tookOverFrom = tookOverFrom
        self.descriptor = LockedValue(descriptor)
    }

    deinit { release() }

    /// Releases the lock (idempotent).
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    static func acquire(lockFile: String) throws(StateError) -> StateLock {
        // O_NOFOLLOW: a symlink planted under the lock file's name must not make apply lock and
        // rewrite (truncate) the file it points to. No O_TRUNC: the file is only emptied once the
        // flock is ours and it has proved to be our own plain file.
        let fd = open(lockFile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard fd >= 0 else {
            let failure = errno
            if failure == ELOOP {
                throw .lockFile(path: lockFile, reason: "it is a symbolic link; remove it (pushctl creates the lock file itself)")
            }
            throw .lockFile(path: lockFile, reason: String(cString: strerror(failure)))
        }
        // O_NONBLOCK only kept open() from hanging on a FIFO; the lock file itself is plain.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .lockFile(path: lockFile, reason: reason)
        }
        // A hard link to another file, or a device or FIFO, would be rewritten just like a symlink's target.
        if (info.st_mode & S_IFMT) != S_IFREG || info.st_nlink > 1 {
            close(fd)
            throw .lockFile(
                path: lockFile,
                reason: (info.st_mode & S_IFMT) != S_IFREG
                    ? "it is not a regular file; remove it (pushctl creates the lock file itself)"
                    : "it has \(info.st_nlink) hard links; remove it (pushctl creates the lock file itself)")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            let holder = readHolder(fd)
            close(fd)
            if failure == EWOULDBLOCK { throw .locked(lockFile: lockFile, holder: holder) }
            throw .lockFile(path: lockFile, reason: String(cString: strerror(failure)))
        }
        let previous = readHolder(fd)
        let holder = LockHolder(pid: getpid(), host: currentHostName(), started: Date())
        do {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(holder) + Data("\n".utf8)
            guard ftruncate(fd, 0) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard written == data.count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            // Not synced: the holder is only reported (to a waiting apply, or as `tookOverFrom`
            // after a crash), and the lock itself is the kernel's; a sync cost every run 0.3 ms
            // (docs/performance.md "The rerun's start, a third look").
        } catch {
            _ = flock(fd, LOCK_UN)
            close(fd)
            throw .lockFile(path: lockFile, reason: "\(error)")
        }
        return StateLock(lockFile: lockFile, holder: holder, tookOverFrom: previous, descriptor: fd)
    }

    private static func readHolder(_ fd: Int32) -> LockHolder? {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LockHolder.self, from: Data(bytes[0..<count]))
    }
}

extension StateStore {
    /// The lock file next to the database file itself: the database's path with symbolic links
    /// and `.`/`..` resolved (realpath), so every path that reaches one database (a symlinked
    /// `--state`, a symlinked folder, `./state.db` and `state.db`) takes one and the same lock.
    public var lockFilePath: String { Self.resolvedPath(path) + ".lock" }

    /// `path` with every symbolic link resolved; `path` itself when it cannot be (no such file).
    static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Takes the exclusive apply lock, or fails at once with `.locked(holder)` (→ exit 3).
    /// Holding it proves no other apply is running on this database, so `running` apply runs
    /// left by a dead process are marked `interrupted` here.
    ///
    /// On PostgreSQL the lock is an advisory lock of `scope` (`PostgresApplyLock`).
    public func acquireApplyLock(scope: ApplyLockScope) throws(StateError) -> any ApplyLock {
        if case .postgres(let session) = database.backend {
            return try PostgresApplyLock.acquire(store: self, session: session, scope: scope)
        }
        let lock = try StateLock.acquire(lockFile: lockFilePath)
        do {
            try write { c in
                try c.run(
                    "UPDATE runs SET status = ? WHERE status = ? AND kind IN (?, ?, ?)",
                    [
                        RunStatus.interrupted.rawValue, RunStatus.running.rawValue, RunKind.apply.rawValue, RunKind.event.rawValue,
                        RunKind.schedule.rawValue
                    ])
            }
        } catch {
            lock.release()
            throw error
        }
        return lock
    }
}
