import Threading
import Foundation
import OCI
import SQLite
import Testing
@testable import State

@Suite struct StateStoreTests {
    @Test(arguments: LedgerBackend.allCases) func runLifecycle(backend: LedgerBackend) throws {
        let store = try backend.open()
        let id = try store.testRun(job: "release")
        var detail = try store.run(.id(id))
        #expect(detail.run.status == .running)
        #expect(detail.run.pid == getpid())
        #expect(detail.run.exitCode == nil)
        try store.finishRun(id, status: .failed, exitCode: 1, ended: Date(timeIntervalSince1970: 1_800_000_100))
        detail = try store.run(.last)
        #expect(detail.run.id == id)
        #expect(detail.run.status == .failed)
        #expect(detail.run.exitCode == 1)
        #expect(detail.run.ended == Date(timeIntervalSince1970: 1_800_000_100))
        #expect(detail.run.fileDigest == digest("job release").string)
    }

    /// Only rows that are all `unchanged` (a rerun's) are committed without waiting for the disk;
    /// a group with anything else in it syncs. Either way they read back in full.
    @Test(arguments: LedgerBackend.allCases) func onlyUnchangedRowsAreCommittedWithoutASync(backend: LedgerBackend) throws {
        let run = RunID(1)
        #expect(!StateStore.mustSync([push(run: run, status: .unchanged), push(run: run, tag: "2", status: .unchanged)]))
        for other in [PushStatus.pushed, .failed, .deleted, .rejected] {
            #expect(StateStore.mustSync([push(run: run, status: .unchanged), push(run: run, tag: "2", status: other)]), "\(other)")
        }
        #expect(StateStore.mustSync([push(run: run, status: .pushed)]))

        let store = try backend.open()
        let id = try store.testRun()
        let rows = [push(run: id, status: .unchanged), push(run: id, tag: "2", status: .unchanged)]
        try store.recordPushes(rows, blobs: [])
        try store.finishRun(id, status: .ok, exitCode: 0)
        let detail = try store.run(.id(id))
        #expect(detail.pushes.map(\.tag) == ["1.0", "2"])
        #expect(detail.pushes.allSatisfy { $0.status == .unchanged })
        #expect(detail.run.status == .ok)
    }

    @Test(arguments: LedgerBackend.allCases) func pushRoundTripsEveryField(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun()
        var record = push(run: run, status: .failed)
        record.attempts = 4
        record.bytesUploaded = 987_654_321_000
        let id = try store.recordPush(record)
        record.id = id
        #expect(try store.run(.id(run)).pushes == [record])
    }

