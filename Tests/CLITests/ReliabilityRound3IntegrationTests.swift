#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import OCI
import RegistryHarness
import Testing

/// docs/reliability.md end to end: `pushctl apply` against docker-registry, on a first
/// run and a rerun. docs/reliability.md "Stalls, TLS, locks, completion".
@Suite struct ReliabilityRound3IntegrationTests {
    /// The job's `timeout` in these tests, in seconds.
    static let timeout = 3.0

    enum StallAt: String, CaseIterable, CustomTestStringConvertible {
        case ping, patch, put
        var testDescription: String { rawValue }
    }

    /// A registry that stalls at `/v2/`, on a chunked upload's PATCH or on the monolithic PUT:
    /// each run ends within the configured deadline; with a mirror, the mirror serves the run.
    @Test(arguments: StallAt.allCases, [false, true])
    func aStalledRegistryIsAbandonedWithinTheDeadline(_ stall: StallAt, withMirror: Bool) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let mirror = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        defer { proxy.stop() }
        switch stall {
        case .ping: proxy.add(.init(method: "GET", pathContains: "/v2/", fault: .stall(seconds: 60), times: 1000))
        case .patch: proxy.add(.init(method: "PATCH", pathContains: "/blobs/uploads/", fault: .stall(seconds: 60), times: 1000))
        case .put: proxy.add(.init(method: "PUT", pathContains: "/blobs/uploads/", fault: .stall(seconds: 60), times: 1000))
        }
        let writer = try LayoutWriter(path: scratch.sub("image"))
        // Over 16 MiB goes up in a PATCH session, smaller in one PUT.
        let layer = try writer.addRandomLayer(size: stall == .patch ? 17 << 20 : 30_000)
        let image = try writer.addImage(tag: "1", layers: [layer])
        let job = try scratch.job(
            JobSpec("stall", defaults: ["timeout": "3s"])
                .registry("main", url: proxy.baseURL, mirrors: withMirror ? [mirror.baseURL] : [])
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["main"]))
        for night in 1...2 {
            let started = Date()
            let r = try apply(job, scratch: scratch)
            let elapsed = Date().timeIntervalSince(started)
            print("stall at \(stall), mirror \(withMirror), night \(night): exit \(r.status) after \(String(format: "%.1f", elapsed)) s")
            #expect(elapsed < Self.timeout * 3 * testTimeScale, "night \(night): \(elapsed) s\n\(r.stderr)")
            let pushes = try pushctlJSON(["show", "last"], scratch: scratch)["pushes"] as? [[String: Any]] ?? []
            if withMirror {
                #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
                #expect(pushes.map { $0["status"] as? String } == [night == 1 ? "pushed" : "unchanged"])
                #expect(pushes.map { $0["endpoint"] as? String } == [mirror.baseURL])
                #expect(try pushedDigest(mirror, "team/app", "1") == image.digest)
            } else {
                #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
                #expect(pushes.map { $0["status"] as? String } == ["failed"])
                #expect((pushes.first?["error"] as? String)?.contains("timeout of 3 s is spent") == true, "\(pushes)")
            }
        }
        // The stalled step was reached, once per run: the endpoint is not asked again.
        let stalled = proxy.entries.filter(\.faulted).count
        // (With `put`, the config blob's PUT may stall next to the layer's.)
        #expect(stalled >= 2 && stalled <= (stall == .put ? 4 : 2), "\(proxy.entries.map { "\($0.method) \($0.target)" })")
        #expect(registry.requestCount(method: "PUT", pathContains: "/manifests/") == 0)
    }

    /// An `insecure: true` https registry restarted as plain http on the same port mid-upload:
    /// the host answered over TLS in this run, so its plain-http twin is never used. The push
    /// fails (exit 1) and nothing goes over http, on a first run and a rerun.
    @Test func aRegistryRestartedAsPlainHttpMidUploadIsNotUsedOverHttp() throws {
        let scratch = try Scratch()
        let tls = try RegistryServer.start(.tls)
        let plain = try RegistryServer.start(.plain)
        // The address pushctl knows: TLS first; a slow link so the upload is under way for seconds.
        let relay = try TCPRelay(upstreamPort: tls.port, bytesPerSecond: 200_000)
        defer { relay.stop() }
        let writer = try LayoutWriter(path: scratch.sub("image"))
        _ = try writer.addImage(tag: "1", layers: [try writer.addRandomLayer(size: 2 << 20)])
        let job = try scratch.job(
            JobSpec("restart")
                .registry("lab", url: "https://127.0.0.1:\(relay.port)", extra: ["insecure: true"])
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]))
        for night in 1...2 {
            relay.switchUpstream(to: tls.port)
            let posts = tls.requestCount(method: "POST", pathContains: "/blobs/uploads/")
            let running = try RunningApply([job], scratch: scratch)
            // An upload session opened over TLS: the host has answered over TLS in this run.
            let deadline = Date().addingTimeInterval(60)
            while tls.requestCount(method: "POST", pathContains: "/blobs/uploads/") == posts, Date() < deadline,
                running.process.isRunning
            {
                usleep(20_000)
            }
            #expect(running.process.isRunning, "night \(night): the apply ended before the restart: \(running.stderr)")
            // "Restart" as plain http on the same port: open connections drop, new ones meet http.
            relay.switchUpstream(to: plain.port)
            let status = running.wait(timeout: 120)
            #expect(status == 1, "night \(night): \(running.stderr)\n\(running.stdout)")
            #expect(plain.accessLog().isEmpty, "night \(night): plain http was used: \(plain.accessLog())")
            #expect(!running.stdout.contains("http://"), "night \(night): \(running.stdout)")
            let pushes = try pushctlJSON(["show", "last"], scratch: scratch)["pushes"] as? [[String: Any]] ?? []
            #expect(pushes.map { $0["status"] as? String } == ["failed"], "night \(night)")
            #expect(pushes.allSatisfy { ($0["endpoint"] as? String)?.hasPrefix("http://") != true }, "\(pushes)")
        }
    }

    /// The same database through a symlinked `--state` path (and a symlinked folder) takes the
    /// same lock: exit 3 while another apply holds it, on a first run and a rerun; the alias works
    /// once the lock is free.
    @Test func aSymlinkedStatePathGetsExit3WhileTheDatabaseIsLocked() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try LayoutWriter(path: scratch.sub("image"))
        let image = try writer.addImage(tag: "1", layers: [try writer.addRandomLayer(size: 20_000)])
        let job = try scratch.job(
            JobSpec("alias")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]))
        // The database exists (a first apply made it).
        #expect(try apply(job, scratch: scratch).status == 0)
        let alias = scratch.sub("alias.db")
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: scratch.state)
        let folder = scratch.sub("linked")
        try FileManager.default.createSymbolicLink(atPath: folder, withDestinationPath: scratch.path)
        for night in 1...2 {
            // Another apply holds the database: pushctl's lock is a flock on `state.db.lock`.
            let fd = open(scratch.state + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
            for path in [alias, folder + "/state.db"] {
                let r = try run(
                    pushctlBinary, ["apply", "--output", "json", "--state", path, job],
                    environment: scratch.environment, directory: scratch.path)
                #expect(r.status == 3, "night \(night), --state \(path): \(r.stderr)\n\(r.stdout)")
            }
            #expect(!FileManager.default.fileExists(atPath: alias + ".lock"))
            _ = flock(fd, LOCK_UN)
            close(fd)
            let free = try run(
                pushctlBinary, ["apply", "--output", "json", "--state", alias, job],
                environment: scratch.environment, directory: scratch.path)
            #expect(free.status == 0, "night \(night): \(free.stderr)")
        }
        #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
    }

    /// A layer addressed by sha512: docker-registry stores it but answers its digest in sha256.
    /// The push succeeds on the first run, and the rerun is unchanged.
    @Test func aSha512LayerPushesOnTheFirstRun() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try LayoutWriter(path: scratch.sub("image"))
        var bytes = [UInt8](repeating: 0, count: 30_000)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let layer = try writer.addBlob(bytes, mediaType: MediaType.ociLayerGzip, algorithm: .sha512)
        let image = try writer.addImage(tag: "1", layers: [layer])
        let job = try scratch.job(
            JobSpec("sha512")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            #expect(r.pushEnds().map(\.status) == [night == 1 ? "pushed" : "unchanged"], "\(r.stdout)")
        }
        #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
    }

    /// Carriage returns and escape sequences in job-file values are shown escaped.
    @Test func controlCharactersInJobFileValuesAreEscaped() throws {
        let scratch = try Scratch()
        let job = try scratch.job(
            JobSpec("hostile").registry("lab", url: "http://127.0.0.1:5000")
                .image("oci:image:1", repository: "team/app", tags: ["ok\\rFAKE\\e[31mred"], targets: ["lab"]))
        for _ in 1...2 {
            let r = try run(pushctlBinary, ["validate", job], environment: scratch.environment, directory: scratch.path)
            #expect(r.status == 2)
            #expect(r.stderr.contains(#"ok\x0dFAKE\x1b[31mred"#), "\(r.stderr)")
            #expect(!r.stderr.contains("\r") && !r.stderr.contains("\u{1b}"))
        }
    }
}
