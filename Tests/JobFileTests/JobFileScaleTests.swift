import Foundation
import Testing
import YAML
@testable import JobFile

/// Job files at the edges: long lists load in linear time, hostile nesting and size are
/// located errors (exit 2 in the CLI), not crashes.
@Suite struct JobFileScaleTests {
    static func timed<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
        let started = Date()
        let result = try body()
        print("\(what): \(String(format: "%.3f", Date().timeIntervalSince(started))) s")
        return result
    }

    static func jobWithTags(_ count: Int) -> String {
        job(
            image: """
                  - source: oci:build/app:1.0
                    repository: team/app
                    tags:
                \((0..<count).map { "      - t\($0)" }.joined(separator: "\n"))
                    targets: [prod]
                """)
    }

    /// Was 198 s (quadratic list building); now a fraction of a second.
    @Test func aHundredThousandTagsLoad() throws {
        let text = Self.jobWithTags(100_000)
        let loaded = Self.timed("load a job with 100,000 tags (\(text.utf8.count) bytes)") { loadJob(text) }
        let job = try loaded.get()
        guard case .list(let tags) = job.images.first?.tags else {
            Issue.record("expected a tag list")
            return
        }
        #expect(tags.count == 100_000)
        #expect(tags.first == "t0" && tags.last == "t99999")
    }

    static func jobWithImages(_ count: Int) -> String {
        job(
            image: (0..<count).map { i in
                """
                  - source: oci:build/app\(i):1.0
                    repository: team/app\(i)
                    tags: ["1.0"]
                    targets: [prod]
                """
            }.joined(separator: "\n"))
    }

    @Test func twentyThousandImagesLoad() throws {
        let images = (0..<20_000).map { i in
            """
              - source: oci:build/app\(i):1.0
                repository: team/app\(i)
                tags: ["1.0"]
                targets: [prod]
            """
        }.joined(separator: "\n")
        let text = job(image: images)
        let job = try Self.timed("load a job with 20,000 images") { loadJob(text) }.get()
        #expect(job.images.count == 20_000)
        #expect(job.images.last?.repository == "team/app19999")
    }

    /// The time `loadJob` takes for `text(count)`, for each count; `check` looks at each job.
    static func loadTimes(_ counts: [Int], _ text: (Int) -> String, check: (Job, Int) -> Void) throws -> [Double] {
        try counts.map { count in
            let text = text(count)
            let started = Date()
            let job = try loadJob(text).get()
            let seconds = Date().timeIntervalSince(started)
            check(job, count)
            return seconds
        }
    }

    /// Linear: ten times the tags costs about ten times the time, not a hundred. Printed only
    /// (timing on shared machines is noisy); the assertions are on the results.
    @Test func loadTimeGrowsLinearly() throws {
        let seconds = try Self.loadTimes([10_000, 100_000], Self.jobWithTags) { job, count in
            guard case .list(let tags) = job.images[0].tags else { Issue.record("expected a tag list"); return }
            #expect(tags.count == count)
        }
        let imageSeconds = try Self.loadTimes([2_000, 20_000], Self.jobWithImages) { job, count in
            #expect(job.images.count == count)
        }
        print(
            "2,000 images: \(String(format: "%.3f", imageSeconds[0])) s; 20,000 images: \(String(format: "%.3f", imageSeconds[1])) s (ratio \(String(format: "%.1f", imageSeconds[1] / max(imageSeconds[0], 1e-6))))"
        )
        print(
            "10,000 tags: \(String(format: "%.3f", seconds[0])) s; 100,000 tags: \(String(format: "%.3f", seconds[1])) s (ratio \(String(format: "%.1f", seconds[1] / max(seconds[0], 1e-6))))"
        )
    }

    @Test func deepNestingUnderAnExtensionKeyIsALocatedProblem() throws {
        let deep = "x-deep: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n"
        let result = loadJob(deep + job())
        guard case .failure(let errors) = result else {
            Issue.record("a 50,000-deep job file loaded")
            return
        }
        #expect(
            errors.problems.map(\.description) == [
                "/jobs/test.yaml:1:264: error: YAML nesting is deeper than 256 levels here; a job file needs a handful"
            ])
    }

    @Test func aJobFileOverSixteenMebibytesIsRefusedUnread() throws {
        let folder = NSTemporaryDirectory() + "pushctl-big-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/big.yaml"
        // A valid job followed by a comment that takes it past the limit (multi-byte characters,
        // so the cut at the limit falls inside one).
        let padding = "# " + String(repeating: "é", count: (16 << 20) / 2) + "\n"
        try (job() + "\n" + padding).write(toFile: path, atomically: false, encoding: .utf8)
        guard case .failure(let errors) = JobLoader.load(path: path, environment: [:]) else {
            Issue.record("a job file over 16 MiB loaded")
            return
        }
        #expect(errors.problems.count == 1)
        #expect(errors.problems.first?.location == Location(file: path, line: 1, column: 1))
        #expect(errors.problems.first?.message.contains("more than 16777216 bytes") == true)
    }
}
