import Foundation

/// A job's `schedule:` (docs/jobfile.md "Schedules"): a cron expression as crontab(5) writes it —
/// five fields `minute hour day-of-month month day-of-week`, each `*`, a number, a range `a-b`, a
/// list `a,b`, a step `*/n` or `a-b/n`, month and weekday names (`jan`, `mon`), `7` for Sunday —
/// evaluated in `timezone` (an IANA name; UTC when not given).
///
/// A sixth, leading field gives seconds (`*/5 * * * * *`, as in Quartz and robfig/cron): the
/// tests of `serve` use it to see a schedule fire within seconds instead of a minute.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let expression: String
    public let timeZone: TimeZone
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    let daysOfWeek: Set<Int>
    /// crontab(5): when both day fields are restricted, a day matching either one is due.
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { expression + (timeZone.identifier == "UTC" ? "" : " (\(timeZone.identifier))") }

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `expression`; the error says which field is wrong and why.
    public init(parsing expression: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(CronError) {
        self.expression = expression
        self.timeZone = timeZone
        var fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else { throw .fieldCount(fields.count) }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.field(fields[0], "second", 0...59, names: [])
        minutes = try Self.field(fields[1], "minute", 0...59, names: [])
        hours = try Self.field(fields[2], "hour", 0...23, names: [])
        daysOfMonth = try Self.field(fields[3], "day of month", 1...31, names: [])
        months = try Self.field(fields[4], "month", 1...12, names: Self.monthNames, firstName: 1)
        // 7 is Sunday as well as 0.
        let weekdays = try Self.field(fields[5], "day of week", 0...7, names: Self.dayNames, firstName: 0)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        dayOfMonthRestricted = !fields[3].hasPrefix("*")
        dayOfWeekRestricted = !fields[5].hasPrefix("*")
    }

    private static func field(
        _ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String], firstName: Int = 0
    ) throws(CronError) -> Set<Int> {
        func value(_ s: String) throws(CronError) -> Int {
            if let index = names.firstIndex(of: s.lowercased()) { return index + firstName }
            guard let n = Int(s), range.contains(n) else { throw .badValue(field: name, value: s, range: range) }
            return n
        }
        var out = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw .badPart(field: name, part: part) }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n > 0 else { throw .badPart(field: name, part: part) }
                step = n
            }
            var low: Int
            var high: Int
            if pieces[0] == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard bounds.count <= 2, bounds.allSatisfy({ !$0.isEmpty }) else { throw .badPart(field: name, part: part) }
                low = try value(bounds[0])
                high = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else { throw .badPart(field: name, part: part) }
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    /// Whether the second at `components` (in `timeZone`) is due.
    func matches(_ c: DateComponents) -> Bool {
        guard let second = c.second, let minute = c.minute, let hour = c.hour, let day = c.day, let month = c.month,
            let weekday = c.weekday
        else { return false }
        let dayOK: Bool
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday - 1)
        if dayOfMonthRestricted && dayOfWeekRestricted {
            dayOK = dom || dow
        } else {
            dayOK = dom && dow
        }
        return dayOK && months.contains(month) && hours.contains(hour) && minutes.contains(minute) && seconds.contains(second)
    }

    /// The first due time strictly after `date`, or nil when none within eight years (`30 2 31 2 *`).
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let units: Set<Calendar.Component> = [.year, .month, .day, .hour, .minute, .second, .weekday]
        // Whole seconds: the next candidate is the second after `date`.
        var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 + 1).rounded(.down))
        let limit = date.addingTimeInterval(8 * 366 * 86400)
        while t < limit {
            let c = calendar.dateComponents(units, from: t)
            guard let month = c.month, let hour = c.hour, let minute = c.minute, let second = c.second else { return nil }
            // Skip ahead by the largest unit that does not match (a month, a day, an hour, a minute).
            if !months.contains(month) {
                let year = (c.year ?? 1970) + (month == 12 ? 1 : 0)
                t = calendar.date(from: DateComponents(year: year, month: month % 12 + 1, day: 1)) ?? limit
            } else if !matchesDay(c) {
                t = calendar.startOfDay(for: calendar.date(byAdding: .day, value: 1, to: t) ?? limit)
            } else if !hours.contains(hour) {
                t = t.addingTimeInterval(TimeInterval(3600 - minute * 60 - second))
            } else if !minutes.contains(minute) {
                t = t.addingTimeInterval(TimeInterval(60 - second))
            } else if !seconds.contains(second) {
                t = t.addingTimeInterval(1)
            } else {
                return t
            }
        }
        return nil
    }

    private func matchesDay(_ c: DateComponents) -> Bool {
        var copy = c
        copy.hour = hours.min()
        copy.minute = minutes.min()
        copy.second = seconds.min()
        return matches(copy)
    }
}

/// Why a `schedule:` expression is not valid.
public enum CronError: Error, Sendable, Equatable, CustomStringConvertible {
    case fieldCount(Int)
    case badValue(field: String, value: String, range: ClosedRange<Int>)
    case badPart(field: String, part: String)

    public var description: String {
        switch self {
        case .fieldCount(let n):
            "a schedule has 5 fields (minute hour day-of-month month day-of-week; 6 with seconds first), found \(n)"
        case .badValue(let field, let value, let range):
            "'\(value)' is not a valid \(field) (\(range.lowerBound)-\(range.upperBound)\(field == "month" || field == "day of week" ? " or a name" : ""))"
        case .badPart(let field, let part):
            "'\(part)' is not a valid \(field) field (use *, N, A-B, lists with ',' and steps with '/N')"
        }
    }
}
