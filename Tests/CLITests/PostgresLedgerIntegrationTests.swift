import Foundation
import OCI
import RegistryHarness
import Testing

/// The PostgreSQL ledger end to end (docs/state.md "PostgreSQL"): a real registry, a real
/// PostgreSQL 15 started by the test (`PostgresServer`), and the pushctl binary.
@Suite(.serialized) struct PostgresLedgerIntegrationTests {
    /// `history --output json` entries without the `state` field (the ledger's location, which
    /// differs between a file and a URL by design): what must be identical across a copy.
    func historyEntries(_ state: String, _ environment: [String: String], scratch: Scratch) throws -> [NSDictionary] {
        let r = try run(pushctlBinary, ["history", "--output", "json", "--state", state], environment: environment, directory: scratch.path)
        guard r.status == 0, let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any],
            let entries = object["entries"] as? [[String: Any]]
        else { throw ApplyTestError.command("history --state \(state) exited \(r.status): \(r.stderr)") }
        return entries.map { entry in
            var entry = entry
            entry["state"] = nil
            return entry as NSDictionary
        }
    }

    func shardedJob(_ scratch: Scratch, _ registry: RegistryServer, count: Int) throws -> (job: String, repositories: [String]) {
        let writer = try scratch.layout()
        try writer.addImage(tag: "1", randomLayerSize: 5_000)
        let repositories = (0..<count).map { "team/pg\($0)" }
        let job = try scratch.job(
            repositories.reduce(JobSpec("fleet").registry("target", url: registry.baseURL)) {
                $0.image("oci:image:1", repository: $1, tags: ["1"], targets: ["target"])
            })
        return (job, repositories)
    }

    /// Three shard runners apply at once into one database: every push recorded exactly once,
    /// nothing lost; a concurrent rerun records every item once more, as unchanged.
    @Test func threeShardsApplyingAtOnceIntoOneDatabase() throws {
        let fixture = try LedgerFixture()
        defer { withExtendedLifetime(fixture) {} }  // the server lives as long as the test
        let (scratch, registry, url, environment) = (fixture.scratch, fixture.registry, fixture.url, fixture.environment)
        let (job, repositories) = try shardedJob(scratch, registry, count: 9)
        /// The three runners started together, each waited for: (status, stderr).
        func applyShards() throws -> [(Int32, String)] {
            let runners = try (0..<3).map { shard in
                try RunningApply(["--shard", "\(shard)/3", job], scratch: scratch, state: url, environment: environment)
            }
            return runners.map { ($0.wait(), $0.stderr) }
        }
        for (status, stderr) in try applyShards() { #expect(status == 0, "\(stderr)") }
        var entries = try historyEntries(url, environment, scratch: scratch)
        var pushes = entries.compactMap { $0["push"] as? [String: Any] }
        #expect(pushes.compactMap { $0["repository"] as? String }.sorted() == repositories, "each push exactly once: \(pushes)")
        #expect(Set(entries.compactMap { ($0["run"] as? [String: Any])?["id"] as? Int }).count == 3)

        for (status, stderr) in try applyShards() { #expect(status == 0, "\(stderr)") }
        entries = try historyEntries(url, environment, scratch: scratch)
        pushes = entries.compactMap { $0["push"] as? [String: Any] }
        #expect(pushes.count == 18)
        #expect(
            pushes.filter { $0["status"] as? String == "unchanged" }.compactMap { $0["repository"] as? String }.sorted() == repositories)
    }

    /// Two runners of the same shard: the second exits 3 at once, naming the lock; the first
    /// finishes, and a rerun afterwards takes the lock.
    @Test func aSecondRunnerOfTheSameShardExits3() throws {
        let slow = try SlowApply(repositories: ["team/slow"], arguments: ["--shard", "0/2"])
        let (scratch, url, environment, job, first) = (slow.scratch, slow.url, slow.environment, slow.job, slow.first)
        let second = try run(
            pushctlBinary, ["apply", "--output", "plain", "--state", url, "--shard", "0/2", job], environment: environment,
            directory: scratch.path)
        #expect(second.status == 3, "\(second.stderr)")
        #expect(second.stderr.contains("advisory lock") && second.stderr.contains("pid \(first.pid)"), "\(second.stderr)")
        #expect(first.wait() == 0, "\(first.stderr)")
        let rerun = try run(
            pushctlBinary, ["apply", "--output", "plain", "--state", url, "--shard", "0/2", job], environment: environment,
            directory: scratch.path)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        withExtendedLifetime(slow) {}
    }

    /// `state copy` SQLite → PostgreSQL → SQLite: `history` identical at every step; copying
    /// again adds nothing; a second runner's file merges into the same database.
    @Test func stateCopyBothWaysKeepsHistoryIdentical() throws {
        let fixture = try LedgerFixture()
        defer { withExtendedLifetime(fixture) {} }  // the server lives as long as the test
        let (scratch, registry, url, environment) = (fixture.scratch, fixture.registry, fixture.url, fixture.environment)
        let (job, _) = try shardedJob(scratch, registry, count: 4)
        let other = try scratch.job(
            JobSpec("other").registry("target", url: registry.baseURL)
                .image("oci:image:1", repository: "team/other1", tags: ["1"], targets: ["target"])
                .image("oci:image:1", repository: "team/other2", tags: ["1"], targets: ["target"]))
        func apply(_ job: String, into state: String) throws {
            let r = try run(
                pushctlBinary, ["apply", "--output", "plain", "--state", state, job], environment: environment, directory: scratch.path)
            #expect(r.status == 0, "\(r.stderr)")
        }
        func copy(_ from: String, _ to: String) throws -> String {
            let r = try run(pushctlBinary, ["state", "copy", from, to], environment: environment, directory: scratch.path)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout
        }
        let first = scratch.sub("runner1.db"), second = scratch.sub("runner2.db")
        try apply(job, into: first)
        try apply(job, into: first)  // a rerun: four unchanged rows
        try apply(other, into: second)
        let before = try historyEntries(first, environment, scratch: scratch)
        #expect(before.count == 8)

        #expect(try copy(first, url).contains("2 runs and 8 pushes added"))
        #expect(try historyEntries(url, environment, scratch: scratch) == before)
        let again = try copy(first, url)
        #expect(again.contains("0 runs and 0 pushes added"), "\(again)")
        #expect(try historyEntries(url, environment, scratch: scratch) == before)

        let back = scratch.sub("back.db")
        _ = try copy(url, back)
        #expect(try historyEntries(back, environment, scratch: scratch) == before)

        // The second runner's file merges in: its run and pushes get ids of their own.
        let merge = try copy(second, url)
        #expect(merge.contains("1 runs and 2 pushes added"), "\(merge)")
        let merged = try historyEntries(url, environment, scratch: scratch)
        #expect(merged.count == 10)
        #expect(Set(merged.compactMap { ($0["push"] as? [String: Any])?["id"] as? Int }).count == 10)
        // A missing FROM, or FROM and TO the same: exit 2, nothing created.
        let missing = try run(
            pushctlBinary, ["state", "copy", scratch.sub("absent.db"), url], environment: environment, directory: scratch.path)
        #expect(missing.status == 2 && missing.stderr.contains("no state database"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.sub("absent.db")))
        let same = try run(pushctlBinary, ["state", "copy", url, url], environment: environment, directory: scratch.path)
        #expect(same.status == 2 && same.stderr.contains("the same ledger"), "\(same.stderr)")
        // A new apply into the merged database gets ids after the copied ones.
        try apply(job, into: url)
        #expect(try historyEntries(url, environment, scratch: scratch).count == 14)
    }

    /// Every command that reads or writes state takes the URL (or `$PUSHCTL_STATE`): apply, plan,
    /// verify, prune, history, show, prune-history. A read command on a database without a
    /// ledger exits 2 and creates nothing.
    @Test func everyStateCommandTakesThePostgresURL() throws {
        let fixture = try LedgerFixture()
        defer { withExtendedLifetime(fixture) {} }
        let (scratch, registry, server, url, environment) = (
            fixture.scratch, fixture.registry, fixture.server, fixture.url, fixture.environment
        )
        func pushctl(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
            try run(pushctlBinary, arguments, environment: environment ?? server.environment(scratch.environment), directory: scratch.path)
        }
        let empty = try pushctl(["history", "--state", url])
        #expect(empty.status == 2 && empty.stderr.contains("no state database"), "\(empty.stderr)")
        #expect(
            try server.psql(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                database: String(url.split(separator: "/").last!.prefix { $0 != "?" })) == "0\n")

        let writer = try scratch.layout()
        for name in ["1", "2"] { try writer.addImage(tag: name, randomLayerSize: 3_000) }
        let app = JobSpec("app").registry("lab", url: registry.baseURL)
        let wide = try scratch.job(
            app.image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]).image(
                "oci:image:2", repository: "team/app", tags: ["2"], targets: ["lab"]), file: "wide")
        let narrow = try scratch.job(app.image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]), file: "narrow")
        var viaEnvironment = environment
        viaEnvironment["PUSHCTL_STATE"] = url
        let applied = try pushctl(["apply", "--output", "plain", wide], environment: viaEnvironment)
        #expect(applied.status == 0, "\(applied.stderr)")
        let plan = try pushctl(["plan", "--output", "json", "--state", url, wide])
        #expect(plan.status == 0, "\(plan.stderr)")
        let verify = try pushctl(["verify", "--state", url, wide])
        #expect(verify.status == 0, "\(verify.stderr)\(verify.stdout)")
        let prune = try pushctl(["prune", "--confirm", "--state", url, narrow])
        #expect(prune.status == 0, "\(prune.stderr)\(prune.stdout)")
        let entries = try historyEntries(url, environment, scratch: scratch)
        let statuses = entries.compactMap { ($0["push"] as? [String: Any])?["status"] as? String }
        #expect(statuses.sorted() == ["deleted", "pushed", "pushed"], "\(entries)")
        let show = try pushctl(["show", "last", "--state", url])
        #expect(show.status == 0 && show.stdout.contains("prune"), "\(show.stderr)\(show.stdout)")
        let pruned = try pushctl(["prune-history", "--keep-runs", "1", "--state", url])
        #expect(pruned.status == 0 && pruned.stdout.contains("Removed 2 runs"), "\(pruned.stderr)\(pruned.stdout)")
        #expect(try historyEntries(url, environment, scratch: scratch).count == 1)
    }

    /// The server restarts while an apply uploads: the apply reconnects, its run ends recorded
    /// (finished or failed, never left running) with nothing lost, and a rerun works.
    @Test func aServerRestartMidRunLosesNothing() throws {
        let slow = try SlowApply(repositories: ["team/a", "team/b"])
        let (scratch, server, url, environment, job, first) = (slow.scratch, slow.server, slow.url, slow.environment, slow.job, slow.first)
        server.stop()
        try server.start()
        let status = first.wait()
        // The writes after the restart reconnect (docs/state.md "PostgreSQL"): the run completes.
        #expect(status == 0, "\(first.stderr)")
        let entries = try historyEntries(url, environment, scratch: scratch)
        let runs = entries.compactMap { $0["run"] as? [String: Any] }
        #expect(runs.allSatisfy { $0["status"] as? String != "running" }, "\(runs)")
        #expect(entries.compactMap { ($0["push"] as? [String: Any])?["status"] as? String }.sorted() == ["pushed", "pushed"])
        let rerun = try run(
            pushctlBinary, ["apply", "--output", "plain", "--state", url, job], environment: environment, directory: scratch.path)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        withExtendedLifetime(slow) {}
    }

    /// A wrong password, a password in the URL and an unreachable server: exit 2, a clear
    /// message, and no password in any output.
    @Test func wrongPasswordPasswordInURLAndUnreachableServerExit2() throws {
        let fixture = try LedgerFixture()
        defer { withExtendedLifetime(fixture) {} }
        let (scratch, registry, server, url) = (fixture.scratch, fixture.registry, fixture.server, fixture.url)
        let wrong = "wrong-\(UUID().uuidString)"
        _ = try scratch.layout().addImage(tag: "1", randomLayerSize: 2_000)
        var environment = server.environment(scratch.environment)
        environment["PGPASSWORD"] = wrong
        let job = try scratch.job(
            JobSpec("pw").registry("target", url: registry.baseURL).image(
                "oci:image:1", repository: "a/b", tags: ["1"], targets: ["target"]))
        for arguments in [["history", "--state", url], ["apply", "--state", url, job]] {
            let r = try run(pushctlBinary, arguments, environment: environment, directory: scratch.path)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("password authentication failed"), "\(r.stderr)")
            #expect(!(r.stdout + r.stderr).contains(wrong) && !(r.stdout + r.stderr).contains(server.password))
        }
        let inURL = url.replacingOccurrences(of: "pushctl@", with: "pushctl:\(server.password)@")
        let r = try run(
            pushctlBinary, ["history", "--state", inURL], environment: server.environment(scratch.environment), directory: scratch.path)
        #expect(r.status == 2 && r.stderr.contains("carries a password"), "\(r.stderr)")
        #expect(!(r.stdout + r.stderr).contains(server.password))

        let port = try Sockets.freePort()
        let unreachable = try run(
            pushctlBinary, ["history", "--state", "postgres://pushctl@127.0.0.1:\(port)/x?sslmode=disable&connect_timeout=3"],
            environment: server.environment(scratch.environment), directory: scratch.path)
        #expect(unreachable.status == 2, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("cannot connect to PostgreSQL"), "\(unreachable.stderr)")

        // Nothing was pushed or recorded by the refused runs; with the right password the rerun
        // pushes and records.
        #expect(throws: (any Error).self) { try pushedDigest(registry, "a/b", "1") }
        let ok = try run(
            pushctlBinary, ["apply", "--output", "plain", "--state", url, job], environment: server.environment(scratch.environment),
            directory: scratch.path)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try historyEntries(url, server.environment(scratch.environment), scratch: scratch).count == 1)
    }
    /// The password from a libpq password file (PGPASSFILE, as `~/.pgpass` is read), no
    /// PGPASSWORD: the apply logs in, records, and the password is in no output; a file with a
    /// wrong password is a login refused (exit 2), and a rerun with the right file works.
    @Test func thePasswordComesFromAPasswordFile() throws {
        let fixture = try LedgerFixture()
        defer { withExtendedLifetime(fixture) {} }
        let (scratch, registry, server, url) = (fixture.scratch, fixture.registry, fixture.server, fixture.url)
        _ = try scratch.layout().addImage(tag: "1", randomLayerSize: 2_000)
        let job = try scratch.job(
            JobSpec("pgpass").registry("target", url: registry.baseURL).image(
                "oci:image:1", repository: "a/b", tags: ["1"], targets: ["target"]))
        func passFile(_ password: String) throws -> String {
            let file = try scratch.write(
                "pgpass-\(UUID().uuidString.prefix(6))", "127.0.0.1:\(server.port):*:\(PostgresServer.role):\(password)\n")
            // libpq ignores a password file that group or others may read.
            chmod(file, 0o600)
            return file
        }
        var environment = server.environment(scratch.environment)
        environment["PGPASSWORD"] = nil

        environment["PGPASSFILE"] = try passFile("wrong-\(UUID().uuidString)")
        let refused = try run(pushctlBinary, ["apply", "--state", url, job], environment: environment, directory: scratch.path)
        #expect(refused.status == 2 && refused.stderr.contains("password authentication failed"), "\(refused.stderr)")

        environment["PGPASSFILE"] = try passFile(server.password)
        for _ in 0..<2 {
            let r = try run(
                pushctlBinary, ["apply", "--output", "plain", "--state", url, job], environment: environment, directory: scratch.path)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!(r.stdout + r.stderr).contains(server.password))
        }
        // The first apply pushed, the rerun found it unchanged: both recorded.
        let entries = try historyEntries(url, environment, scratch: scratch)
        #expect(entries.count == 2, "\(entries)")
    }
}

