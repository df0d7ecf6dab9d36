import Foundation
import OCI
import RegistryHarness
import Testing

/// The rough edges a first-time user met (docs/cli.md), each pinned by a test against the built
/// binary and a real registry where one is needed.
@Suite(.serialized) struct FirstUseTests {
    func simpleJob(_ scratch: Scratch, _ registry: RegistryServer, name: String = "first") throws -> (job: String, image: Descriptor) {
        let writer = try LayoutWriter(path: scratch.sub("image-\(name)"))
        let image = try writer.addImage(tag: "1", randomLayerSize: 20_000)
        let job = try scratch.job(
            JobSpec(name)
                .registry("lab", url: registry.baseURL)
                .image("oci:image-\(name):1", repository: "team/\(name)", tags: ["1"], targets: ["lab"]))
        return (job, image)
    }

    func pushctl(_ arguments: [String], _ scratch: Scratch) throws -> ToolResult {
        try run(pushctlBinary, arguments, environment: scratch.environment, directory: scratch.path)
    }

    @Test func historyFiltersAndSaysWhenNothingMatches() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let (job, _) = try simpleJob(scratch, registry)
        #expect(try apply(job, scratch: scratch).status == 0)

        let none = try pushctl(["history", "--state", scratch.state, "--tag", "no-such-tag"], scratch)
        #expect(none.status == 0)
        #expect(none.stdout.isEmpty)
        #expect(none.stderr.contains("no runs or pushes match"), "\(none.stderr)")

        let byRegistry = try pushctl(["history", "--state", scratch.state, "--registry", "lab", "--output", "csv"], scratch)
        #expect(byRegistry.status == 0)
        #expect(byRegistry.stdout.split(separator: "\r\n").count == 2, "header and one push: \(byRegistry.stdout)")
        let byHost = try pushctl(["history", "--state", scratch.state, "--registry", registry.host, "--output", "csv"], scratch)
        #expect(byHost.stdout == byRegistry.stdout)

        let verify = try pushctl(["verify", "--state", scratch.state, job], scratch)
        #expect(verify.status == 0, "\(verify.stderr)")
        let verifyRuns = try pushctl(["history", "--state", scratch.state, "--kind", "verify", "--output", "csv"], scratch)
        #expect(verifyRuns.stdout.contains(",verification-ok,verify,"), "\(verifyRuns.stdout)")
        #expect(!verifyRuns.stdout.contains(",apply,"))

