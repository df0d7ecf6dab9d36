import Foundation
import RegistryHarness
import TestSupport
import Testing

/// `pushctl serve` end to end (docs/serve.md): a real docker-registry whose
/// `notifications.endpoints` point at the hook, skopeo pushing into it, the mirror read back with
/// skopeo, and the ledger read with `history`. Needs Debian's docker-registry, skopeo and curl.
@Suite(.serialized) struct ServeIntegrationTests {
    static let images = TestImages.shared
    static let token = "hook-\(UUID().uuidString)"

    /// A workspace with the token file, an upstream registry that notifies `hookPort`, a mirror,
    /// and a job copying upstream lib/app (tags `v…`) to mirror/app.
    struct Setup {
        let workspace: Scratch
        let upstream: RegistryServer
        let mirror: RegistryServer
        let hookPort: UInt16
        let tokenFile: String
        let job: String
        var state: String { workspace.state }

        init(_ name: String, jobExtra: [String] = [], upstreamProxy: Bool = false) throws {
            workspace = try Scratch(prefix: "pushctl-serve-\(name)")
            hookPort = try Sockets.freePort()
            tokenFile = try workspace.write("hook.token", ServeIntegrationTests.token + "\n")
            upstream = try RegistryServer.start(
                .plain, notifications: .init(url: "http://127.0.0.1:\(hookPort)/hooks/registry", token: ServeIntegrationTests.token))
            mirror = try RegistryServer.start(.plain)
            var spec = JobSpec(name)
                .registry("mirror", mirror)
                .image("docker://\(upstream.host)/lib/app", repository: "mirror/app", selector: "{match: 'v[0-9]+'}", targets: ["mirror"])
            for line in jobExtra { spec = spec.top(line) }
            job = try workspace.job(spec)
        }

        func serve(_ extra: [String] = [], logName: String = "serve.log") throws -> ServeProcess {
            try ServeProcess(
                ["--listen", "127.0.0.1:\(hookPort)", "--state", state, "--hook-token-file", tokenFile] + extra + [job],
                workspace: workspace, logName: logName)
        }

        /// Pushes test image one into upstream lib/app:TAG with skopeo (the registry then notifies).
        func push(_ tag: String, from existing: String? = nil) throws {
            let source =
                existing.map { "docker://\(upstream.host)/lib/app:\($0)" }
                ?? "docker-archive:\(ServeIntegrationTests.images.imageOneArchive)"
            let r = try run(
                "/usr/bin/skopeo",
                ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", source, "docker://\(upstream.host)/lib/app:\(tag)"])
            try #require(r.status == 0, "skopeo copy: \(r.stderr)")
        }

        func mirrorTags() throws -> [String] {
            let r = try run("/usr/bin/skopeo", ["list-tags", "--tls-verify=false", "docker://\(mirror.host)/mirror/app"])
            guard r.status == 0 else { return [] }
            struct List: Decodable { var Tags: [String] }
            return (try? JSONDecoder().decode(List.self, from: Data(r.stdout.utf8)).Tags) ?? []
        }

        func stop() {
            upstream.stop()
            mirror.stop()
        }
    }

    @Test func aPushUpstreamIsCopiedToTheMirrorAndRecordedAsAnEventRun() throws {
        let setup = try Setup("event-copy")
        defer { setup.stop() }
        let serve = try setup.serve()
        let pushed = Date()
        try setup.push("v1")
        let copied = try poll(seconds: 60) { try setup.mirrorTags().contains("v1") }
        // A figure for people (not asserted): from the start of the upstream push to the tag in the
        // mirror, the 2 s coalescing window included.
        print("serve: skopeo push upstream → tag in the mirror after \(String(format: "%.1f", Date().timeIntervalSince(pushed))) s")
        #expect(copied, "mirror tags: \((try? setup.mirrorTags()) ?? []); log:\n\(serve.log)")
        #expect(serve.waitForLog("event job event-copy ok"), "\(serve.log)")
        let runs = try historyRuns(setup.workspace, state: setup.state)
        #expect(runs.contains { $0.kind == "event" && $0.status == "ok" && $0.job == "event-copy" }, "\(runs)")
        // `show` of the event run names the event the registry sent (its id, from the events table).
        let eventRun = try #require(runs.first { $0.kind == "event" })
        let shown = try run(
            pushctlBinary, ["show", String(eventRun.id), "--state", setup.state, "--output", "json"],
            environment: setup.workspace.environment)
        let document = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        #expect((document?["events"] as? [String])?.count == 1, "\(shown.stdout)")
        #expect(serve.log.contains(((document?["events"] as? [String]) ?? ["?"])[0]))
        // Between runs serve holds no lock: an apply of the same job on the same database runs.
        let apply = try run(pushctlBinary, ["apply", "--state", setup.state, setup.job], environment: setup.workspace.environment)
        #expect(apply.status == 0, "\(apply.stderr)")
        // No credential in the log: the hook token never appears.
        #expect(!serve.log.contains(Self.token))
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0, "\(serve.log)")
    }