/// What every test here starts with: a scratch folder, a registry, a PostgreSQL server with an
/// empty database (`url`), and pushctl's environment with the test role's PGPASSWORD.
class LedgerFixture {
    let scratch: Scratch
    let registry: RegistryServer
    let server: PostgresServer
    let url: String
    var environment: [String: String] { server.environment(scratch.environment) }

    convenience init() throws {
        let server = try PostgresServer()
        self.init(scratch: try Scratch(), registry: try RegistryServer.start(), server: server, url: try server.createDatabase())
    }

    init(scratch: Scratch, registry: RegistryServer, server: PostgresServer, url: String) {
        self.scratch = scratch
        self.registry = registry
        self.server = server
        self.url = url
    }
}

/// An apply into a new PostgreSQL ledger whose upload is throttled (1 MiB/s through a
/// `FaultProxy`), started in the background and already uploading: time to act while it runs.
final class SlowApply: LedgerFixture {
    let proxy: FaultProxy
    let job: String
    let first: RunningApply

    init(repositories: [String], arguments: [String] = []) throws {
        let (scratch, registry) = (try Scratch(), try RegistryServer.start())
        proxy = try FaultProxy(upstreamPort: registry.port)
        let server = try PostgresServer()
        let url = try server.createDatabase()
        let environment = server.environment(scratch.environment)
        let writer = try scratch.layout()
        let big = try writer.addRandomLayer(size: 3 << 20)
        try writer.addImage(tag: "1", layers: [big])
        proxy.add(.init(method: "PUT", pathContains: big.digest.hex, fault: .throttle(bytesPerSecond: 1 << 20)))
        job = try scratch.job(
            repositories.reduce(JobSpec("slow").registry("target", url: proxy.baseURL)) {
                $0.image("oci:image:1", repository: $1, tags: ["1"], targets: ["target"])
            })
        first = try RunningApply(arguments + [job], scratch: scratch, state: url, environment: environment)
        super.init(scratch: scratch, registry: registry, server: server, url: url)
        try first.waitForEvent("the upload under way") { $0.name == "blob" && $0.digest == big.digest.string && ($0.int("bytes") ?? 0) > 0 }
    }
}