    @Test(arguments: LedgerBackend.allCases) func unknownRunIsAnError(backend: LedgerBackend) throws {
        let store = try backend.open()
        #expect {
            _ = try store.run(.last)
        } throws: { error in
            guard case StateError.unknownRun(_, "last")? = error as? StateError else { return false }
            return true
        }
        _ = try store.testRun()
        #expect(throws: StateError.self) { _ = try store.run(.id(RunID(42))) }
    }

    /// A failure after the push row was written (here: a blob location that violates a CHECK
    /// constraint) rolls the whole transaction back: neither the push nor any blob is recorded.
    @Test(arguments: LedgerBackend.allCases) func pushIsRecordedInOneTransactionOrNotAtAll(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun()
        let good = BlobLocation(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer"), identity: "id")
        let bad = BlobLocation(registryHost: "registry.example.com", repository: "", digest: digest("layer2"), identity: "id")
        #expect {
            try store.recordPush(push(run: run), blobs: [good, bad])
        } throws: { error in
            (error as? StateError)?.isConstraintViolation == true
        }
        #expect(try store.run(.id(run)).pushes.isEmpty)
        #expect(try store.history(HistoryFilter(repository: "team/app")).isEmpty)
        #expect(try !store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer")))

        // The same push with valid blobs is recorded with them.
        try store.recordPush(push(run: run), blobs: [good])
        #expect(try store.run(.id(run)).pushes.count == 1)
        #expect(try store.isBlobKnown(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer")))
    }

    @Test(arguments: LedgerBackend.allCases) func pushForAMissingRunIsRejected(backend: LedgerBackend) throws {
        let store = try backend.open()
        #expect(throws: StateError.self) { try store.recordPush(push(run: RunID(77))) }
    }

    @Test(arguments: LedgerBackend.allCases) func lastSuccessfulPushIgnoresFailuresAndPicksTheNewest(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun(job: "a")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        try store.recordPush(push(run: run, digest: digest("v1"), started: t0))
        try store.recordPush(push(run: run, digest: digest("v2"), started: t0.addingTimeInterval(60)))
        try store.recordPush(push(run: run, digest: digest("v3"), status: .failed, started: t0.addingTimeInterval(120)))
        try store.recordPush(push(run: run, tag: "other", digest: digest("x"), started: t0.addingTimeInterval(180)))
        let last = try store.lastSuccessfulPush(registryHost: "registry.example.com", repository: "team/app", tag: "1.0")
        #expect(last?.pushedDigest == digest("v2"))
        #expect(try store.lastSuccessfulPush(registryHost: "registry.example.com", repository: "team/app", tag: "nope") == nil)

        // Another job later pushed the same tag: verify for job a expects that digest now.
        let runB = try store.testRun(job: "b")
        try store.recordPush(push(run: runB, digest: digest("b1"), started: t0.addingTimeInterval(300)))
        let forA = try store.lastSuccessfulPushes(job: "a")
        #expect(forA.map(\.tag) == ["1.0", "other"])
        #expect(forA.map(\.pushedDigest) == [digest("b1"), digest("x")])
    }

    @Test(arguments: LedgerBackend.allCases) func blobLocationsAndMountCandidateOrder(backend: LedgerBackend) throws {
        let store = try backend.open()
        let host = "registry.example.com", layer = digest("layer")
        let me = store.credentialIdentity("user:alice token:abc"), other = store.credentialIdentity("user:bob")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        // Far away, other identity, newest.
        try store.recordBlob(registryHost: host, repository: "zzz/other", digest: layer, identity: other, seen: t0.addingTimeInterval(50))
        // Same organisation as the target, other identity.
        try store.recordBlob(registryHost: host, repository: "team/app/base", digest: layer, identity: other, seen: t0)
        try store.recordBlob(registryHost: host, repository: "team/lib", digest: layer, identity: other, seen: t0.addingTimeInterval(10))
        // Same identity, unrelated path, old.
        try store.recordBlob(registryHost: host, repository: "solo/thing", digest: layer, identity: me, seen: t0)
        // The target itself, another registry, another digest: never candidates.
        try store.recordBlob(registryHost: host, repository: "team/app/web", digest: layer, identity: me, seen: t0)
        try store.recordBlob(registryHost: "other.example", repository: "team/x", digest: layer, identity: me, seen: t0)
        try store.recordBlob(registryHost: host, repository: "team/y", digest: digest("other-layer"), identity: me, seen: t0)

        let candidates = try store.mountCandidates(
            registryHost: host, digest: layer, targetRepository: "team/app/web", identity: me, limit: 3)
        #expect(candidates == ["solo/thing", "team/app/base", "team/lib"])
        let all = try store.mountCandidates(registryHost: host, digest: layer, targetRepository: "team/app/web", identity: me, limit: 10)
        #expect(all == ["solo/thing", "team/app/base", "team/lib", "zzz/other"])

        #expect(try store.isBlobKnown(registryHost: host, repository: "team/lib", digest: layer))
        try store.removeBlob(registryHost: host, repository: "team/lib", digest: layer)
        #expect(try !store.isBlobKnown(registryHost: host, repository: "team/lib", digest: layer))
    }

    @Test(arguments: LedgerBackend.allCases) func diffIDMappingsAreKeyedBySettings(backend: LedgerBackend) throws {
        let store = try backend.open()
        let diffID = digest("uncompressed")
        let gz = Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digest("gz"), size: 10)
        try store.recordDiffID(diffID, compressed: gz, settings: "gzip-6-zlib")
        #expect(try store.compressedDigest(forDiffID: diffID, settings: "gzip-6-zlib") == gz)
        #expect(try store.compressedDigest(forDiffID: diffID, settings: "gzip-9-zlib") == nil)
        let gz2 = Descriptor(mediaType: gz.mediaType, digest: digest("gz2"), size: 11)
        try store.recordDiffID(diffID, compressed: gz2, settings: "gzip-6-zlib")
        #expect(try store.compressedDigest(forDiffID: diffID, settings: "gzip-6-zlib") == gz2)
    }

    @Test(arguments: LedgerBackend.allCases) func credentialIdentityIsKeyedPerDatabaseAndNeverStoresTheSecret(backend: LedgerBackend) throws
    {
        let secret = "hunter2-Sup3rS3cret-\(UUID().uuidString)"
        let a = try backend.open("identityA"), b = try backend.open("identityB")
        let idA = a.credentialIdentity(secret)
        #expect(idA == a.credentialIdentity(secret))
        #expect(idA != b.credentialIdentity(secret))
        #expect(idA != a.credentialIdentity(secret + "x"))
        #expect(idA.hasPrefix("hmac-sha256:") && idA.count == "hmac-sha256:".count + 64)
        try a.recordBlob(registryHost: "r.example", repository: "x/y", digest: digest("l"), identity: idA)
        let run = try a.testRun()
        try a.recordPush(
            push(run: run), blobs: [BlobLocation(registryHost: "r.example", repository: "x/z", digest: digest("m"), identity: idA)])
        // The store reopened sees the same key.
        let reopened = try backend.reopen(a)
        #expect(reopened.credentialIdentity(secret) == idA)

        let needle = Array(secret.utf8)
        var identitySeen = false, checked = 0
        if backend == .postgres {
            // The server's files are its own business: search every text the ledger holds instead.
            let texts = try a.database.withConnection { c in
                try c.query("SELECT key || value FROM meta UNION ALL SELECT identity FROM blob_locations") { row in try row.string(0) }
            }
            #expect(!texts.contains { $0.contains(secret) })
            #expect(texts.contains(idA))
            return
        }
        for file in [a.path, a.path + "-wal", a.path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            checked += bytes.count
            #expect(!contains(bytes, needle), "secret found in \(file)")
            identitySeen = identitySeen || contains(bytes, Array(idA.utf8))
        }
        // The grep is meaningful only if the written rows are in the files we searched.
        #expect(identitySeen)
        #expect(checked > 0)
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { i in haystack[i..<(i + needle.count)].elementsEqual(needle) }
    }
}

