import Foundation

/// Parses `--since` / `--older-than` values: a duration back from now (`30m`, `12h`, `7d`, `2w`,
/// or combined like `1d12h`; units s, m, h, d, w), a date `2026-11-01` (midnight UTC), or an
/// ISO-8601 timestamp (`2026-11-01T12:00:00Z`, with offset or fractional seconds).
enum TimeArgument {
    static func parse(_ text: String, now: Date = Date()) -> Date? {
        if let seconds = duration(text) { return now.addingTimeInterval(-seconds) }
        if let date = day(text) { return date }
        return timestamp(text)
    }

    /// Seconds in a duration such as `1d12h`; nil if `text` is not one.
    static func duration(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var total: TimeInterval = 0, number = "", sawUnit = false
        for c in text {
            if c.isASCII && c.isNumber { number.append(c); continue }
            guard let unit = units[c], let n = Double(number) else { return nil }
            total += n * unit
            number = ""
            sawUnit = true
        }
        return sawUnit && number.isEmpty ? total : nil
    }

    private static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: y, month: m, day: d)
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    private static func timestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// How times and sizes are shown to people.
enum HumanFormat {
    /// `2026-11-29T03:45:00Z`: stable, sortable, for logs and machine output.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// `just now`, `5m ago`, `3h ago`, `2d ago`; the date itself beyond eight weeks.
    static func relative(_ date: Date, now: Date = Date()) -> String {
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
    static func duration(_ seconds: TimeInterval) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    /// `512 B`, `1.2 kB`, `34.5 MB` (SI units, as docker prints sizes).
    static func bytes(_ count: Int64) -> String {
        if count < 1000 { return "\(count) B" }
        let units = ["kB", "MB", "GB", "TB", "PB"]
        var value = Double(count) / 1000, index = 0
        while value >= 1000 && index < units.count - 1 { value /= 1000; index += 1 }
        return String(format: "%.1f %@", value, units[index])
    }
}

/// Renders rows as columns padded to their widest cell (the last column is not padded).
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n") + "\n"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
