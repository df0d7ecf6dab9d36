import Foundation

/// Bounded retries with exponential backoff and jitter, for connection failures, 5xx, 408 and 429
/// (a `Retry-After` from the registry wins over the computed delay).
public struct RetryPolicy: Sendable {
    /// One retry about to happen, for "Retrying in N seconds" output.
    public struct Event: Sendable {
        public let operation: String
        /// 1-based number of the attempt that failed.
        public let attempt: Int
        public let delaySeconds: Double
        public let reason: String
    }

    /// Attempts per request, including the first (job file `retries`).
    public var attempts: Int
    public var baseDelaySeconds: Double
    public var maxDelaySeconds: Double
    /// Fraction of the delay added or removed at random (0 = none).
    public var jitter: Double
    public var onRetry: (@Sendable (Event) -> Void)?
    /// Whether a request that cannot connect (DNS failure, connection refused, connect timeout)
    /// is tried again here. False when the caller has another endpoint of the same registry to
    /// fall back to: docs/jobfile.md abandons an endpoint that "cannot be reached" for the next one,
    /// and retrying with backoff first only delays the fallback by many seconds.
    public var retriesConnectFailures = true

    public init(
        attempts: Int = 5, baseDelaySeconds: Double = 1, maxDelaySeconds: Double = 30, jitter: Double = 0.2,
        onRetry: (@Sendable (Event) -> Void)? = nil
    ) {
        self.attempts = max(1, attempts)
        self.baseDelaySeconds = baseDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.jitter = jitter
        self.onRetry = onRetry
    }

    /// The delay after failed attempt `attempt` (1-based).
    public func delay(afterAttempt attempt: Int, retryAfter: Double? = nil) -> Double {
        if let retryAfter { return min(max(0, retryAfter), maxDelaySeconds) }
        let exponential = baseDelaySeconds * pow(2, Double(attempt - 1))
        let capped = min(exponential, maxDelaySeconds)
        guard jitter > 0 else { return capped }
        return max(0, capped * (1 + Double.random(in: -jitter...jitter)))
    }

    /// Parses `Retry-After`: delta seconds or an HTTP date.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: value) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }
}
