import Foundation
import OCI
import RegistryHarness
import Testing

/// The run layer against real registries (docs/run.md): one fallback rule whose rerun works, a
/// source that cannot be read failing only its own items, every run recorded, manifests shared
/// between concurrent pushes put once, and `verify` naming the host it asked.
@Suite(.serialized) struct RunLayerIntegrationTests {
    /// A primary that cannot be reached: a host that does not resolve, or a refused port.
    enum DeadPrimary: String, CaseIterable, CustomTestStringConvertible {
        case unresolvable, refused
        var testDescription: String { rawValue }
        func url() throws -> String {
            switch self {
            case .unresolvable: "http://pushctl-primary.invalid:5000"
            case .refused: "http://127.0.0.1:\(try Sockets.freePort())"
            }
        }
    }

    /// The second night of a mirror fallback crashed (exit 132/139) in the unchanged-tag check:
    /// three applies in a row must all succeed, the reruns cheaply, every record naming the mirror.
    @Test(arguments: DeadPrimary.allCases)
    func mirrorFallbackWorksOnEveryRerun(_ primary: DeadPrimary) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let one = try writer.addImage(tag: "1", randomLayerSize: 40_000)
        let two = try writer.addImage(tag: "2", randomLayerSize: 30_000)
        let primaryURL = try primary.url()
        let primaryHost = String(primaryURL.dropFirst("http://".count))
        let job = try scratch.job(
            JobSpec("mirror")
                .registry("main", url: primaryURL, mirrors: [registry.baseURL], extra: ["insecure: true"])
                .image("oci:image:1", repository: "team/one", tags: ["1", "latest"], targets: ["main"])
                .image("oci:image:2", repository: "team/two", tags: ["2"], targets: ["main"]))
        var statuses: [[String]] = []
        for night in 1...3 {
            let started = Date()
            let r = try apply(job, scratch: scratch, output: "plain", arguments: ["--images", "1"])
            let seconds = Date().timeIntervalSince(started)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            // Every line names the endpoint actually used.
            #expect(!r.stdout.contains("[\(primaryHost)/"), "night \(night): \(r.stdout)")
            if night == 1 { #expect(r.stdout.contains("The push refers to repository [\(registry.host)/team/one]"), "\(r.stdout)") }
            // The fallback is said once per registry and run, not once per image.
            #expect(r.stderr.components(separatedBy: "note: registry main:").count - 1 == 1, "night \(night): \(r.stderr)")
            if night > 1 { #expect(seconds < 3 * testTimeScale, "rerun \(night) took \(seconds) s") }
            let shown = try pushctlJSON(["show", "last"], scratch: scratch)
            let pushes = try #require(shown["pushes"] as? [[String: Any]])
            #expect(pushes.allSatisfy { $0["endpoint"] as? String == registry.baseURL }, "\(pushes)")
            statuses.append(pushes.compactMap { $0["status"] as? String }.sorted())
        }
        #expect(
            statuses == [
                ["pushed", "pushed", "pushed"], ["unchanged", "unchanged", "unchanged"],
                ["unchanged", "unchanged", "unchanged"]
            ])
        #expect(try pushedDigest(registry, "team/one", "latest") == one.digest)
        #expect(try pushedDigest(registry, "team/two", "2") == two.digest)
    }

