import Foundation

/// How times and sizes are shown to people.
public enum HumanFormat {
    /// `2026-11-29T03:45:00Z`: stable, sortable, for logs and machine output.
    public static func timestamp(_ date: Date) -> String { date.formatted(iso8601) }

    /// A format style is a value, cheap to use from any thread; an `ISO8601DateFormatter` made
    /// per call cost about half a millisecond, which a page of 50 rows felt.
    private static let iso8601 = Date.ISO8601FormatStyle()

    /// `just now`, `5m ago`, `3h ago`, `2d ago`; the date itself beyond eight weeks.
    public static func relative(_ date: Date, now: Date = Date()) -> String {
        let seconds = now.timeIntervalSince(date)
        let magnitude = abs(seconds)
        let text: String
        switch magnitude {
        case ..<60: return "just now"
        case ..<3600: text = "\(Int(magnitude / 60))m"
        case ..<86400: text = "\(Int(magnitude / 3600))h"
        case ..<(86400 * 14): text = "\(Int(magnitude / 86400))d"
        case ..<(86400 * 56): text = "\(Int(magnitude / 604_800))w"
        default: return String(timestamp(date).prefix(10))
        }
        return seconds >= 0 ? "\(text) ago" : "in \(text)"
    }

    /// `1.5s`, `2m05s`, `1h02m`.
    public static func duration(_ seconds: TimeInterval) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    /// `512 B`, `1.2 kB`, `34.5 MB` (SI units, as docker prints sizes).
    public static func bytes(_ count: Int64) -> String {
        if count < 1000 { return "\(count) B" }
        let units = ["kB", "MB", "GB", "TB", "PB"]
        var value = Double(count) / 1000, index = 0
        while value >= 1000 && index < units.count - 1 { value /= 1000; index += 1 }
        return String(format: "%.1f %@", value, units[index])
    }
}
