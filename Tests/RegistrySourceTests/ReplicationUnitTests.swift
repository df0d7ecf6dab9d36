import Foundation
import OCI
import Planner
import Registry
import Testing
@testable import Pusher
@testable import Run
@testable import RegistrySource

/// The replication pieces that need no registry: the rate-limit gate and book, the bounded pipe
/// between a download and an upload.
@Suite struct ReplicationUnitTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func gateProceedsWaitsOrStops() {
        let book = RateLimitBook()
        book.record(RateLimitStatus(limit: 100, remaining: 5, windowSeconds: 21600, observedAt: now), registry: "hub")
        #expect(RateLimitGate.decide(needed: ["hub": 5], book: book, now: now) == .proceed)
        // Registries that announce nothing are not limited.
        #expect(RateLimitGate.decide(needed: ["quiet.example": 500], book: book, now: now) == .proceed)

        guard case .stop(let message) = RateLimitGate.decide(needed: ["hub": 6], book: book, now: now) else {
            Issue.record("expected a stop"); return
        }
        #expect(message.contains("rate limit of hub: 5 of 100 requests left per 21600 s window"))
        #expect(message.contains("needs about 6 pull(s)"))
        #expect(message.contains("run again after \(RateLimitStatus.format(now.addingTimeInterval(21600)))"))

        book.record(
            RateLimitStatus(remaining: 0, resetAt: now.addingTimeInterval(20), observedAt: now.addingTimeInterval(1)), registry: "soon")
        #expect(RateLimitGate.decide(needed: ["soon": 1], book: book, now: now) == .wait(seconds: 20, registry: "soon"))
    }

    @Test func rememberedBudgetStopsOnlyWhenExhaustedUntilALaterReset() {
        let exhausted = RateLimitStatus(remaining: 0, resetAt: now.addingTimeInterval(3600), observedAt: now.addingTimeInterval(-60))
        guard case .stop(let message) = RateLimitGate.decide(remembered: exhausted, registry: "hub", now: now) else {
            Issue.record("expected a stop"); return
        }
        #expect(message.contains("run again after \(RateLimitStatus.format(now.addingTimeInterval(3600)))"))
        #expect(
            RateLimitGate.decide(
                remembered: RateLimitStatus(remaining: 0, resetAt: now.addingTimeInterval(-1), observedAt: now.addingTimeInterval(-60)),
                registry: "hub", now: now) == .proceed)
        #expect(
            RateLimitGate.decide(
                remembered: RateLimitStatus(remaining: 2, resetAt: now.addingTimeInterval(3600), observedAt: now),
                registry: "hub", now: now) == .proceed)
    }

    @Test func bookSpendsPullsAndRefusesWhenNothingIsLeft() throws {
        let book = RateLimitBook()
        book.record(RateLimitStatus(remaining: 2, resetAt: now.addingTimeInterval(600), observedAt: now), registry: "r")
        try book.spend(registry: "r", now: now)
        try book.spend(registry: "r", now: now)
        #expect(throws: RateLimitExhausted.self) { try book.spend(registry: "r", now: now) }
        // After the reset the registry is asked again (and tells its new budget).
        try book.spend(registry: "r", now: now.addingTimeInterval(601))
        #expect(book.status(of: "r") == nil)
        // An older observation never replaces a newer one.
        book.record(RateLimitStatus(remaining: 9, observedAt: now.addingTimeInterval(10)), registry: "r")
        book.record(RateLimitStatus(remaining: 1, observedAt: now), registry: "r")
        #expect(book.status(of: "r")?.remaining == 9)
    }

    @Test func pipeStaysWithinItsCapacityAndDeliversEveryByteInOrder() throws {
        let capacity = 1 << 20
        let pipe = BytePipe(capacity: capacity)
        let chunk = 256 << 10, chunks = 96  // 24 MiB through a 1 MiB pipe
        let writer = Thread {
            var block = [UInt8](repeating: 0, count: chunk)
            for i in 0..<chunks {
                for j in stride(from: 0, to: chunk, by: 4096) { block[j] = UInt8(truncatingIfNeeded: i &+ j) }
                try? block.withUnsafeBytes { try pipe.write($0) }
            }
            pipe.finish(error: nil)
        }
        writer.start()
        var hasher = DigestHasher()
        var expected = DigestHasher()
        var block = [UInt8](repeating: 0, count: chunk)
        for i in 0..<chunks {
            for j in stride(from: 0, to: chunk, by: 4096) { block[j] = UInt8(truncatingIfNeeded: i &+ j) }
            expected.update(block)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0, maxBuffered = 0
        while true {
            maxBuffered = max(maxBuffered, pipe.bufferedForTests)
            let n = try pipe.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += n
        }
        #expect(total == chunk * chunks)
        #expect(hasher.finalize() == expected.finalize())
        // The writer blocks at capacity: never more than capacity plus the chunk being added.
        #expect(maxBuffered <= capacity + chunk)
    }

    @Test func closedPipeReleasesABlockedWriterAndAFailedDownloadReachesTheReader() throws {
        let pipe = BytePipe(capacity: 16)
        let released = DispatchSemaphore(value: 0)
        let writer = Thread {
            let bytes = [UInt8](repeating: 1, count: 64)
            do {
                for _ in 0..<100 { try bytes.withUnsafeBytes { try pipe.write($0) } }
            } catch {
                released.signal()
            }
        }
        writer.start()
        Thread.sleep(forTimeInterval: 0.1)
        pipe.close()
        #expect(released.wait(timeout: .now() + 5) == .success, "the writer stayed blocked after the reader left")

        struct Boom: Error {}
        let failing = BytePipe(capacity: 16)
        failing.finish(error: Boom())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        #expect(throws: Boom.self) { _ = try failing.read(into: buffer) }
    }
}
