import Foundation
import JobFile
import Testing

/// `schedule:` and `timezone:` (docs/jobfile.md "Schedules"): decoded into the job, wrong ones
/// reported at their place.
struct ScheduleKeyTests {
    @Test func scheduleAndTimezoneAreDecoded() throws {
        let loaded = loadJob(job(extra: "schedule: \"15 2 * * mon-fri\"\ntimezone: Europe/Berlin\n"))
        guard case .success(let decoded) = loaded else {
            Issue.record("not loaded: \(loaded)")
            return
        }
        let schedule = try #require(decoded.schedule)
        #expect(schedule.expression == "15 2 * * mon-fri")
        #expect(schedule.timeZone.identifier == "Europe/Berlin")
    }

    @Test func noScheduleIsNil() throws {
        guard case .success(let decoded) = loadJob(job()) else {
            Issue.record("not loaded")
            return
        }
        #expect(decoded.schedule == nil)
    }

    @Test func wrongExpressionAndZoneAreLocated() {
        #expect(
            problems(job(extra: "schedule: \"15 2 * *\"\ntimezone: Nowhere/Town\n")) == [
                "3:11: 'schedule': a schedule has 5 fields (minute hour day-of-month month day-of-week; 6 with seconds first), found 4",
                "4:11: 'timezone' 'Nowhere/Town' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"
            ])
        #expect(problems(job(extra: "schedule: \"61 * * * *\"\n")) == ["3:11: 'schedule': '61' is not a valid minute (0-59)"])
        #expect(problems(job(extra: "schedule: 5\n")).count == 1)
    }

    @Test func timezoneNeedsASchedule() {
        #expect(problems(job(extra: "timezone: UTC\n")) == ["3:11: 'timezone' is given without 'schedule'"])
    }
}