    /// A source that cannot be read fails its own item (exit 1, recorded); the others are pushed;
    /// the rerun does the same without pushing the good one again.
    @Test func anUnreadableSourceFailsOnlyItsOwnItem() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let good = try writer.addImage(tag: "1", randomLayerSize: 20_000)
        let job = try scratch.job(
            JobSpec("mixed")
                .registry("lab", url: registry.baseURL)
                .image("oci:missing-layout:1", repository: "team/missing", tags: ["1"], targets: ["lab"])
                .image("oci:image:1", repository: "team/good", tags: ["1"], targets: ["lab"]))
        for (night, expected) in [(1, "pushed"), (2, "unchanged")] {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            let ends = Dictionary(uniqueKeysWithValues: r.pushEnds().map { ($0.repository ?? "", $0) })
            #expect(ends["team/good"]?.status == expected)
            #expect(ends["team/missing"]?.status == "failed")
            #expect((ends["team/missing"]?.object["error"] as? String)?.contains("missing-layout") == true, "\(r.stdout)")
            let shown = try pushctlJSON(["show", "last"], scratch: scratch)
            let run = try #require(shown["run"] as? [String: Any])
            #expect(run["status"] as? String == "failed")
            #expect(run["exitCode"] as? Int == 1)
            #expect((run["error"] as? String)?.contains("1 push failed") == true, "\(run)")
        }
        #expect(try pushedDigest(registry, "team/good", "1") == good.digest)
    }

    /// A run whose every source is gone fails before its first push and is still recorded, so
    /// monitoring reads this night's failure, not last night's success.
    @Test func aRunThatFailsBeforeItsFirstPushIsRecorded() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        _ = try writer.addImage(tag: "1", randomLayerSize: 10_000)
        let job = try scratch.job(
            JobSpec("nightly")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]))
        #expect(try apply(job, scratch: scratch).status == 0)
        try FileManager.default.removeItem(atPath: scratch.sub("image"))
        let failed = try apply(job, scratch: scratch)
        #expect(failed.status == 1, "\(failed.stderr)")
        let prometheus = try run(
            pushctlBinary, ["show", "last", "--output", "prometheus", "--state", scratch.state],
            environment: scratch.environment, directory: scratch.path)
        #expect(prometheus.stdout.contains("pushctl_run_success{job=\"nightly\"} 0"), "\(prometheus.stdout)")
        #expect(prometheus.stdout.contains("pushctl_run_exit_code{job=\"nightly\"} 1"), "\(prometheus.stdout)")
    }

    /// 16 indexes sharing two child manifests, pushed 8 at once into one repository: each child is
    /// put once and a parent waits for a child in flight, so the registry never sees an index
    /// whose child it lacks (it answered `MANIFEST_BLOB_UNKNOWN` in 4 of 10 runs before).
    @Test func indexesSharingChildrenPushedEightAtOnceNeverFail() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let amd = try writer.addImage(tag: "amd", randomLayerSize: 20_000)
        let arm = try writer.addImage(tag: "arm", randomLayerSize: 20_000, architecture: "arm64")
        var indexes: [String: Digest] = [:]
        for n in 0..<16 {
            // Each index differs (its own third child), and all share `amd` and `arm`.
            let own = try writer.addImage(tag: "own-\(n)", randomLayerSize: 1_000, architecture: "s390x")
            let index = try writer.addIndex(tag: "multi-\(n)", manifests: [(amd, "amd64"), (arm, "arm64"), (own, "s390x")])
            indexes["multi-\(n)"] = index.digest
        }
        for round in 1...3 {
            let repository = "round\(round)"
            let job = try scratch.job(
                (0..<16).reduce(JobSpec("indexes").registry("lab", url: registry.baseURL)) {
                    $0.image("oci:image:multi-\($1)", repository: "team/shared-\(repository)", targets: ["lab"])
                }, file: "indexes-\(round)")
            let r = try apply(job, scratch: scratch, arguments: ["--images", "8"])
            #expect(r.status == 0, "round \(round): \(r.stderr)\n\(r.stdout)")
            #expect(r.pushEnds().filter { $0.status == "pushed" }.count == 16, "round \(round)")
            #expect(try pushedDigest(registry, "team/shared-\(repository)", "multi-7") == indexes["multi-7"])
            let puts = registry.accessLog().filter {
                $0.method == "PUT" && $0.path.hasSuffix("/manifests/\(amd.digest)") && $0.path.contains("shared-\(repository)")
            }
            #expect(puts.count == 1, "the shared child is put once per repository and run, not \(puts.count) times")
        }
    }

    /// `verify` names the host it asked (the mirror when the url cannot be reached), and a push
    /// to a registry the job no longer targets is reported as such, not as gone.
    @Test func verifyNamesTheHostItAskedAndKnowsARetargetedRegistry() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let other = try RegistryServer.start()
        // The registry's url is a proxy in front of it; its mirror is the registry itself.
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try scratch.layout()
        _ = try writer.addImage(tag: "1", randomLayerSize: 10_000)
        func job(url: String) throws -> String {
            try scratch.job(
                JobSpec("verify")
                    .registry("main", url: url, mirrors: [registry.baseURL])
                    .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["main"]))
        }
        func verify(_ file: String) throws -> (status: Int32, checks: [[String: Any]], stderr: String) {
            let r = try run(
                pushctlBinary, ["verify", "--output", "json", "--state", scratch.state, file],
                environment: scratch.environment, directory: scratch.path)
            let document = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return (r.status, document?["checks"] as? [[String: Any]] ?? [], r.stderr)
        }
        let file = try job(url: proxy.baseURL)
        #expect(try apply(file, scratch: scratch).status == 0)
        var checked = try verify(file)
        #expect(checked.status == 0)
        #expect(checked.checks.map { $0["host"] as? String } == [proxy.host])

        // The url no longer answers: the mirror is asked, and the result says so.
        proxy.stop()
        checked = try verify(file)
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.checks.map { $0["status"] as? String } == ["ok"])
        #expect(checked.checks.map { $0["host"] as? String } == [registry.host], "\(checked.checks)")
        #expect(checked.checks.map { $0["endpoint"] as? String } == [registry.baseURL])

        // The registry entry now points at another host: the old push is not this job's to judge.
        checked = try verify(try job(url: other.baseURL))
        #expect(checked.status == 0, "a push to the old host is not drift: \(checked.checks)")
        #expect(checked.checks.map { $0["status"] as? String } == ["not-in-job"], "\(checked.checks)")
    }

    /// Counts belong to the image push, not to each tag row: the summary, `show`, `history` and
    /// prometheus all report the image's bytes once.
    @Test func countsArePerImagePushEverywhere() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let layer = try writer.addRandomLayer(size: 300_000)
        _ = try writer.addImage(tag: "1", layers: [layer])
        let job = try scratch.job(
            JobSpec("counts")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/app", tags: ["1", "1.0", "latest"], targets: ["lab"]))
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)")
        let summaryBytes = try #require(r.runEnd?.int("bytesUploaded"))
        #expect(summaryBytes > 300_000 && summaryBytes < 301_000, "one layer and a config: \(summaryBytes)")

        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let pushes = try #require(shown["pushes"] as? [[String: Any]])
        #expect(pushes.count == 3)
        #expect(pushes.reduce(0) { $0 + (($1["bytesUploaded"] as? Int) ?? 0) } == summaryBytes)
        #expect(pushes.reduce(0) { $0 + ((($1["blobs"] as? [String: Any])?["uploaded"] as? Int) ?? 0) } == r.runEnd?.int("blobsUploaded"))

        let history = try pushctlJSON(["history"], scratch: scratch)
        let rows = (history["entries"] as? [[String: Any]] ?? []).compactMap { $0["push"] as? [String: Any] }
        #expect(rows.reduce(0) { $0 + (($1["bytesUploaded"] as? Int) ?? 0) } == summaryBytes)

        let prometheus = try run(
            pushctlBinary, ["show", "last", "--output", "prometheus", "--state", scratch.state],
            environment: scratch.environment, directory: scratch.path)
        #expect(prometheus.stdout.contains("pushctl_run_bytes_uploaded{job=\"counts\"} \(summaryBytes)\n"), "\(prometheus.stdout)")
    }

    /// One client per registry endpoint for the whole run: pushes into one repository share its
    /// connections and its token (one token request for the push scope, not one per push).
    @Test func pushesShareTheRunsClientAndToken() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.tokenAuth)
        let issuer = try #require(registry.tokenIssuer)
        let username = try #require(registry.username), password = try #require(registry.password)
        let writer = try scratch.layout()
        var spec = JobSpec("shared").registry(
            "tokens", url: registry.baseURL, extra: ["auth: {username: \(username), password: \(password)}"])
        for n in 1...4 {
            _ = try writer.addImage(tag: "\(n)", randomLayerSize: 5_000)
            spec = spec.image("oci:image:\(n)", repository: "team/app", tags: ["\(n)"], targets: ["tokens"])
        }
        let job = try scratch.job(spec)
        let r = try apply(job, scratch: scratch, arguments: ["--images", "1"])
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map(\.status) == ["pushed", "pushed", "pushed", "pushed"])
        let pushScope = issuer.requests.filter { $0.scopes.contains { $0.contains("team/app") && $0.contains("push") } }
        #expect(pushScope.count == 1, "token requests for team/app: \(issuer.requests)")
    }

    /// `plan` and `apply` decide with the same function: what the plan counts (upload, mount,
    /// present) is what apply then does.
    @Test func planPredictsWhatApplyDoes() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let shared = try writer.addRandomLayer(size: 20_000)
        _ = try writer.addImage(tag: "base", layers: [shared])
        _ = try writer.addImage(tag: "app", layers: [shared, try writer.addRandomLayer(size: 10_000)])
        func job(_ name: String) -> JobSpec { JobSpec(name).registry("lab", url: registry.baseURL) }
        #expect(
            try apply(
                try scratch.job(job("base").image("oci:image:base", repository: "team/base", tags: ["1"], targets: ["lab"])),
                scratch: scratch
            ).status == 0)
        // team/app: the shared layer can be mounted from team/base; the rest is new.
        let app = try scratch.job(
            job("app")
                .image("oci:image:app", repository: "team/app", tags: ["1"], targets: ["lab"])
                .image("oci:image:base", repository: "team/base", tags: ["1", "2"], targets: ["lab"]))
        let planned = try run(
            pushctlBinary, ["plan", "--output", "json", "--state", scratch.state, app],
            environment: scratch.environment, directory: scratch.path)
        #expect(planned.status == 0, "\(planned.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])
        let items = ((document["plans"] as? [[String: Any]])?.first?["items"] as? [[String: Any]]) ?? []
        let blobs = items.compactMap { ($0["actions"] as? [String: Any])?["blobs"] as? [String: Any] }
        func total(_ key: String) -> Int { blobs.reduce(0) { $0 + (($1[key] as? Int) ?? 0) } }

        let applied = try apply(app, scratch: scratch)
        #expect(applied.status == 0, "\(applied.stderr)")
        let end = try #require(applied.runEnd)
        #expect(total("upload") == end.int("blobsUploaded"), "\(blobs) vs \(end.line)")
        #expect(total("mount") == end.int("blobsMounted"), "\(blobs) vs \(end.line)")
        #expect(total("present") == end.int("blobsPresent"), "\(blobs) vs \(end.line)")
        #expect(total("mount") == 1 && total("upload") == 2, "the shared layer mounted; config and new layer uploaded: \(blobs)")
    }

    /// An unreachable `docker://` upstream fails only the items that read it; the job's other
    /// items are pushed (it used to stop the whole job with exit 2).
    @Test func anUnreachableUpstreamFailsOnlyItsItems() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let dead = try Sockets.freePort()
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 10_000)
        let job = try scratch.job(
            JobSpec("upstream", defaults: ["retries": "1"])
                .registry("lab", url: registry.baseURL)
                .image("docker://127.0.0.1:\(dead)/library/app:1", repository: "mirror/app", targets: ["lab"])
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            let ends = Dictionary(uniqueKeysWithValues: r.pushEnds().map { ($0.repository ?? "", $0) })
            #expect(ends["mirror/app"]?.status == "failed")
            #expect(ends["team/app"]?.status == (night == 1 ? "pushed" : "unchanged"))
        }
        #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
    }

    /// SIGINT while the run is still preparing (here: a source registry trickling its tag list)
    /// ends it at once with exit 130, recorded as interrupted — not as items that failed.
    @Test func anInterruptDuringPreparationEndsTheRunAsInterrupted() throws {
        let scratch = try Scratch()
        let upstream = try RegistryServer.start()
        let target = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: upstream.port)
        let writer = try scratch.layout()
        _ = try writer.addImage(tag: "1", randomLayerSize: 5_000)
        let seed = try scratch.job(
            JobSpec("seed")
                .registry("upstream", url: upstream.baseURL)
                .image("oci:image:1", repository: "src/app", tags: ["v1"], targets: ["upstream"]))
        #expect(try apply(seed, scratch: scratch).status == 0)
        proxy.add(
            .init(method: "GET", pathContains: "/tags/list", fault: .trickleResponse(bytesPerSecond: 1, headDelaySeconds: 30), times: 10))
        let job = try scratch.job(
            JobSpec("slow-upstream")
                .registry("upstream", url: proxy.baseURL)
                .registry("lab", url: target.baseURL)
                .image("docker://\(proxy.host)/src/app", repository: "mirror/app", selector: "{match: 'v[0-9]+'}", targets: ["lab"]))
        let running = try RunningApply([job], scratch: scratch)
        // Wait until the tag list request is held by the proxy, then interrupt.
        let deadline = Date().addingTimeInterval(20)
        while !proxy.entries.contains(where: { $0.target.contains("/tags/list") }), Date() < deadline { usleep(50_000) }
        #expect(proxy.entries.contains { $0.target.contains("/tags/list") }, "the tag list was asked for")
        let interrupted = Date()
        running.signal(SIGINT)
        let status = running.wait(timeout: 20)
        #expect(status == 130, "\(running.stderr)\n\(running.stdout)")
        #expect(Date().timeIntervalSince(interrupted) < 10 * testTimeScale, "the interrupt ended the tag listing promptly")
        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let run = try #require(shown["run"] as? [String: Any])
        #expect(run["status"] as? String == "interrupted")
        #expect(run["exitCode"] as? Int == 130)
        #expect((shown["pushes"] as? [[String: Any]])?.isEmpty == true)
    }
}
