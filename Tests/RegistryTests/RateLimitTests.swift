import Curl
import Foundation
import Testing
@testable import Registry

/// `RateLimitStatus.parse`: the header forms registries use to announce pull budgets.
@Suite struct RateLimitTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func headers(_ pairs: [(String, String)]) -> HTTPHeaders {
        var h = HTTPHeaders()
        for (name, value) in pairs { h.add(name, value) }
        return h
    }

    @Test func dockerHubFormGivesAWindowAndNoReset() throws {
        let status = try #require(
            RateLimitStatus.parse(
                status: 200,
                headers: headers([
                    ("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "76;w=21600"), ("docker-ratelimit-source", "203.0.113.9")
                ]), at: now))
        #expect(status == RateLimitStatus(limit: 100, remaining: 76, windowSeconds: 21600, resetAt: nil, observedAt: now))
        #expect(status.refillBy == now.addingTimeInterval(21600))
        #expect(status.description == "76 of 100 requests left per 21600 s window")
    }

    @Test func draftFieldsGiveAResetInSeconds() throws {
        let status = try #require(
            RateLimitStatus.parse(
                headers: headers([
                    ("RateLimit-Limit", "60"), ("RateLimit-Remaining", "3"), ("RateLimit-Reset", "42")
                ]), at: now))
        #expect(status.remaining == 3)
        #expect(status.limit == 60)
        #expect(status.resetAt == now.addingTimeInterval(42))
        #expect(status.refillBy == now.addingTimeInterval(42))
    }

    @Test func combinedFieldAndXPrefixedUnixResetAreRead() throws {
        let combined = try #require(RateLimitStatus.parse(headers: headers([("RateLimit", "limit=100, remaining=0, reset=5")]), at: now))
        #expect(combined.remaining == 0)
        #expect(combined.limit == 100)
        #expect(combined.resetAt == now.addingTimeInterval(5))
        let github = try #require(
            RateLimitStatus.parse(
                headers: headers([
                    ("X-RateLimit-Limit", "5000"), ("X-RateLimit-Remaining", "4999"), ("X-RateLimit-Reset", "1800003600")
                ]), at: now))
        #expect(github.resetAt == Date(timeIntervalSince1970: 1_800_003_600))
    }

    @Test func tooManyRequestsMeansNothingLeftUntilRetryAfter() throws {
        let status = try #require(RateLimitStatus.parse(status: 429, headers: headers([("Retry-After", "120")]), at: now))
        #expect(status.remaining == 0)
        #expect(status.resetAt == now.addingTimeInterval(120))
        // A 429 that also sends the Hub fields keeps the window and still says nothing is left.
        let hub = try #require(
            RateLimitStatus.parse(
                status: 429,
                headers: headers([
                    ("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "3;w=21600")
                ]), at: now))
        #expect(hub.remaining == 0)
        #expect(hub.windowSeconds == 21600)
    }

    @Test func responsesWithoutBudgetsAnnounceNothing() {
        #expect(RateLimitStatus.parse(status: 200, headers: headers([("Content-Type", "application/json")]), at: now) == nil)
        #expect(RateLimitStatus.parse(headers: headers([("RateLimit-Limit", "100")]), at: now) == nil)
        #expect(RateLimitStatus.parse(headers: headers([("RateLimit-Remaining", "lots")]), at: now) == nil)
    }
}
