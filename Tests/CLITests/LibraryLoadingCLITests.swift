import Foundation
import OCI
import RegistryHarness
import Testing

/// libcurl and libpq are loaded when first needed (dlopen in CCurlShim and CLibPQShim), not at
/// every start: the commands that send no request never load them (docs/performance.md
/// "Libraries loaded when needed"). The glibc loader's own trace (`LD_DEBUG=libs`, on stderr)
/// says which libraries a run opened.
@Suite(.serialized) struct LibraryLoadingCLITests {
    func traced(_ arguments: [String], _ scratch: Scratch) throws -> ToolResult {
        var environment = scratch.environment
        environment["LD_DEBUG"] = "libs"
        return try run(pushctlBinary, arguments, environment: environment, directory: scratch.path)
    }

    @Test func commandsThatSendNoRequestLoadNeitherLibcurlNorLibpq() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try LayoutWriter(path: scratch.sub("image"))
        _ = try writer.addImage(tag: "1", randomLayerSize: 5_000)
        let job = try scratch.job(
            JobSpec("libraries")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/libraries", tags: ["1"], targets: ["lab"]))

        // The control: an apply sends requests, so it loads libcurl (and the trace shows it).
        let applied = try traced(["apply", "--output", "plain", "--state", scratch.state, job], scratch)
        #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr.suffix(2_000))")
        #expect(applied.stderr.contains("libcurl.so.4"), "the loader's trace names libcurl")
        #expect(!applied.stderr.contains("libpq.so.5"), "an SQLite ledger needs no libpq")

        for arguments in [
            ["--version"], ["validate", job], ["plan", "--offline", job],
            ["history", "--state", scratch.state], ["show", "last", "--state", scratch.state]
        ] {
            let result = try traced(arguments, scratch)
            #expect(result.status == 0, "\(arguments): \(result.stderr.suffix(2_000))")
            #expect(!result.stderr.contains("libcurl.so.4"), "\(arguments) loaded libcurl")
            #expect(!result.stderr.contains("libpq.so.5"), "\(arguments) loaded libpq")
            #expect(result.stderr.contains("libsqlite3.so.0"), "\(arguments): the trace lists the libraries the binary names")
        }
    }