    /// The ledger's web view, JSON API and /metrics as `serve` hands them out over HTTP, read by
    /// headless Chromium, the JSON Schema and prometheus_client after an event run.
    @Test func theLedgerViewIsServedOverHTTP() throws {
        let setup = try Setup("event-view")
        defer { setup.stop() }
        let serve = try setup.serve()
        try setup.push("v1")
        #expect(try poll(seconds: 60) { try setup.mirrorTags().contains("v1") }, "\(serve.log)")
        #expect(serve.waitForLog("event job event-view ok"), "\(serve.log)")

        let browser = HeadlessChromium(scratch: setup.workspace)
        let page = try browser.dumpDOM(serve.baseURL + "/")
        #expect(page.contains("event-view") && page.contains("event"), "\(page)")
        let search = try browser.dumpDOM(serve.baseURL + "/pushes?repository=mirror/app")
        #expect(search.contains("mirror/app") && search.contains("v1"), "\(search)")
        let screenshots = packageRoot + "/.build/serve-screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        try browser.screenshot(serve.baseURL + "/", to: screenshots + "/served-runs-phone.png")
        print("screenshot: \(screenshots)/served-runs-phone.png")

        let runs = try serve.request("GET", "/api/v1/runs")
        #expect(runs.status == 200)
        #expect(try SchemaValidator.problems(runs.body, schema: "web-runs-v1.schema.json") == nil, "\(runs.body)")
        #expect(runs.body.contains("\"event\""), "\(runs.body)")

        let metrics = try serve.request("GET", "/metrics")
        #expect(metrics.status == 200)
        let families = try PrometheusParser.parse(metrics.body)
        #expect((families["pushctl_events_received"]?.samples["pushctl_events_received_total{}"] ?? 0) >= 1, "\(metrics.body)")
        #expect(try serve.request("GET", "/nowhere").status == 404)
        // No credential in what the view serves: the hook token appears in no page or answer.
        #expect(![page, search, runs.body, metrics.body].contains { $0.contains(Self.token) })
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0, "\(serve.log)")
    }

    @Test func aBurstOfTwentyPushesGivesAFewRunsAndEveryTag() throws {
        let setup = try Setup("event-burst")
        defer { setup.stop() }
        try setup.push("v0")
        let serve = try setup.serve()
        let tags = (1...20).map { "v\($0)" }
        for tag in tags { try setup.push(tag, from: "v0") }
        let all = try poll(seconds: 120) { Set(try setup.mirrorTags()).isSuperset(of: tags) }
        #expect(all, "mirror: \((try? setup.mirrorTags()) ?? []); log:\n\(serve.log)")
        let eventRuns = try historyRuns(setup.workspace, state: setup.state).filter { $0.kind == "event" }
        print("serve burst: 20 pushes (+1 before start) → \(eventRuns.count) event runs")
        #expect(!eventRuns.isEmpty && eventRuns.count <= 5, "\(eventRuns)")
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0)
    }

    @Test func eventsAcceptedBeforeASigkillAreCopiedAfterTheRestart() throws {
        let setup = try Setup("event-restart")
        defer { setup.stop() }
        // Events wait 600 s to be coalesced: accepted and stored, not yet run.
        let first = try setup.serve(["--coalesce", "600"])
        try setup.push("v7")
        #expect(first.waitForLog("hook: accepted"), "\(first.log)")
        first.kill()
        #expect(try setup.mirrorTags().isEmpty)
        #expect(try historyRuns(setup.workspace, state: setup.state).isEmpty)

        let second = try setup.serve(["--coalesce", "0.5"], logName: "serve-2.log")
        #expect(second.waitForLog("pending event"), "\(second.log)")
        let copied = try poll(seconds: 60) { try setup.mirrorTags().contains("v7") }
        #expect(copied, "\(second.log)")
        #expect(try historyRuns(setup.workspace, state: setup.state).contains { $0.kind == "event" && $0.status == "ok" })
        second.signal(SIGINT)
        #expect(second.exitStatus() == 0)
    }

    /// The hook refuses what it must, and says why, without starting anything; then the same
    /// event with the right token runs (the rerun after the failures).
    @Test func wrongOrMissingTokenIs401AndStartsNothing() throws {
        let workspace = try Scratch(prefix: "pushctl-serve-token")
        let tokenFile = try workspace.write("token", Self.token)
        // A source registry that is not there: the run fails, but is recorded.
        let job = try workspace.job(
            JobSpec("hooked").registry("mirror", url: "http://127.0.0.1:9")
                .image("docker://127.0.0.1:9/lib/app", repository: "mirror/app", selector: "{match: 'v.*'}", targets: ["mirror"]))
        let serve = try ServeProcess(
            ["--listen", "127.0.0.1:0", "--state", workspace.state, "--hook-token-file", tokenFile, "--coalesce", "0.2", job],
            workspace: workspace)
        let type = "Content-Type: application/vnd.docker.distribution.events.v1+json"
        let body =
            #"{"events":[{"id":"ev-1","action":"push","target":{"repository":"lib/app","tag":"v1","digest":"sha256:\#(String(repeating: "1", count: 64))"},"request":{"host":"127.0.0.1:9"}}]}"#
        #expect(try serve.request("POST", "/hooks/registry", headers: [type], body: body).status == 401)
        #expect(try serve.request("POST", "/hooks/registry", headers: [type, "Authorization: Bearer wrong"], body: body).status == 401)
        #expect(
            try serve.request("POST", "/hooks/registry", headers: [type, "Authorization: Basic \(Self.token)"], body: body).status == 401)
        let auth = "Authorization: Bearer \(Self.token)"
        let malformed = try serve.request("POST", "/hooks/registry", headers: [type, auth], body: #"{"events":[{"action":"push"}]}"#)
        #expect(malformed.status == 400)
        #expect(malformed.body.contains("events[0].id is missing"), "\(malformed.body)")
        #expect(try serve.request("POST", "/hooks/registry", headers: ["Content-Type: text/plain", auth], body: body).status == 415)
        let huge = #"{"events":[],"pad":""# + String(repeating: "x", count: 2 << 20) + #""}"#
        #expect(try serve.request("POST", "/hooks/registry", headers: [type, auth], body: huge).status == 413)
        #expect(try serve.request("GET", "/healthz").status == 200)
        // Nothing was stored or started.
        #expect(try historyRuns(workspace, state: workspace.state).isEmpty)

        let accepted = try serve.request("POST", "/hooks/registry", headers: ["Content-Type: application/json", auth], body: body)
        #expect(accepted.status == 202)
        #expect(accepted.body.contains(#""accepted":1"#), "\(accepted.body)")
        #expect(
            try poll(seconds: 60) { try historyRuns(workspace, state: workspace.state).contains { $0.kind == "event" } }, "\(serve.log)")
        // The same event id again (a registry retrying) changes nothing.
        let repeated = try serve.request("POST", "/hooks/registry", headers: [type, auth], body: body)
        #expect(repeated.status == 202 && repeated.body.contains(#""repeated":1"#), "\(repeated.body)")
        // An event for nothing in the jobs: 202, logged as ignored.
        let other = body.replacingOccurrences(of: "ev-1", with: "ev-2").replacingOccurrences(of: "lib/app", with: "lib/other")
        let ignored = try serve.request("POST", "/hooks/registry", headers: [type, auth], body: other)
        #expect(ignored.status == 202 && ignored.body.contains(#""ignored":1"#), "\(ignored.body)")
        #expect(serve.waitForLog("event ev-2 (127.0.0.1:9/lib/other:v1) ignored"), "\(serve.log)")
        #expect(!serve.log.contains(Self.token))
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0)
        #expect(try historyRuns(workspace, state: workspace.state).filter { $0.kind == "event" }.count == 1)
    }

    @Test func withoutATokenFileHooksAreRefused() throws {
        let workspace = try Scratch(prefix: "pushctl-serve-notoken")
        let job = try workspace.job(
            JobSpec("nohook").registry("mirror", url: "http://127.0.0.1:9")
                .image("docker://127.0.0.1:9/lib/app:v1", repository: "mirror/app", targets: ["mirror"]))
        let serve = try ServeProcess(["--listen", "127.0.0.1:0", "--state", workspace.state, job], workspace: workspace)
        let answer = try serve.request(
            "POST", "/hooks/registry", headers: ["Content-Type: application/json", "Authorization: Bearer x"], body: #"{"events":[]}"#)
        #expect(answer.status == 403)
        // The ledger's view answers beside the refused hook: /metrics says no event came in.
        let metrics = try serve.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.body.contains("pushctl_events_received_total 0"), "\(metrics.body)")
        // A second serve on the same address cannot listen: exit 1, said, nothing else started.
        let second = try run(
            pushctlBinary, ["serve", "--listen", "127.0.0.1:\(serve.port)", "--state", workspace.sub("other.db"), job],
            environment: workspace.environment)
        #expect(second.status == 1, "\(second.stderr)")
        #expect(second.stderr.contains("Address already in use"), "\(second.stderr)")
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0)
    }

    /// A scheduled job copying lib/app:v1 from a source behind a fault proxy (which can slow it
    /// down) to a mirror; the registries and the proxy stop with `stop()`.
    struct ScheduledSource {
        let workspace: Scratch
        let source: RegistryServer
        let target: RegistryServer
        let proxy: FaultProxy
        let job: String

        init(_ name: String, schedule: String) throws {
            workspace = try Scratch(prefix: "pushctl-serve-\(name)")
            source = try RegistryServer.start(.plain)
            target = try RegistryServer.start(.plain)
            let seed = try run(
                "/usr/bin/skopeo",
                [
                    "copy", "--dest-tls-verify=false", "docker-archive:\(ServeIntegrationTests.images.imageOneArchive)",
                    "docker://\(source.host)/lib/app:v1"
                ])
            try #require(seed.status == 0, "\(seed.stderr)")
            proxy = try FaultProxy(upstreamPort: source.port)
            job = try workspace.job(
                JobSpec(name).top("schedule: \"\(schedule)\"")
                    .registry("upstream", url: proxy.baseURL).registry("mirror", target)
                    .image("docker://\(proxy.host)/lib/app:v1", repository: "mirror/app", targets: ["mirror"]))
        }

        func serve() throws -> ServeProcess {
            try ServeProcess(["--listen", "127.0.0.1:0", "--state", workspace.state, job], workspace: workspace)
        }

        func runs() throws -> [(id: Int, kind: String, status: String, job: String)] { try historyRuns(workspace, state: workspace.state) }

        /// Every source request waits `seconds` before its answer.
        func slow(_ seconds: Double) {
            proxy.add(.init(pathContains: "/v2/", fault: .trickleResponse(bytesPerSecond: 1 << 20, headDelaySeconds: seconds), times: 1000))
        }

        func stop() {
            proxy.stop()
            source.stop()
            target.stop()
        }
    }

    /// A job due every 2 seconds (the seconds field) runs on its schedule; a run slower than the
    /// period makes the next due time skipped, and said so (no overlap).
    @Test func scheduledJobRunsOnTimeWithoutOverlap() throws {
        let setup = try ScheduledSource("ticking", schedule: "*/2 * * * * *")
        defer { setup.stop() }
        let serve = try setup.serve()
        #expect(
            try poll(seconds: 60) { try setup.runs().filter { $0.kind == "schedule" && $0.status == "ok" }.count >= 2 },
            "\(serve.log)")
        // Every source request now waits 5 s: a run outlasts two periods.
        setup.slow(5)
        #expect(serve.waitForLog("skipped: its previous run is still going (no overlap)", seconds: 90), "\(serve.log)")
        #expect(try setup.runs().filter { $0.status == "running" }.count <= 1)
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0, "\(serve.log)")
        // Stopped mid-run: the run is finished or recorded interrupted, none left `running`.
        let after = try setup.runs()
        #expect(after.allSatisfy { ["ok", "interrupted"].contains($0.status) }, "\(after)")
    }

    @Test func sigtermDuringARunStopsWithZeroAndRecordsIt() throws {
        let setup = try ScheduledSource("slow", schedule: "* * * * * *")
        defer { setup.stop() }
        setup.slow(30)
        let (workspace, proxy, job) = (setup.workspace, setup.proxy, setup.job)
        let serve = try setup.serve()
        #expect(try poll(seconds: 60) { try setup.runs().contains { $0.status == "running" } })
        serve.signal(SIGTERM)
        #expect(serve.exitStatus(within: 60) == 0, "\(serve.log)")
        let runs = try historyRuns(workspace, state: workspace.state)
        #expect(runs.contains { $0.kind == "schedule" && $0.status == "interrupted" }, "\(runs)")
        #expect(!runs.contains { $0.status == "running" }, "\(runs)")
        // The rerun after the interruption: the lock is free, an apply of the same job works.
        proxy.clearRules()
        let rerun = try run(pushctlBinary, ["apply", "--state", workspace.state, job], environment: workspace.environment)
        #expect(rerun.status == 0, "\(rerun.stderr)")
    }

    @Test func sighupWithABrokenJobKeepsTheOldJobs() throws {
        let workspace = try Scratch(prefix: "pushctl-serve-sighup")
        let spec = JobSpec("reloaded").top(#"schedule: "0 3 * * *""#).registry("mirror", url: "http://127.0.0.1:9")
            .image("docker://127.0.0.1:9/lib/app:v1", repository: "mirror/app", targets: ["mirror"])
        let job = try workspace.job(spec, file: "job")
        let serve = try ServeProcess(["--listen", "127.0.0.1:0", "--state", workspace.state, job], workspace: workspace)
        #expect(serve.log.contains("1 job loaded (1 scheduled)"))
        _ = try workspace.write("job.yaml", spec.yaml.replacingOccurrences(of: #""0 3 * * *""#, with: #""0 25 * * *""#))
        serve.signal(SIGHUP)
        #expect(serve.waitForLog("error: reload (SIGHUP) kept the jobs loaded before"), "\(serve.log)")
        #expect(serve.log.contains("job.yaml:3:11: error: 'schedule': '25' is not a valid hour"), "\(serve.log)")
        #expect(try serve.request("GET", "/healthz").status == 200)
        // Fixed: the reload takes it.
        _ = try workspace.write("job.yaml", spec.yaml)
        serve.signal(SIGHUP)
        #expect(serve.waitForLog("reloaded 1 job (SIGHUP)"), "\(serve.log)")
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0)
    }

    @Test func invalidJobsTokenFileOrAddressStopTheStartWithExit2() throws {
        let workspace = try Scratch(prefix: "pushctl-serve-invalid")
        let bad = try workspace.job(
            "bad",
            """
            version: 1
            name: bad
            schedule: "15 2 * *"
            timezone: Mars/Olympus
            registries: {r: {url: "http://127.0.0.1:9"}}
            images: [{source: "docker://127.0.0.1:9/a:1", repository: a, targets: [r]}]
            """)
        let validate = try run(pushctlBinary, ["validate", bad], environment: workspace.environment)
        #expect(validate.status == 2)
        #expect(validate.stderr.contains("bad.yaml:3:11: error: 'schedule': a schedule has 5 fields"), "\(validate.stderr)")
        #expect(
            validate.stderr.contains("bad.yaml:4:11: error: 'timezone' 'Mars/Olympus' is not an IANA time zone name"), "\(validate.stderr)")
        let serve = try run(
            pushctlBinary, ["serve", "--listen", "127.0.0.1:0", "--state", workspace.state, bad], environment: workspace.environment)
        #expect(serve.status == 2)
        #expect(serve.stderr.contains("bad.yaml:3:11"), "\(serve.stderr)")

        let good = try workspace.job(
            JobSpec("good").registry("r", url: "http://127.0.0.1:9").image("docker://127.0.0.1:9/a:1", repository: "a", targets: ["r"]))
        let noToken = try run(
            pushctlBinary, ["serve", "--listen", "127.0.0.1:0", "--hook-token-file", workspace.sub("missing"), good],
            environment: workspace.environment)
        #expect(noToken.status == 2 && noToken.stderr.contains("--hook-token-file"), "\(noToken.stderr)")
        let address = try run(pushctlBinary, ["serve", "--listen", "localhost", good], environment: workspace.environment)
        #expect(address.status == 2, "\(address.stderr)")
        // The rerun with everything valid validates.
        #expect(try run(pushctlBinary, ["validate", good], environment: workspace.environment).status == 0)
    }

    /// examples/kubernetes/deployment.yaml: the container's args start a `serve` (with the repo's
    /// job, a token file and a state path of this test) that answers the probes' `/healthz`.
    @Test func kubernetesDeploymentArgsStartAServeThatAnswersHealthz() throws {
        let script = """
            import json, sys, yaml
            docs = list(yaml.safe_load_all(open(sys.argv[1])))
            deployment = docs[0]
            container = deployment['spec']['template']['spec']['containers'][0]
            print(json.dumps({'kind': deployment['kind'], 'replicas': deployment['spec']['replicas'],
                              'command': container['command'], 'args': container['args'],
                              'env': {e['name']: e['value'] for e in container['env']},
                              'probe': container['readinessProbe']['httpGet']['path'], 'service': docs[1]['kind']}))
            """
        let r = try run("/usr/bin/python3", ["-c", script, packageRoot + "/examples/kubernetes/deployment.yaml"])
        try #require(r.status == 0, "\(r.stderr)")
        struct Shape: Decodable {
            var kind: String, replicas: Int, command: [String], args: [String], env: [String: String], probe: String, service: String
        }
        let shape = try JSONDecoder().decode(Shape.self, from: Data(r.stdout.utf8))
        #expect(shape.kind == "Deployment" && shape.replicas == 1 && shape.service == "Service")
        #expect(shape.command == ["pushctl"] && shape.args.first == "serve")
        #expect(shape.args.contains("--listen=0.0.0.0:8080"))
        let workspace = try Scratch(prefix: "pushctl-serve-k8s")
        let tokenFile = try workspace.write("token", Self.token)
        let args = shape.args.dropFirst().map { argument -> String in
            if argument.hasPrefix("--listen=") { return "--listen=127.0.0.1:0" }
            if argument.hasPrefix("--state=") { return "--state=" + workspace.state }
            if argument.hasPrefix("--hook-token-file=") { return "--hook-token-file=" + tokenFile }
            return argument.hasSuffix(".yaml") ? packageRoot + "/" + argument : argument
        }
        var environment = workspace.environment
        environment.merge(shape.env.filter { $0.key != "DOCKER_CONFIG" }) { $1 }
        let serve = try ServeProcess(args, workspace: workspace, environment: environment)
        #expect(try serve.request("GET", shape.probe).status == 200, "\(serve.log)")
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0, "\(serve.log)")
    }

    /// The bound on requests at once: one request held open (its body never sent) takes the only
    /// slot, and the next is answered 503 at once; once it is gone, requests are served again.
    @Test func requestsBeyondTheBoundAre503() throws {
        let workspace = try Scratch(prefix: "pushctl-serve-limit")
        let tokenFile = try workspace.write("token", Self.token)
        let job = try workspace.job(
            JobSpec("limited").registry("mirror", url: "http://127.0.0.1:9")
                .image("docker://127.0.0.1:9/lib/app:v1", repository: "mirror/app", targets: ["mirror"]))
        let serve = try ServeProcess(
            ["--listen", "127.0.0.1:0", "--state", workspace.state, "--hook-token-file", tokenFile, "--max-requests", "1", job],
            workspace: workspace)
        let fd = try Sockets.connect(port: UInt16(serve.port))
        let head =
            "POST /hooks/registry HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Self.token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        #expect(Sockets.writeAll(fd, Array(head.utf8)))
        #expect(try poll(seconds: 30) { try serve.request("GET", "/healthz").status == 503 }, "\(serve.log)")
        close(fd)
        #expect(try poll(seconds: 30) { try serve.request("GET", "/healthz").status == 200 }, "\(serve.log)")
        serve.signal(SIGTERM)
        #expect(serve.exitStatus() == 0)
    }
}