        let until = try pushctl(["history", "--state", scratch.state, "--until", "2000-01-01"], scratch)
        #expect(until.stdout.isEmpty && until.stderr.contains("no runs or pushes match"))
        let bad = try pushctl(["history", "--state", scratch.state, "--kind", "prune-ish"], scratch)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("expected apply or verify"))
    }

    @Test func showOfAVerifyRunListsWhatItFound() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let (job, image) = try simpleJob(scratch, registry)
        #expect(try apply(job, scratch: scratch).status == 0)
        // Someone deletes the tag's manifest behind pushctl's back.
        _ = try TestTools.run("skopeo", ["delete", "--tls-verify=false", "docker://\(registry.host)/team/first:1"])
        let verify = try pushctl(["verify", "--state", scratch.state, job], scratch)
        #expect(verify.status == 4)

        let shown = try pushctl(["show", "last", "--state", scratch.state], scratch)
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("Checked 1 tag: 0 ok, 0 changed, 1 gone"), "\(shown.stdout)")
        #expect(shown.stdout.contains("GONE       \(registry.host)/team/first:1 pushed \(image.digest)"), "\(shown.stdout)")
        let json = try pushctlJSON(["show", "last"], scratch: scratch)
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(checks.map { $0["status"] as? String } == ["gone"])

        // `show` reads one database, and its usage says so (it used to offer `--state <path> ...`).
        let help = try pushctl(["show", "--help"], scratch)
        #expect(help.stdout.contains("--state <path>") && !help.stdout.contains("--state <path> ..."), "\(help.stdout)")
    }

    /// The schemas refer to each other by relative `$ref`s: they validate offline, side by side,
    /// with no network and no schema store.
    @Test func schemasResolveOffline() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let (job, _) = try simpleJob(scratch, registry)
        #expect(try apply(job, scratch: scratch).status == 0)
        let shown = try pushctl(["show", "last", "--output", "json", "--state", scratch.state], scratch)
        let document = scratch.sub("show.json")
        try shown.stdout.write(toFile: document, atomically: true, encoding: .utf8)
        // The one validator resolves `$ref`s among the files in schemas/ and refuses the network.
        let check = try SchemaValidator.validate([document], against: "show-v1.schema.json", strict: true)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    /// The summary's time is the run's wall time, not the time since the last push started.
    @Test func summaryTimeIsTheRunsWallTime() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try scratch.layout()
        _ = try writer.addImage(tag: "1", randomLayerSize: 200_000)
        proxy.add(.init(method: "PUT", pathContains: "/blobs/uploads/", fault: .throttle(bytesPerSecond: 150_000), times: 10))
        let job = try scratch.job(
            JobSpec("slow")
                .registry("lab", url: proxy.baseURL)
                .image("oci:image:1", repository: "team/slow", tags: ["1"], targets: ["lab"]))
        let started = Date()
        let r = try apply(job, scratch: scratch, output: "plain")
        let wall = Date().timeIntervalSince(started)
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.stdout.split(separator: "\n").last { $0.hasPrefix("Summary:") })
        let said = try #require(summary.split(separator: " ").last.flatMap { Double($0.dropLast()) })
        #expect(wall > 1, "the throttle makes the run take a while: \(wall)")
        #expect(said > 0.8 && said <= wall + 0.1, "summary says \(said) s, the run took \(wall) s: \(summary)")
    }

    /// Every line of `apply --output json` is an event the schema describes, and invalid input is
    /// an `error` event too (exit 2), not only text on stderr.
    @Test func jsonEventsFollowTheirSchemaAndInvalidInputIsAnEvent() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let (job, _) = try simpleJob(scratch, registry)
        let good = try apply(job, scratch: scratch)
        #expect(good.status == 0)
        let broken = try scratch.job("broken", "version: 1\nname: broken\nimages: [\n")
        let bad = try apply(broken, scratch: scratch)
        #expect(bad.status == 2)
        #expect(bad.events.map(\.name) == ["error"], "\(bad.stdout)")
        #expect(bad.events.first?.int("exitCode") == 2)
        #expect((bad.events.first?.object["message"] as? String)?.contains("broken.yaml") == true)

        let lines = scratch.sub("events.ndjson")
        try (good.stdout + bad.stdout).write(toFile: lines, atomically: true, encoding: .utf8)
        let check = try SchemaValidator.validate([lines], against: "apply-events-v1.schema.json", strict: true)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    /// `--output tty` on a dumb terminal, or with NO_COLOR, writes plain lines: no cursor movement.
    @Test(arguments: [("TERM", "dumb"), ("NO_COLOR", "1")])
    func noCursorMovementOnADumbTerminal(_ variable: String, _ value: String) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let (job, _) = try simpleJob(scratch, registry)
        var environment = scratch.environment
        environment[variable] = value
        let r = try run(
            pushctlBinary, ["apply", "--output", "tty", "--state", scratch.state, job], environment: environment,
            directory: scratch.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}"), "\(r.stdout.debugDescription)")
        #expect(r.stdout.contains("The push refers to repository [\(registry.host)/team/first]"))
    }

    /// A subcommand is parsed as the root of its own parser (it skips swift-argument-parser's
    /// completion-script check, docs/performance.md); every message, usage line and help text is
    /// still the one the root parse gives: errors, help and the root's own options are parsed
    /// again from the root (`Pushctl.parse`).
    /// An `apply` that stops at once (its job file is missing) exits 2, every time. Its libcurl
    /// initialisation runs on a thread of its own (`ApplyRun.warmedUp`); exiting while it ran
    /// crashed the process in OpenSSL's exit-time cleanup (SIGSEGV or SIGABRT) in about 2 % of
    /// such runs, so 300 runs missed the crash with a chance of about 1 in 200.
    @Test func anApplyThatStopsAtOnceNeverCrashesOnItsWayOut() throws {
        let scratch = try Scratch(prefix: "pushctl-quick-exit")
        var statuses: [Int32: Int] = [:]
        for _ in 0..<300 {
            let result = try pushctl(["apply", "--state", scratch.state, "missing.yaml"], scratch)
            statuses[result.status, default: 0] += 1
            if result.status != 2 { Issue.record("status \(result.status): \(result.stderr)") }
        }
        #expect(statuses == [2: 300], "exit statuses and how often: \(statuses)")
    }

    @Test func subcommandsParsedOnTheirOwnReadAsFromTheRoot() throws {
        let invalid = try run(pushctlBinary, ["apply", "--concurrency", "abc", "x.yaml"])
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("The value 'abc' is invalid for '--concurrency <n>'"), "\(invalid.stderr)")
        #expect(invalid.stderr.contains("See 'pushctl apply --help' for more information."), "\(invalid.stderr)")

        let nested = try run(pushctlBinary, ["key", "nothing"])
        #expect(nested.status == 2)
        #expect(nested.stderr.contains("See 'pushctl key --help' for more information."), "\(nested.stderr)")

        let missing = try run(pushctlBinary, ["validate"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("Usage: pushctl validate <path> ..."), "\(missing.stderr)")
        #expect(!missing.stderr.contains("SUBCOMMANDS:"), "the subcommand's usage, not the root's help: \(missing.stderr)")

        let version = try run(pushctlBinary, ["--version"])
        let subcommandVersion = try run(pushctlBinary, ["apply", "--version"])
        #expect(version.status == 0 && subcommandVersion.status == 0)
        #expect(!version.stdout.isEmpty && subcommandVersion.stdout == version.stdout)

        let help = try run(pushctlBinary, ["apply", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: pushctl apply "), "\(help.stdout)")
        #expect(help.stdout.contains("--version               Show the version."), "the root's options, as before: \(help.stdout)")
        let nestedHelp = try run(pushctlBinary, ["key", "generate", "--help"])
        #expect(nestedHelp.stdout.contains("USAGE: pushctl key generate"), "\(nestedHelp.stdout)")
    }

    /// Help that reads well: placeholders say what goes there, a mistyped command gets a
    /// suggestion, and `validate -` reads a job file from standard input.
    @Test func helpSuggestionsAndStandardInput() throws {
        for command in ["apply", "plan", "verify", "validate", "history", "show", "prune"] {
            let help = try run(pushctlBinary, [command, "--help"])
            let usage = help.stdout.split(separator: "\n").first { $0.hasPrefix("USAGE:") } ?? ""
            #expect(!usage.contains("<state>") && !usage.contains("<files>") && !usage.contains("<concurrency>"), "\(usage)")
            #expect(usage.contains("<path>"), "\(command): \(usage)")
        }
        let apply = try run(pushctlBinary, ["apply", "--help"])
        // Each exit code on a line of its own (the help text used to break mid-sentence).
        #expect(apply.stdout.contains("\n  2    invalid input"), "\(apply.stdout)")
        #expect(apply.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 || $0.hasPrefix("USAGE:") })

        let typo = try run(pushctlBinary, ["aply", "jobs/release.yaml"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("did you mean 'apply'?"), "\(typo.stderr)")
        let unknown = try run(pushctlBinary, ["frobnicate"])
        #expect(unknown.status == 2)
        #expect(!unknown.stderr.contains("did you mean"), "no suggestion when nothing is close: \(unknown.stderr)")

        let scratch = try Scratch()
        let valid = try run(
            pushctlBinary, ["validate", "-"],
            stdin: JobSpec("piped")
                .registry("lab", url: "http://127.0.0.1:5000")
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]).yaml, directory: scratch.path)
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.stdout == "-: ok\n")
        let invalid = try run(pushctlBinary, ["validate", "-"], stdin: "version: 1\nname: piped\n", directory: scratch.path)
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("<stdin>:1:1: error"), "\(invalid.stderr)")
    }

    /// Errors about sources name the source once and say what is wrong in the user's terms.
    @Test func sourceErrorsSayWhatIsWrong() throws {
        let scratch = try Scratch()
        let writer = try scratch.layout()
        let layer = try writer.addRandomLayer(size: 1_000)
        let image = try writer.addImage(tag: "1", layers: [layer])
        let config = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: writer.blobPath(image.digest))))
                as? [String: Any])
        let configDigest = try #require((config["config"] as? [String: Any])?["digest"] as? String)
        let absent = Digest.of(Array("nothing".utf8))
        func plan(_ source: String) throws -> ToolResult {
            let job = try scratch.job(
                JobSpec("sources")
                    .registry("lab", url: "http://127.0.0.1:9")
                    .image(source, repository: "team/app", tags: ["1"], targets: ["lab"]))
            return try run(pushctlBinary, ["plan", "--offline", job], environment: scratch.environment, directory: scratch.path)
        }
        let missing = try plan("oci:image@\(absent)")
        #expect(missing.stderr.contains("the layout has no blob \(absent)"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("no image named"))
        let configPicked = try plan("oci:image@\(configDigest)")
        #expect(
            configPicked.stderr.contains("\(configDigest) is an image configuration, not an image manifest or index"),
            "\(configPicked.stderr)")
        let layerPicked = try plan("oci:image@\(layer.digest)")
        #expect(layerPicked.stderr.contains("is a blob of 1000 bytes that is not JSON"), "\(layerPicked.stderr)")
        #expect(!layerPicked.stderr.contains("DecodingError"))
        // Named once: the resolved source starts the message, the written form is not repeated.
        let line = layerPicked.stderr.split(separator: "\n").first { $0.contains("not JSON") } ?? ""
        #expect(line.components(separatedBy: "oci:").count == 2, "\(line)")
    }
}
