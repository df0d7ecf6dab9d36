#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import TestSupport
import Testing
@testable import State

/// The state database's files on disk: the lock file is never followed through a symlink,
/// new files are owner-only, and a database without write access can still be read.
@Suite struct FileSafetyTests {
    @Test func aSymlinkedLockFileIsRefusedAndItsTargetLeftAlone() throws {
        let folder = try temporaryDirectory()
        let store = try StateStore.open(path: folder + "/state.db")
        let victim = folder + "/precious.txt"
        try "do not truncate me\n".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: store.lockFilePath, withDestinationPath: victim)

        let error = try #require(throws: StateError.self) { _ = try store.acquireApplyLock() }
        guard case .lockFile(let path, let reason) = error else {
            Issue.record("expected a lockFile error, got \(error)")
            return
        }
        #expect(path == store.lockFilePath)
        #expect(reason.contains("symbolic link"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "do not truncate me\n")
    }

    @Test func aHardLinkedLockFileIsRefusedAndItsTargetLeftAlone() throws {
        let folder = try temporaryDirectory()
        let store = try StateStore.open(path: folder + "/state.db")
        let victim = folder + "/precious.txt"
        try "keep\n".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(link(victim, store.lockFilePath) == 0)

        let error = try #require(throws: StateError.self) { _ = try store.acquireApplyLock() }
        #expect("\(error)".contains("hard links"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep\n")
    }

    @Test func newDatabaseFolderFileAndLockAreOwnerOnly() throws {
        let base = try temporaryDirectory()
        let path = base + "/nested/pushctl/state.db"
        let store = try StateStore.open(path: path)
        let lock = try store.acquireApplyLock()
        defer { lock.release() }
        #expect(try mode(base + "/nested") == 0o700)
        #expect(try mode(base + "/nested/pushctl") == 0o700)
        #expect(try mode(path) == 0o600)
        #expect(try mode(store.lockFilePath) == 0o600)
        _ = try store.testRun()
        // sqlite copies the database file's mode to its WAL file.
        if FileManager.default.fileExists(atPath: path + "-wal") {
            #expect(try mode(path + "-wal") == 0o600)
        }
    }

    @Test func aFileWithoutWritePermissionOpensReadOnlyForReading() throws {
        let folder = try temporaryDirectory()
        let path = folder + "/state.db"
        try makeDatabaseWithOneRun(path)
        #expect(chmod(path, 0o444) == 0)
        try withoutRootFileOverrides {
            // Read-write open must fail here; read-only must work.
            #expect(throws: StateError.self) { _ = try StateStore.open(path: path) }
            let store = try StateStore.open(path: path, readOnly: true)
            let rows = try store.history(HistoryFilter())
            #expect(rows.map(\.run.job) == ["readonly-job"])
            #expect(throws: StateError.self) { _ = try store.testRun(job: "must-not-be-written") }
        }
    }

    /// A directory nobody may write to stands in for a read-only file system: sqlite can create
    /// neither the `-shm` index nor a journal there.
    @Test func aDatabaseInAReadOnlyFolderOpensReadOnlyForReading() throws {
        let folder = try temporaryDirectory()
        let path = folder + "/state.db"
        try makeDatabaseWithOneRun(path)
        #expect(chmod(path, 0o444) == 0)
        #expect(chmod(folder, 0o555) == 0)
        defer { chmod(folder, 0o755) }
        try withoutRootFileOverrides {
            let store = try StateStore.open(path: path, readOnly: true)
            #expect(try store.history(HistoryFilter()).map(\.run.job) == ["readonly-job"])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["state.db"])
    }

    @Test func readOnlyOpenOfAMissingFileCreatesNothing() throws {
        let folder = try temporaryDirectory()
        let error = try #require(throws: StateError.self) { _ = try StateStore.open(path: folder + "/absent.db", readOnly: true) }
        #expect("\(error)".contains("absent.db"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    // MARK: helpers

    private func makeDatabaseWithOneRun(_ path: String) throws {
        // The store is closed when this scope ends: sqlite checkpoints and removes -wal and -shm.
        let store = try StateStore.open(path: path)
        _ = try store.testRun(job: "readonly-job")
    }

    private func mode(_ path: String) throws -> mode_t {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return info.st_mode & 0o7777
    }
}

// MARK: - Running as root

/// `struct __user_cap_header_struct` / `__user_cap_data_struct` of <linux/capability.h>.
private struct CapabilityHeader { var version: UInt32; var pid: Int32 }
private struct CapabilityData { var effective: UInt32; var permitted: UInt32; var inheritable: UInt32 }

@_silgen_name("capget") private func capget(_ header: UnsafeMutablePointer<CapabilityHeader>, _ data: UnsafeMutablePointer<CapabilityData>)
    -> Int32
@_silgen_name("capset") private func capset(_ header: UnsafeMutablePointer<CapabilityHeader>, _ data: UnsafeMutablePointer<CapabilityData>)
    -> Int32

/// Runs `body` with file permissions enforced even when the tests run as root (CI containers):
/// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER are dropped from the calling thread's
/// effective set (Linux capabilities are per thread) and restored afterwards. A synchronous test
/// stays on one thread, and sqlite does its file work on the calling thread.
func withoutRootFileOverrides(_ body: () throws -> Void) throws {
    guard geteuid() == 0 else { return try body() }
    var header = CapabilityHeader(version: 0x2008_0522, pid: 0)  // _LINUX_CAPABILITY_VERSION_3
    var saved = [CapabilityData](repeating: CapabilityData(effective: 0, permitted: 0, inheritable: 0), count: 2)
    try #require(capget(&header, &saved) == 0, "capget failed: \(String(cString: strerror(errno)))")
    var reduced = saved
    let overrides: UInt32 = (1 << 1) | (1 << 2) | (1 << 3)  // DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    reduced[0].effective &= ~overrides
    try #require(capset(&header, &reduced) == 0, "capset failed: \(String(cString: strerror(errno)))")
    defer { _ = capset(&header, &saved) }
    try body()
}
