import Foundation
import SQLite

/// A source registry's pull budget as last announced (its `RateLimit-*` response headers), so the
/// next run (often the next cron run) knows it before sending anything (docs/replication.md).
public struct RateLimitRecord: Sendable, Equatable {
    public var registryHost: String
    public var limit: Int?
    public var remaining: Int
    public var windowSeconds: Int?
    public var resetAt: Date?
    public var observedAt: Date

    public init(registryHost: String, limit: Int?, remaining: Int, windowSeconds: Int?, resetAt: Date?, observedAt: Date) {
        self.registryHost = registryHost
        self.limit = limit
        self.remaining = remaining
        self.windowSeconds = windowSeconds
        self.resetAt = resetAt
        self.observedAt = observedAt
    }
}

extension StateStore {
    /// Keeps the newer of the stored and the inserted budget (also `state copy`'s merge).
    static let upsertRateLimitSQL = """
                INSERT INTO rate_limits (registry_host, limit_total, remaining, window_seconds, reset_at, observed_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (registry_host) DO UPDATE SET
                    limit_total = excluded.limit_total, remaining = excluded.remaining,
                    window_seconds = excluded.window_seconds, reset_at = excluded.reset_at,
                    observed_at = excluded.observed_at
                WHERE excluded.observed_at >= rate_limits.observed_at
        """

    /// Keeps the newer of the stored and the given record for its registry.
    public func recordRateLimit(_ record: RateLimitRecord) throws(StateError) {
        try write { c in
            try c.run(
                Self.upsertRateLimitSQL,
                [
                    record.registryHost, record.limit, record.remaining, record.windowSeconds,
                    record.resetAt?.timeIntervalSince1970, record.observedAt.timeIntervalSince1970
                ])
        }
    }

    /// The last budget recorded for `registryHost`, if any.
    public func rateLimit(registryHost: String) throws(StateError) -> RateLimitRecord? {
        try read { c in
            try c.query(
                """
                SELECT limit_total, remaining, window_seconds, reset_at, observed_at FROM rate_limits WHERE registry_host = ?
                """, [registryHost]
            ) { row in
                RateLimitRecord(
                    registryHost: registryHost, limit: try row.optionalInt64(0).map { Int($0) },
                    remaining: Int(try row.int64(1)), windowSeconds: try row.optionalInt64(2).map { Int($0) },
                    resetAt: try row.optionalDouble(3).map { Date(timeIntervalSince1970: $0) },
                    observedAt: Date(timeIntervalSince1970: try row.double(4)))
            }.first
        }
    }
}