@Suite struct ConcurrencyTests {
    /// Pushers record from several threads through one store, and a second connection (as another
    /// process would) writes at the same time: the lock serializes the first, busy_timeout the second.
    @Test(arguments: LedgerBackend.allCases) func concurrentWritersLoseNothing(backend: LedgerBackend) throws {
        let store = try backend.open()
        let other = try backend.reopen(store)
        let run = try store.testRun()
        let failures = FailureLog()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let target = worker % 2 == 0 ? store : other
            for i in 0..<50 {
                do {
                    try target.recordPush(
                        push(run: run, repository: "w\(worker)/repo", tag: "t\(i)"),
                        blobs: [
                            BlobLocation(
                                registryHost: "r", repository: "w\(worker)/repo",
                                digest: digest("\(worker)-\(i)"), identity: "i")
                        ])
                } catch {
                    failures.append("\(error)")
                }
            }
        }
        #expect(failures.messages.isEmpty, "\(failures.messages.prefix(3))")
        #expect(try store.run(.id(run)).pushes.count == 400)
        #expect(try other.history(HistoryFilter(repository: "w3/repo")).count == 50)
    }
}

/// Collects errors from worker threads; the lock makes it safe to share (hence @unchecked).
final class FailureLog: @unchecked Sendable {
    private let lock = Lock()
    private var stored = [String]()
    func append(_ message: String) { lock.lock(); stored.append(message); lock.unlock() }
    var messages: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
