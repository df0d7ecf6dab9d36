import Curl
import Foundation

/// A registry's pull budget as its responses announce it, so a replication run can stop (or wait)
/// before it burns into `429 Too Many Requests` (docs/replication.md "Rate limits").
///
/// Forms understood (header names are case-insensitive):
/// - Docker Hub: `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600` (a window
///   in seconds, no reset time; https://docs.docker.com/docker-hub/usage/pulls/);
/// - the IETF draft's separate fields: `RateLimit-Limit: 100`, `RateLimit-Remaining: 3`,
///   `RateLimit-Reset: 30` (seconds until the window resets; `X-RateLimit-*` too, where a reset
///   above 10^9 is read as a Unix time, as GitHub-style APIs send it);
/// - the draft's combined field: `RateLimit: limit=100, remaining=3, reset=30`;
/// - a `429` answer: nothing remains, until `Retry-After` if it says.
public struct RateLimitStatus: Sendable, Equatable, CustomStringConvertible {
    /// Requests allowed per window, when announced.
    public var limit: Int?
    /// Requests left in the current window.
    public var remaining: Int
    /// The window's length in seconds (`w=`), when announced.
    public var windowSeconds: Int?
    /// When the window resets, when announced.
    public var resetAt: Date?
    /// When the registry said so.
    public var observedAt: Date

    public init(limit: Int? = nil, remaining: Int, windowSeconds: Int? = nil, resetAt: Date? = nil, observedAt: Date) {
        self.limit = limit
        self.remaining = remaining
        self.windowSeconds = windowSeconds
        self.resetAt = resetAt
        self.observedAt = observedAt
    }

    /// The budget a response announces, or nil when it announces none.
    public static func parse(status: Int, headers: HTTPHeaders, at now: Date = Date()) -> RateLimitStatus? {
        if status == 429 {
            let retryAfter = RetryPolicy.parseRetryAfter(headers["Retry-After"])
            var parsed = parse(headers: headers, at: now) ?? RateLimitStatus(remaining: 0, observedAt: now)
            parsed.remaining = 0
            if let retryAfter { parsed.resetAt = now.addingTimeInterval(retryAfter) }
            return parsed
        }
        return parse(headers: headers, at: now)
    }

    /// The budget the rate-limit header fields announce, or nil without them.
    public static func parse(headers: HTTPHeaders, at now: Date = Date()) -> RateLimitStatus? {
        if let combined = headers["RateLimit"], let parsed = parseCombined(combined, at: now) { return parsed }
        for prefix in ["RateLimit-", "X-RateLimit-"] {
            guard let remainingField = headers[prefix + "Remaining"].map(Field.init),
                let remaining = remainingField.value
            else { continue }
            let limitField = headers[prefix + "Limit"].map(Field.init)
            let reset = headers[prefix + "Reset"].flatMap { Field($0).value }
            return RateLimitStatus(
                limit: limitField?.value, remaining: max(0, remaining),
                windowSeconds: remainingField.window ?? limitField?.window,
                resetAt: reset.map { resetDate($0, now: now) }, observedAt: now)
        }
        return nil
    }

    /// `RateLimit: limit=100, remaining=3, reset=30`.
    private static func parseCombined(_ text: String, at now: Date) -> RateLimitStatus? {
        var values: [String: Int] = [:]
        for part in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if pair.count == 2, let number = Int(pair[1]) { values[pair[0]] = number }
        }
        guard let remaining = values["remaining"] ?? values["r"] else { return nil }
        let reset = values["reset"] ?? values["t"]
        return RateLimitStatus(
            limit: values["limit"], remaining: max(0, remaining), windowSeconds: values["w"],
            resetAt: reset.map { resetDate($0, now: now) }, observedAt: now)
    }

    /// Seconds from now, or a Unix time when the number is that large.
    private static func resetDate(_ value: Int, now: Date) -> Date {
        value > 1_000_000_000 ? Date(timeIntervalSince1970: TimeInterval(value)) : now.addingTimeInterval(TimeInterval(value))
    }

    /// `76;w=21600` → value 76, window 21600.
    private struct Field {
        var value: Int?
        var window: Int?

        init(_ text: String) {
            let parts = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            value = parts.first.flatMap { Int($0) }
            for part in parts.dropFirst() where part.lowercased().hasPrefix("w=") {
                window = Int(part.dropFirst(2))
            }
        }
    }

    /// The earliest time the budget is known to be refilled: the announced reset, else (Docker
    /// Hub) the end of a window that started no earlier than now.
    public var refillBy: Date? {
        resetAt ?? windowSeconds.map { observedAt.addingTimeInterval(TimeInterval($0)) }
    }

    public var description: String {
        var text = "\(remaining)" + (limit.map { " of \($0)" } ?? "") + " requests left"
        if let windowSeconds { text += " per \(windowSeconds) s window" }
        if let resetAt { text += ", resets at \(RateLimitStatus.format(resetAt))" }
        return text
    }

    /// `2026-11-29 05:12:00 UTC`.
    public static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }
}
