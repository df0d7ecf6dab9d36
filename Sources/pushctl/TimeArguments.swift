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
