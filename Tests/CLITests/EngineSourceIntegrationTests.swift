import Foundation
import OCI
import RegistryHarness
import TestSupport
import Testing

/// `docker-daemon:` sources against a real engine API: podman's Docker-compatible service
/// (`podman system service`, vfs storage in a temporary root), and docker-registry as the target.
/// skopeo reads back what was pushed. docs/image-sources.md "docker-daemon".
@Suite(.serialized) struct EngineSourceIntegrationTests {
    /// A podman service with `docker.io/team/engine:1` (TestImages' image 1) in its store, and a
    /// FaultProxy in front of its TCP listener that counts (and can break) engine requests.
    struct Engine {
        let podman: PodmanService
        let proxy: FaultProxy
        let id: String
        let diffIDs: [String]
        let images: TestImages

        init() throws {
            podman = try PodmanService.start(tcp: true)
            images = try TestImages()
            try podman.load(archive: images.imageOneArchive)
            let id = try podman.podman(["images", "-q", "--no-trunc"]).split(separator: "\n").first.map(String.init) ?? ""
            try podman.podman(["tag", id, "docker.io/team/engine:1"])
            self.id = id.hasPrefix("sha256:") ? id : "sha256:" + id
            diffIDs = images.imageOne.layers.map(\.diffID.string)
            proxy = try FaultProxy(upstreamPort: try #require(podman.tcpPort))
        }

        /// Export requests the engine saw through the proxy.
        var exports: Int { proxy.entries.filter { $0.target.hasSuffix("/get") }.count }
        var inspects: Int { proxy.entries.filter { $0.target.hasSuffix("/json") && $0.target.contains("/images/") }.count }
    }

    /// The job `engine`: `source` into `team/engine` at `registry` with `tags`.
    func spec(_ registry: RegistryServer, source: String = "docker-daemon:team/engine:1", tags: [String] = ["1", "stable"]) -> JobSpec {
        JobSpec("engine").registry("local", url: registry.baseURL).image(source, repository: "team/engine", tags: tags, targets: ["local"])
    }

    func job(_ scratch: Scratch, _ registry: RegistryServer, source: String = "docker-daemon:team/engine:1") throws -> String {
        try scratch.job(spec(registry, source: source))
    }

    func environment(_ scratch: Scratch, dockerHost: String) -> [String: String] {
        var environment = scratch.environment
        environment["DOCKER_HOST"] = dockerHost
        return environment
    }

    func applying(_ file: String, _ scratch: Scratch, dockerHost: String) throws -> ApplyResult {
        let r = try run(
            pushctlBinary, ["apply", "--output", "json", "--state", scratch.state, file],
            environment: environment(scratch, dockerHost: dockerHost), directory: scratch.path)
        var result = ApplyResult(status: r.status, stdout: r.stdout, stderr: r.stderr)
        result.events = parseEvents(r.stdout)
        return result
    }

    /// skopeo's view of the pushed image: its config digest and diffIDs.
    func pushed(_ registry: RegistryServer, _ tag: String) throws -> (config: String, diffIDs: [String]) {
        let raw = try TestTools.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/engine:\(tag)"])
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        let config = try #require((manifest["config"] as? [String: Any])?["digest"] as? String)
        let configText = try TestTools.run(
            "skopeo", ["inspect", "--config", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/engine:\(tag)"])
        let configObject = try #require(try JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any])
        let diffIDs = try #require((configObject["rootfs"] as? [String: Any])?["diff_ids"] as? [String])
        return (config, diffIDs)
    }

    @Test func anEngineImageIsPushedWithTheEnginesDigestsAndARerunDoesNotExport() throws {
        let engine = try Engine()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let file = try job(scratch, registry)
        let host = "tcp://\(engine.proxy.host)"

        let first = try applying(file, scratch, dockerHost: host)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.pushEnds().map(\.status) == ["pushed"])
        let (config, diffIDs) = try pushed(registry, "1")
        #expect(config == engine.id, "the pushed config is the engine's image")
        #expect(diffIDs == engine.diffIDs)
        #expect(try pushed(registry, "stable").config == engine.id)
        #expect(engine.exports == 1)

        // Decided from the engine's metadata alone: inspect, tag HEADs, no export.
        let inspectsBefore = engine.inspects
        let second = try applying(file, scratch, dockerHost: host)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.pushEnds().map(\.status) == ["unchanged"])
        #expect(engine.exports == 1, "a rerun of an unchanged engine image exports nothing")
        #expect(engine.inspects == inspectsBefore + 1)

        // A new tag of the same image needs pushing: now it is exported, once.
        let third = try applying(
            try scratch.job(spec(registry, tags: ["1", "stable", "2"]), file: "engine-more"), scratch, dockerHost: host)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try pushed(registry, "2").config == engine.id)
        #expect(engine.exports == 2)
    }

    @Test func theEnginesUnixSocketIsTheDefaultWay() throws {
        let engine = try Engine()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let file = try job(scratch, registry, source: "docker-daemon:\(engine.id)")
        for round in 1...2 {
            let r = try applying(file, scratch, dockerHost: engine.podman.dockerHost)
            #expect(r.status == 0, "round \(round): \(r.stderr)")
            #expect(r.pushEnds().map(\.status) == [round == 1 ? "pushed" : "unchanged"])
        }
        #expect(try pushed(registry, "1").config == engine.id, "an image named by its ID")
    }

