import Foundation
import Testing
@testable import State

/// The `rate_limits` table (migration 3): the last budget each source registry announced.
@Suite struct RateLimitStoreTests {
    @Test(arguments: LedgerBackend.allCases) func newestBudgetPerRegistryIsKept(backend: LedgerBackend) throws {
        let store = try backend.open()
        #expect(try store.rateLimit(registryHost: "registry-1.docker.io") == nil)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let first = RateLimitRecord(
            registryHost: "registry-1.docker.io", limit: 100, remaining: 40, windowSeconds: 21600,
            resetAt: nil, observedAt: t0)
        try store.recordRateLimit(first)
        #expect(try store.rateLimit(registryHost: "registry-1.docker.io") == first)

        let later = RateLimitRecord(
            registryHost: "registry-1.docker.io", limit: 100, remaining: 12, windowSeconds: 21600,
            resetAt: t0.addingTimeInterval(900), observedAt: t0.addingTimeInterval(60))
        try store.recordRateLimit(later)
        #expect(try store.rateLimit(registryHost: "registry-1.docker.io") == later)

        // An older observation (e.g. from a slower shard) does not overwrite a newer one.
        try store.recordRateLimit(
            RateLimitRecord(
                registryHost: "registry-1.docker.io", limit: nil, remaining: 99, windowSeconds: nil,
                resetAt: nil, observedAt: t0.addingTimeInterval(30)))
        #expect(try store.rateLimit(registryHost: "registry-1.docker.io") == later)
        // Registries are kept apart.
        #expect(try store.rateLimit(registryHost: "ghcr.io") == nil)
    }
}
