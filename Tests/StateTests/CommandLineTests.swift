import Foundation
import OCI
import TestSupport
import Testing
@testable import State

/// Runs the built `pushctl` against state databases filled through `StateStore`.
@Suite struct CommandLineTests {
    /// Two runs of "nightly" 1.5 and 3.5 hours ago, one "release" run that failed before pushing.
    private func fixture() throws -> (path: String, runs: [RunID]) {
        let store = try openTemporaryStore()
        let now = Date()
        /// A push of `repository:tag` (digest `sha256:PREFIX000…`) started `at` seconds from now.
        func record(
            _ run: RunID, _ repository: String, _ tag: String, _ prefix: String, _ status: PushStatus = .pushed,
            at seconds: TimeInterval, error: String? = nil
        ) throws {
            var record = push(
                run: run, repository: repository, tag: tag, digest: try digest(hexPrefix: prefix), status: status,
                started: now.addingTimeInterval(seconds))
            if let error { record.error = error }
            try store.recordPush(record)
        }
        let r1 = try store.testRun(job: "nightly", started: now.addingTimeInterval(-12600))
        try record(r1, "team/app", "1.0", "abc1", at: -12600 + 1)
        try store.finishRun(r1, status: .ok, exitCode: 0, ended: now.addingTimeInterval(-12600 + 30))
        let r2 = try store.testRun(job: "nightly", started: now.addingTimeInterval(-5400))
        try record(r2, "team/lib", "2.0", "abc2", .failed, at: -5400 + 1, error: "HTTP 500, \"internal\" from registry.example.com")
        try record(r2, "team/app", "1.0", "abc1", .unchanged, at: -5400 + 2)
        try record(r2, "team/app", "latest", "abc1", at: -5400 + 3)
        try store.finishRun(r2, status: .failed, exitCode: 1, ended: now.addingTimeInterval(-5400 + 40))
        let r3 = try store.testRun(job: "release", started: now.addingTimeInterval(-60))
        try store.finishRun(r3, status: .failed, exitCode: 2, ended: now.addingTimeInterval(-59))
        return (store.path, [r1, r2, r3])
    }