    /// Docker 25+ exports an OCI layout with `manifest.json`; podman exports the classic layout.
    /// A scripted engine (python's http.server) answers with TestImages' Docker 25 archive.
    @Test func anOCILayoutExportAsDocker25WritesItIsPushed() throws {
        let images = try TestImages()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let port = try Sockets.freePort()
        let log = scratch.sub("engine.log")
        let script = try scratch.write(
            "engine.py",
            """
            import http.server, json, sys
            archive, config, diff_ids, log = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4]
            class Engine(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    open(log, 'a').write(self.path + '\\n')
                    if self.path.endswith('/json'):
                        body = json.dumps({'Id': config, 'RepoTags': ['team/engine:25'], 'RootFS': {'Type': 'layers', 'Layers': diff_ids}}).encode()
                        self.send_response(200); self.send_header('Content-Type', 'application/json')
                    elif self.path.endswith('/get'):
                        body = open(archive, 'rb').read()
                        self.send_response(200); self.send_header('Content-Type', 'application/x-tar')
                    else:
                        body = b'{"message": "no such thing"}'; self.send_response(404)
                    self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
                def log_message(self, *args): pass
            server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[5])), Engine)
            print('ready', flush=True)
            server.serve_forever()
            """)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [
            script, images.docker25Archive, images.docker25.config.digest.string,
            images.docker25.layers.map(\.diffID.string).joined(separator: ","), log, "\(port)"
        ]
        let ready = Pipe()
        server.standardOutput = ready
        try server.run()
        // SIGKILL: the test runner's children may inherit a blocked SIGTERM.
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        // It says `ready` once it listens (a blocking read, no polling).
        #expect(String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("ready"))

        let file = try job(scratch, registry, source: "docker-daemon:team/engine:25")
        for round in 1...2 {
            let r = try applying(file, scratch, dockerHost: "tcp://127.0.0.1:\(port)")
            #expect(r.status == 0, "round \(round): \(r.stderr)")
            #expect(r.pushEnds().map(\.status) == [round == 1 ? "pushed" : "unchanged"])
        }
        let (config, diffIDs) = try pushed(registry, "1")
        #expect(config == images.docker25.config.digest.string)
        #expect(diffIDs == images.docker25.layers.map(\.diffID.string))
        let requests = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(requests.filter { $0.hasSuffix("/get") }.count == 1, "\(requests)")
    }

    // MARK: failure paths, each on a first run and a rerun

    @Test func noEngineAtDockerHostFailsOnlyItsItemNamingTheSocket() throws {
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let images = try TestImages()
        let file = try scratch.job(
            spec(registry).image("oci:\(images.oneImageLayout)", repository: "team/layout", tags: ["1"], targets: ["local"]))
        for round in 1...2 {
            let r = try applying(file, scratch, dockerHost: "unix://\(scratch.sub("no-engine.sock"))")
            #expect(r.status == 1, "round \(round)")
            #expect(
                r.stdout.contains("no container engine answers at unix://\(scratch.sub("no-engine.sock")) (no such socket)"),
                "\(r.stdout)")
            #expect(r.pushEnds().compactMap(\.status).sorted() == ["failed", round == 1 ? "pushed" : "unchanged"])
        }
    }

    @Test func anImageTheEngineDoesNotHaveNamesTheClosestItHas() throws {
        let engine = try Engine()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let file = try job(scratch, registry, source: "docker-daemon:team/engin:1")
        for round in 1...2 {
            let r = try applying(file, scratch, dockerHost: engine.podman.dockerHost)
            #expect(r.status == 1, "round \(round)")
            #expect(r.stdout.contains("the container engine has no image team/engin:1"), "\(r.stdout)")
            #expect(r.stdout.contains("closest it has: docker.io/team/engine:1"), "\(r.stdout)")
        }
    }

    @Test func aSocketThisUserMayNotUseIsSaidSo() throws {
        let engine = try Engine()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let file = try job(scratch, registry)
        // The engine's socket is root's (0660); pushctl runs as nobody, in a scratch it may write.
        _ = try TestTools.run("chmod", ["-R", "a+rwX", scratch.path])
        _ = try TestTools.run("chmod", ["0660", engine.podman.socketPath])
        _ = try TestTools.run("chmod", ["a+x", (engine.podman.socketPath as NSString).deletingLastPathComponent])
        for round in 1...2 {
            let r = try run(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", pushctlBinary, "apply", "--state", scratch.state, file],
                environment: environment(scratch, dockerHost: engine.podman.dockerHost), directory: scratch.path)
            #expect(r.status == 1, "round \(round): \(r.stderr)")
            #expect(r.stderr.contains("permission denied on the container engine's socket"), "\(r.stderr)")
        }
    }

    @Test func anEngineThatStopsMidExportFailsTheItemAndPushesNothingOfIt() throws {
        let engine = try Engine()
        let registry = try RegistryServer.start()
        let scratch = try Scratch()
        let file = try job(scratch, registry)
        let host = "tcp://\(engine.proxy.host)"
        engine.proxy.add(.init(method: "GET", pathContains: "/get", fault: .dropResponseAfterBytes(2048)))
        let first = try applying(file, scratch, dockerHost: host)
        #expect(first.status == 1)
        #expect(first.stdout.contains("exporting team/engine:1 from the container engine failed"), "\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["failed"])
        #expect(throws: (any Error).self, "no tag was pushed") { try pushed(registry, "1") }
        #expect(registry.accessLog().filter { $0.method == "PUT" || $0.method == "POST" }.isEmpty, "nothing of the item was sent")

        // The next run, with the engine whole again, pushes it.
        let second = try applying(file, scratch, dockerHost: host)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.pushEnds().map(\.status) == ["pushed"])
        #expect(try pushed(registry, "1").config == engine.id)
    }
}