    /// Where the system's loader finds `soname` (`ldconfig -p`), resolved to the file.
    func installed(_ soname: String) throws -> String {
        let lines = try run("/sbin/ldconfig", ["-p"]).stdout.split(separator: "\n").filter { $0.contains(soname + " ") }
        let line = try #require(lines.first { $0.contains("x86-64") } ?? lines.first, "ldconfig -p lists no \(soname)")
        let path = try #require(line.components(separatedBy: " => ").last)
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// Runs pushctl in a mount namespace of its own where the installed `soname` is an empty
    /// file (`/dev/null` bound over it): as on a machine where that library is missing or broken.
    func without(_ soname: String, _ arguments: [String], _ scratch: Scratch) throws -> ToolResult {
        let library = try installed(soname)
        // Root makes the namespace directly; anyone else through a user namespace of their own.
        let unshare = geteuid() == 0 ? ["--mount", "--propagation", "private"] : ["--map-root-user", "--mount"]
        return try run(
            "/usr/bin/unshare",
            unshare + ["sh", "-c", "mount --bind /dev/null \"$0\" && exec \"$@\"", library, pushctlBinary] + arguments,
            environment: scratch.environment, directory: scratch.path)
    }

    func withoutLibcurl(_ arguments: [String], _ scratch: Scratch) throws -> ToolResult {
        try without("libcurl.so.4", arguments, scratch)
    }

    @Test func withoutLibcurlARunEndsRecordedWithExit127AndTheNextRunPushes() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try LayoutWriter(path: scratch.sub("image"))
        let image = try writer.addImage(tag: "1", randomLayerSize: 5_000)
        let job = try scratch.job(
            JobSpec("nolibcurl")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/nolibcurl", tags: ["1"], targets: ["lab"]))

        // What needs no request still works.
        #expect(try withoutLibcurl(["validate", job], scratch).status == 0)
        #expect(try withoutLibcurl(["plan", "--offline", job], scratch).status == 0)

        let failed = try withoutLibcurl(["apply", "--output", "json", "--state", scratch.state, job], scratch)
        #expect(failed.status == 127, "\(failed.stdout)\(failed.stderr)")
        let events = parseEvents(failed.stdout)
        let error = try #require(events.first { $0.name == "error" })
        let message = error.object["message"] as? String ?? ""
        #expect(message.hasPrefix("cannot load libcurl.so.4: "), "\(message)")
        #expect(message.hasSuffix("(install Debian's libcurl4)"), "\(message)")
        #expect(error.int("exitCode") == 127)
        #expect(events.last?.name == "run-end" && events.last?.int("exitCode") == 127)
        #expect(!events.contains { $0.name == "push-end" || $0.name == "blob" })

        // A command that sends requests and records nothing stops at once, with the same message.
        let plan = try withoutLibcurl(["plan", "--state", scratch.state, job], scratch)
        #expect(plan.status == 127)
        #expect(plan.stderr.contains("pushctl: cannot load libcurl.so.4: "), "\(plan.stderr)")

        // The run is in the ledger as failed, with the message; no push is.
        let history = try pushctlJSON(["show", "last"], scratch: scratch)
        let failedRun = try #require(history["run"] as? [String: Any], "\(history)")
        #expect(failedRun["status"] as? String == "failed")
        #expect((failedRun["exitCode"] as? NSNumber)?.intValue == 127)
        #expect((failedRun["error"] as? String ?? "").contains("cannot load libcurl.so.4"), "\(failedRun)")
        #expect((history["pushes"] as? [Any] ?? [1]).isEmpty, "\(history)")

        // The rerun, with libcurl back: the image goes up, byte for byte.
        let rerun = try apply(job, scratch: scratch)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.pushEnds().map(\.status) == ["pushed"])
        #expect(try pushedDigest(registry, "team/nolibcurl", "1") == image.digest)

        // A prune stops the same way (exit 127, the message) and records no prune run; with
        // libcurl back, the same prune runs and is recorded.
        func pruneRuns() throws -> Int {
            let entries = try pushctlJSON(["history"], scratch: scratch)["entries"] as? [[String: Any]] ?? []
            return entries.filter { ($0["run"] as? [String: Any])?["kind"] as? String == "prune" }.count
        }
        #expect(try pruneRuns() == 0)
        let prune = try withoutLibcurl(["prune", "--confirm", "--state", scratch.state, job], scratch)
        #expect(prune.status == 127, "\(prune.stdout)\(prune.stderr)")
        #expect(prune.stderr.contains("error: cannot load libcurl.so.4: "), "\(prune.stderr)")
        #expect(prune.stderr.contains("(install Debian's libcurl4)"), "\(prune.stderr)")
        #expect(try pruneRuns() == 0, "a prune without libcurl left a run")
        let pruned = try run(
            pushctlBinary, ["prune", "--confirm", "--state", scratch.state, job], environment: scratch.environment,
            directory: scratch.path)
        #expect(pruned.status == 0, "\(pruned.stdout)\(pruned.stderr)")
        #expect(try pruneRuns() == 1)
        #expect(try pushedDigest(registry, "team/nolibcurl", "1") == image.digest, "prune kept the selected tag")
    }

    /// A PostgreSQL ledger without libpq fails to open like an unreachable server (exit 2), and
    /// names the library; nothing else needs libpq.
    @Test func withoutLibpqAPostgresLedgerIsRefusedWithExit2() throws {
        let scratch = try Scratch()
        let url = "postgres://pushctl@127.0.0.1:1/ledger"
        let history = try without("libpq.so.5", ["history", "--state", url], scratch)
        #expect(history.status == 2, "\(history.stdout)\(history.stderr)")
        #expect(history.stderr.contains("cannot load libpq.so.5: "), "\(history.stderr)")
        #expect(history.stderr.contains("(install Debian's libpq5)"), "\(history.stderr)")
        // With libpq there, the same command gets as far as the server (none listens on port 1).
        let reached = try run(pushctlBinary, ["history", "--state", url], environment: scratch.environment, directory: scratch.path)
        #expect(reached.status == 2)
        #expect(!reached.stderr.contains("cannot load"), "\(reached.stderr)")
        #expect(reached.stderr.lowercased().contains("connect"), "\(reached.stderr)")
    }
}
