import Foundation
import JobFile
import Serve
import Testing

/// `schedule:` expressions (docs/jobfile.md "Schedules") and the scheduler, on a clock the test moves.
struct ScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!

    static func date(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }

    @Test func nightlyIsDueAtItsMinuteEveryDay() throws {
        let cron = try CronSchedule(parsing: "15 2 * * *")
        #expect(cron.next(after: Self.date("2026-12-06T21:40:00Z")) == Self.date("2026-12-07T02:15:00Z"))
        #expect(cron.next(after: Self.date("2026-12-07T02:15:00Z")) == Self.date("2026-12-08T02:15:00Z"))
    }

    @Test func rangesListsStepsAndNames() throws {
        let cron = try CronSchedule(parsing: "*/20 9-17/4 * jan,JUL mon-fri")
        // 2027-01-01 is a Friday: 09:00, 09:20, 09:40, 13:00, …
        var t = Self.date("2026-12-31T23:59:00Z")
        var seen: [Date] = []
        for _ in 0..<4 {
            t = try #require(cron.next(after: t))
            seen.append(t)
        }
        #expect(
            seen == ["2027-01-01T09:00:00Z", "2027-01-01T09:20:00Z", "2027-01-01T09:40:00Z", "2027-01-01T13:00:00Z"].map(Self.date))
        // The weekend is skipped: after Friday 17:40 comes Monday 09:00.
        #expect(cron.next(after: Self.date("2027-01-01T17:40:00Z")) == Self.date("2027-01-04T09:00:00Z"))
    }

    @Test func dayOfMonthOrDayOfWeekWhenBothAreRestricted() throws {
        // crontab(5): the 13th or any Friday.
        let cron = try CronSchedule(parsing: "0 0 13 * 5")
        #expect(cron.next(after: Self.date("2027-01-09T00:00:00Z")) == Self.date("2027-01-13T00:00:00Z"))
        #expect(cron.next(after: Self.date("2027-01-13T00:00:00Z")) == Self.date("2027-01-15T00:00:00Z"))
        // 7 is Sunday too.
        #expect(try CronSchedule(parsing: "0 0 * * 7").next(after: Self.date("2027-01-01T00:00:00Z")) == Self.date("2027-01-03T00:00:00Z"))
    }

    @Test func timeZoneMovesTheWallClockTime() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let cron = try CronSchedule(parsing: "15 2 * * *", timeZone: berlin)
        // Winter: UTC+1.
        #expect(cron.next(after: Self.date("2026-12-06T12:00:00Z")) == Self.date("2026-12-07T01:15:00Z"))
        // Summer: UTC+2.
        #expect(cron.next(after: Self.date("2027-07-01T12:00:00Z")) == Self.date("2027-07-02T00:15:00Z"))
    }

    @Test func secondsFieldFirstWhenSixFields() throws {
        let cron = try CronSchedule(parsing: "*/2 * * * * *")
        #expect(cron.next(after: Self.date("2027-01-01T00:00:01Z")) == Self.date("2027-01-01T00:00:02Z"))
        #expect(cron.next(after: Self.date("2027-01-01T00:00:02Z")) == Self.date("2027-01-01T00:00:04Z"))
    }

    @Test(arguments: [
        ("* * * *", "5 fields"), ("60 * * * *", "'60' is not a valid minute"), ("* 24 * * *", "'24' is not a valid hour"),
        ("* * 0 * *", "valid day of month"), ("* * * foo *", "'foo' is not a valid month"), ("*/0 * * * *", "'*/0'"),
        ("5-1 * * * *", "'5-1'"), ("1,,2 * * * *", "''")
    ])
    func invalidExpressionsSayWhichField(expression: String, expected: String) {
        #expect(throws: CronError.self) { try CronSchedule(parsing: expression) }
        do {
            _ = try CronSchedule(parsing: expression)
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test func neverDueExpressionHasNoNextTime() throws {
        #expect(try CronSchedule(parsing: "0 0 31 2 *").next(after: Self.date("2027-01-01T00:00:00Z")) == nil)
    }

    /// The scheduler on a clock the test controls: due once per period, a long pause fires once.
    @Test func schedulerFiresOncePerDueTimeOnAControlledClock() throws {
        let start = Self.date("2027-01-01T00:00:30Z")
        var scheduler = Scheduler(jobs: [("every-minute", try CronSchedule(parsing: "* * * * *"))], now: start)
        #expect(scheduler.due(at: start).isEmpty)
        let due1 = scheduler.due(at: Self.date("2027-01-01T00:00:59Z"))
        #expect(due1.isEmpty)
        let due2 = scheduler.due(at: Self.date("2027-01-01T00:01:00Z"))
        #expect(due2 == [.init(job: "every-minute", time: Self.date("2027-01-01T00:01:00Z"))])
        let due3 = scheduler.due(at: Self.date("2027-01-01T00:01:30Z"))
        #expect(due3.isEmpty)
        // The clock jumps ten minutes (a stopped process, a suspended machine): one run, not ten.
        let late = scheduler.due(at: Self.date("2027-01-01T00:11:10Z"))
        #expect(late.map(\.job) == ["every-minute"])
        #expect(scheduler.nextTime(of: "every-minute") == Self.date("2027-01-01T00:12:00Z"))
    }

    @Test func reloadKeepsTheNextTimeOfAnUnchangedSchedule() throws {
        let start = Self.date("2027-01-01T00:00:00Z")
        let hourly = try CronSchedule(parsing: "0 * * * *")
        var scheduler = Scheduler(jobs: [("a", hourly)], now: start)
        scheduler.replace(jobs: [("a", hourly), ("b", try CronSchedule(parsing: "30 * * * *"))], now: Self.date("2027-01-01T00:40:00Z"))
        #expect(scheduler.nextTime(of: "a") == Self.date("2027-01-01T01:00:00Z"))
        #expect(scheduler.nextTime(of: "b") == Self.date("2027-01-01T01:30:00Z"))
        scheduler.replace(jobs: [], now: start)
        #expect(scheduler.nextTime(of: "a") == nil)
    }
}
