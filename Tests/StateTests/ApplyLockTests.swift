import Foundation
import Testing
@testable import State

@Suite struct ApplyLockTests {
    @Test func secondLockFailsNamingTheHolder() throws {
        let store = try openTemporaryStore()
        let lock = try store.acquireApplyLock()
        #expect(lock.holder.pid == getpid())
        #expect(lock.tookOverFrom == nil)
        // flock locks belong to the open file description, so a second attempt in this same
        // process conflicts exactly like one from another process.
        #expect {
            _ = try store.acquireApplyLock()
        } throws: { error in
            guard case StateError.locked(let file, let holder)? = error as? StateError else { return false }
            return file == store.path + ".lock" && holder?.pid == getpid() && holder?.host == lock.holder.host
        }
        let message = "\(StateError.locked(lockFile: "x.lock", holder: lock.holder))"
        #expect(message.contains("pid \(getpid())") && message.contains(lock.holder.host))
        lock.release()
        let again = try store.acquireApplyLock()
        // A clean release leaves no holder behind to "take over" from.
        #expect(again.tookOverFrom == nil)
        again.release()
    }

    /// A child process takes the lock and is killed with SIGKILL: while it lives, our attempt fails
    /// naming it; once it is dead, the lock is taken over and its running run is marked interrupted.
    @Test func staleLockOfAKilledProcessIsTakenOver() throws {
        let store = try openTemporaryStore()
        let orphan = try store.testRun(job: "crashed")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        child.arguments = [
            "-c",
            """
            import fcntl, json, os, socket, sys, time
            f = open(sys.argv[1], "a+")
            fcntl.flock(f, fcntl.LOCK_EX)
            f.truncate(0)
            f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
            f.flush()
            print("locked", flush=True)
            time.sleep(120)
            """, store.lockFilePath
        ]
        let output = Pipe()
        child.standardOutput = output
        try child.run()
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() } }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        try #require(line.hasPrefix("locked"), "the python3 child did not take the lock (is /usr/bin/python3 installed?)")

        #expect {
            _ = try store.acquireApplyLock()
        } throws: { error in
            guard case StateError.locked(_, let holder)? = error as? StateError else { return false }
            return holder?.pid == child.processIdentifier
        }

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let lock = try store.acquireApplyLock()
        #expect(lock.tookOverFrom?.pid == child.processIdentifier)
        #expect(lock.holder.pid == getpid())
        #expect(try store.run(.id(orphan)).run.status == .interrupted)
        lock.release()
    }
}