    @Test func historyJSONValidatesAgainstItsSchema() throws {
        let (path, runs) = try fixture()
        let result = try PushctlBinary.run(["history", "--state", path, "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let problems = try SchemaValidator.problems(result.stdout, schema: "history-v1.schema.json")
        #expect(problems == nil, "\(problems ?? "")")
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let entries = try #require(document?["entries"] as? [[String: Any]])
        #expect(entries.count == 5)
        #expect(
            entries.compactMap { ($0["run"] as? [String: Any])?["id"] as? Int }
                == [runs[2], runs[1], runs[1], runs[1], runs[0]].map { Int($0.rawValue) })
        #expect(entries.first?["push"] is NSNull)
        #expect(entries.compactMap { ($0["push"] as? [String: Any])?["tag"] as? String } == ["latest", "1.0", "2.0", "1.0"])
        // The validator is not vacuous: a broken document is rejected.
        #expect(
            try SchemaValidator.problems(
                #"{"schema": "pushctl-history-v1", "entries": [{"state": "x"}]}"#, schema: "history-v1.schema.json") != nil)
    }

    @Test func showJSONValidatesAndLastIsTheNewestRun() throws {
        let (path, runs) = try fixture()
        let result = try PushctlBinary.run(["show", String(runs[1].rawValue), "--state", path, "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let problems = try SchemaValidator.problems(result.stdout, schema: "show-v1.schema.json")
        #expect(problems == nil, "\(problems ?? "")")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let pushes = try #require(document["pushes"] as? [[String: Any]])
        #expect(pushes.compactMap { $0["status"] as? String } == ["failed", "unchanged", "pushed"])
        #expect(pushes.first?["error"] as? String == "HTTP 500, \"internal\" from registry.example.com")

        let last = try PushctlBinary.run(["show", "last", "--state", path, "--output", "json"])
        let lastProblems = try SchemaValidator.problems(last.stdout, schema: "show-v1.schema.json")
        #expect(lastProblems == nil, "\(lastProblems ?? "")")
        let lastRun = (try JSONSerialization.jsonObject(with: Data(last.stdout.utf8)) as? [String: Any])?["run"] as? [String: Any]
        #expect(lastRun?["id"] as? Int == Int(runs[2].rawValue))
        #expect(lastRun?["exitCode"] as? Int == 2)
    }

    @Test func showText() throws {
        let (path, runs) = try fixture()
        let result = try PushctlBinary.run(["show", String(runs[1].rawValue), "--state", path])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        for expected in [
            "Run \(runs[1]) (apply)", "Job:", "nightly", "jobs/nightly.yaml (\(digest("job nightly").string))",
            "failed, exit code 1", "pushctl:", "0.1.0-test", "1 pushed, 1 unchanged, 1 failed",
            "registry.example.com/team/lib:2.0  failed", "endpoint:", "https://registry.example.com",
            "2 uploaded, 1 mounted, 3 present", "error:", "HTTP 500", try digest(hexPrefix: "abc1").string
        ] {
            #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
        }
    }

    @Test func showPrometheus() throws {
        let (path, runs) = try fixture()
        let result = try PushctlBinary.run(["show", "\(runs[1])", "--state", path, "--output", "prometheus"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // Exposition format: every sample follows HELP and TYPE lines for its metric, and carries the job label.
        var declared = Set<String>(), samples = [String: String]()
        for line in lines {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4 && parts[3] == "gauge", "bad TYPE line \(line)")
                declared.insert(String(parts[2]))
                continue
            }
            let match = try #require(line.wholeMatch(of: /([a-z_]+)\{(job="nightly"[^}]*)\} (-?[0-9.]+)/), "bad sample line \(line)")
            #expect(declared.contains(String(match.1)), "sample before its TYPE: \(line)")
            samples["\(match.1){\(match.2)}"] = String(match.3)
        }
        #expect(samples[#"pushctl_run_pushes{job="nightly",status="pushed"}"#] == "1")
        #expect(samples[#"pushctl_run_pushes{job="nightly",status="unchanged"}"#] == "1")
        #expect(samples[#"pushctl_run_pushes{job="nightly",status="failed"}"#] == "1")
        #expect(samples[#"pushctl_run_bytes_uploaded{job="nightly"}"#] == "3000")
        #expect(samples[#"pushctl_run_blobs{job="nightly",status="mounted"}"#] == "3")
        #expect(samples[#"pushctl_run_exit_code{job="nightly"}"#] == "1")
        #expect(samples[#"pushctl_run_success{job="nightly"}"#] == "0")
        #expect(samples[#"pushctl_run_duration_seconds{job="nightly"}"#] == "40.000")
        let ended = try #require(samples[#"pushctl_run_timestamp_seconds{job="nightly"}"#].flatMap(Double.init))
        #expect(abs(ended - Date().addingTimeInterval(-5400 + 40).timeIntervalSince1970) < 60)
    }

    @Test func historyCSV() throws {
        let (path, _) = try fixture()
        let result = try PushctlBinary.run(["history", "--state", path, "--output", "csv", "--status", "failed"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("state,run_id,job,run_status,kind,time,registry_host,repository,tag,") == true)
        // The error holds a comma and quotes: quoted, quotes doubled.
        #expect(lines.last?.hasSuffix(#","HTTP 500, ""internal"" from registry.example.com""#) == true)
        #expect(lines.last?.contains(",team/lib,2.0,") == true)
    }

    @Test func historyPlainTextIsAlignedWithFullDigestsAndTimestamps() throws {
        let (path, _) = try fixture()
        let result = try PushctlBinary.run(["history", "--state", path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        let header = try #require(lines.first)
        let statusColumn = try #require(header.range(of: "STATUS")).lowerBound.utf16Offset(in: header)
        let targetColumn = try #require(header.range(of: "TARGET")).lowerBound.utf16Offset(in: header)
        for line in lines.dropFirst() {
            let chars = Array(line)
            #expect(chars[statusColumn - 1] == " " && chars[statusColumn] != " ", "STATUS not aligned: \(line)")
            #expect(chars[targetColumn - 1] == " " && chars[targetColumn] != " ", "TARGET not aligned: \(line)")
        }
        #expect(result.stdout.contains(try digest(hexPrefix: "abc1").string))
        #expect(result.stdout.contains(HumanFormatCheck.todayPrefix()))
        #expect(!result.stdout.contains(" ago"))
        #expect(lines[1].contains("run failed") && lines[1].contains("(no pushes)"))
    }

    @Test func historyOnATerminalUsesRelativeTimesAndShortDigests() throws {
        let (path, _) = try fixture()
        let result = try PushctlBinary.runOnTerminal(["history", "--state", path, "--job", "nightly"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("1h ago"))
        #expect(result.stdout.contains("3h ago"))
        let short = String(try digest(hexPrefix: "abc1").hex.prefix(12))
        #expect(result.stdout.contains(short))
        #expect(!result.stdout.contains(try digest(hexPrefix: "abc1").string))
    }

    @Test func historyFiltersOnTheCommandLine() throws {
        let (path, _) = try fixture()
        func tags(_ args: [String]) throws -> [String] {
            let result = try PushctlBinary.run(["history", "--state", path, "--output", "json"] + args)
            #expect(result.status == 0, "\(args): \(result.stderr)")
            let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return (document?["entries"] as? [[String: Any]] ?? []).map { ($0["push"] as? [String: Any])?["tag"] as? String ?? "-" }
        }
        #expect(try tags(["--since", "2h"]) == ["-", "latest", "1.0", "2.0"])
        #expect(try tags(["--since", "100m"]) == ["-", "latest", "1.0", "2.0"])
        #expect(try tags(["--since", "1d"]) == ["-", "latest", "1.0", "2.0", "1.0"])
        #expect(try tags(["--since", HumanFormatCheck.iso(Date().addingTimeInterval(-7200))]) == ["-", "latest", "1.0", "2.0"])
        #expect(try tags(["--since", "2999-01-01"]).isEmpty)
        #expect(try tags(["--status", "ok"]) == ["latest", "1.0"])
        #expect(try tags(["--status", "unchanged"]) == ["1.0"])
        #expect(try tags(["--repository", "team/app", "--tag", "1.0"]) == ["1.0", "1.0"])
        #expect(try tags(["--digest", "abc2"]) == ["2.0"])
        #expect(try tags(["--job", "release"]) == ["-"])
        #expect(try tags(["--limit", "2"]) == ["-", "latest"])
    }

    @Test func severalStateDatabases() throws {
        let (a, _) = try fixture(), (b, _) = try fixture()
        let result = try PushctlBinary.run(["history", "--state", a, "--state", b, "--output", "json", "--tag", "latest"])
        #expect(result.status == 0, "\(result.stderr)")
        let entries = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["entries"] as? [[String: Any]]
        #expect(Set(entries?.compactMap { $0["state"] as? String } ?? []) == [a, b])
        let text = try PushctlBinary.run(["history", "--state", a, "--state", b])
        #expect(text.stdout.hasPrefix("STATE"))
    }

    @Test func invalidInputExitsWithTwo() throws {
        let (path, _) = try fixture()
        let cases: [([String], String)] = [
            (["show", "999", "--state", path], "no run 999"),
            (["show", "nope", "--state", path], "invalid run \"nope\""),
            (["history", "--state", path, "--digest", "abc"], "ambiguous"),
            (["history", "--state", path, "--digest", "zz"], "invalid digest"),
            (["history", "--state", path, "--since", "yesterday"], "invalid --since"),
            (["history", "--state", path, "--status", "weird"], "invalid --status"),
            (["history", "--state", path + ".missing"], "no state database"),
            (["prune-history", "--state", path], "--older-than"),
            (["show", "last", "--state", path, "--state", path], "one --state"),
            // ArgumentParser's own usage errors are mapped from 64 to docs/cli.md's 2.
            (["history", "--state", path, "--output", "xml"], "'xml' is invalid"),
            (["history", "--no-such-option"], "Unknown option")
        ]
        for (arguments, message) in cases {
            let result = try PushctlBinary.run(arguments)
            #expect(result.status == 2, "\(arguments) exited \(result.status)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        // The ambiguity error lists the candidates.
        let ambiguous = try PushctlBinary.run(["history", "--state", path, "--digest", "sha256:abc"])
        #expect(ambiguous.stderr.contains(try digest(hexPrefix: "abc1").string))
        #expect(ambiguous.stderr.contains(try digest(hexPrefix: "abc2").string))
        // Reading never creates a database.
        #expect(!FileManager.default.fileExists(atPath: path + ".missing"))
    }

    @Test func helpAndVersionExitZero() throws {
        let help = try PushctlBinary.run(["history", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--digest"))
        #expect(try PushctlBinary.run(["--version"]).status == 0)
    }

    @Test func pruneHistoryOnTheCommandLine() throws {
        let (path, _) = try fixture()
        try StateStore.open(path: path).recordBlob(
            registryHost: "registry.example.com", repository: "team/app",
            digest: digest("layer"), identity: "i")
        let result = try PushctlBinary.run(["prune-history", "--state", path, "--older-than", "2h"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Removed 1 run and 1 push"))
        let after = try StateStore.open(path: path)
        #expect(try after.history(HistoryFilter()).count == 4)
        #expect(try after.isBlobKnown(registryHost: "registry.example.com", repository: "team/app", digest: digest("layer")))
        let keep = try PushctlBinary.run(["prune-history", "--state", path, "--keep-runs", "1"])
        #expect(keep.stdout.contains("Removed 1 run and 3 pushes"))
        #expect(try after.history(HistoryFilter()).map(\.run.job) == ["release"])
    }

    @Test func defaultStatePathComesFromTheEnvironment() throws {
        let (path, _) = try fixture()
        let result = try PushctlBinary.run(["history", "--output", "csv"], environment: ["PUSHCTL_STATE": path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(path))
    }
}

enum HumanFormatCheck {
    static func iso(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// `YYYY-MM-DDT` of 1.5 hours ago (the fixture's newest push), as plain output prints times.
    static func todayPrefix() -> String { String(iso(Date().addingTimeInterval(-5400)).prefix(11)) }
}
