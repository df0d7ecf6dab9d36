import Foundation
import Testing
@testable import State

@Suite struct ApplyLockTests {
    @Test(arguments: LedgerBackend.allCases) func secondLockFailsNamingTheHolder(backend: LedgerBackend) throws {
        let store = try backend.open()
        let lock = try store.acquireApplyLock()
        #expect(lock.holder.pid == getpid())
        #expect(lock.tookOverFrom == nil)
        // A second store is a second open file description (flock) or session (advisory
        // lock), so it conflicts exactly like one in another process.
        let other = try backend.reopen(store)
        #expect {
            _ = try other.acquireApplyLock()
        } throws: { error in
            guard case StateError.locked(let file, let holder)? = error as? StateError else { return false }
            let named = backend == .sqlite ? file == store.path + ".lock" : file.contains("advisory lock")
            return named && holder?.pid == getpid() && holder?.host == lock.holder.host
        }
        let message = "\(StateError.locked(lockFile: "x.lock", holder: lock.holder))"
        #expect(message.contains("pid \(getpid())") && message.contains(lock.holder.host))
        lock.release()
        let again = try other.acquireApplyLock()
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

    /// PostgreSQL: a runner's session ends without a clean release (its process was killed; here
    /// the server terminates the session): the advisory lock is free at once, the next runner
    /// takes it over, names the dead holder and marks its running apply run interrupted.
    @Test func postgresLockOfADeadSessionIsTakenOver() throws {
        let store = try LedgerBackend.postgres.open()
        let dying = try LedgerBackend.postgres.reopen(store)
        let orphan = try dying.testRun(job: "crashed")
        let held = try dying.acquireApplyLock(scope: ApplyLockScope(jobs: ["crashed"]))
        #expect(throws: StateError.self) { _ = try store.acquireApplyLock(scope: ApplyLockScope(jobs: ["crashed"])) }
        let database = String(store.path.split(separator: "/").last!.split(separator: "?").first!)
        try TestPostgres.server().psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()")
        let lock = try store.acquireApplyLock(scope: ApplyLockScope(jobs: ["crashed"]))
        #expect(lock.tookOverFrom?.pid == held.holder.pid)
        #expect(try store.run(.id(orphan)).run.status == .interrupted)
        lock.release()
    }

    /// PostgreSQL: shards of one job set lock separately; the same shard twice conflicts;
    /// prune (the whole job set) conflicts with any shard; another job set is independent.
    @Test func postgresLocksPerJobSetAndShard() throws {
        let store = try LedgerBackend.postgres.open()
        let other = try LedgerBackend.postgres.reopen(store)
        let shard0 = try store.acquireApplyLock(scope: ApplyLockScope(jobs: ["a", "b"], shard: "0/2"))
        let shard1 = try other.acquireApplyLock(scope: ApplyLockScope(jobs: ["b", "a"], shard: "1/2"))
        let third = try LedgerBackend.postgres.reopen(store)
        #expect(throws: StateError.self) { _ = try third.acquireApplyLock(scope: ApplyLockScope(jobs: ["a", "b"], shard: "0/2")) }
        #expect(throws: StateError.self) { _ = try third.acquireApplyLock(scope: ApplyLockScope(jobs: ["a", "b"], wholeJobSet: true)) }
        let unrelated = try third.acquireApplyLock(scope: ApplyLockScope(jobs: ["c"], shard: "0/2"))
        unrelated.release()
        shard0.release()
        shard1.release()
        let prune = try third.acquireApplyLock(scope: ApplyLockScope(jobs: ["a", "b"], wholeJobSet: true))
        #expect(prune.tookOverFrom == nil)
        prune.release()
    }
}
