import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl apply` when things go wrong between runs or during one: retries through injected
/// faults, tags moved behind pushctl's back, shards, SIGTERM.
@Suite(.serialized) struct ApplyResilienceIntegrationTests {
    func singleImageJob(
        _ scratch: Scratch, name: String, url: String, repository: String = "team/app",
        tags: [String] = ["1"]
    ) throws -> String {
        try scratch.job(
            JobSpec(name)
                .registry("target", url: url)
                .image("oci:image:1", repository: repository, tags: tags, targets: ["target"]))
    }

    @Test func a503AndADroppedUploadAreRetriedAndThePushLands() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try scratch.layout()
        let layer = try writer.addRandomLayer(size: 300_000)
        let image = try writer.addImage(tag: "1", layers: [layer])
        proxy.add(.init(method: "PUT", pathContains: layer.digest.hex, fault: .dropAfterBodyBytes(100_000)))
        proxy.add(.init(method: "PUT", pathContains: "/manifests/", fault: .status(503, retryAfter: "1")))
        let job = try singleImageJob(scratch, name: "faults", url: proxy.baseURL)

        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map(\.status) == ["pushed"])
        let retries = r.blobs(status: "retrying")
        #expect(retries.count == 2, "\(r.stdout)")
        #expect(retries.contains { ($0.object["what"] as? String)?.contains(layer.digest.string) == true }, "\(retries.map(\.line))")
        #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
        // The layer went up whole in the end (the registry verified its digest).
        #expect(registry.accessLog().contains { $0.method == "PUT" && $0.uri.contains(layer.digest.hex) && $0.status == 201 })
        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let attempts = (shown["pushes"] as? [[String: Any]])?.first?["attempts"] as? Int
        #expect((attempts ?? 0) >= 3, "attempts recorded: \(String(describing: attempts))")

        // Plain output says it as docker does.
        proxy.add(.init(method: "PUT", pathContains: "/manifests/", fault: .status(503, retryAfter: "1")))
        let plainJob = try singleImageJob(scratch, name: "faults-plain", url: proxy.baseURL, repository: "team/plain")
        let plain = try apply(plainJob, scratch: scratch, output: "plain")
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("Retrying in 1 seconds"), "\(plain.stdout)")
    }

    @Test func aTagMovedOrDeletedBehindPushctlsBackIsPushedAgain() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 20_000)
        let other = try writer.addImage(tag: "other", randomLayerSize: 20_000)
        let job = try singleImageJob(scratch, name: "drift", url: registry.baseURL, tags: ["1", "stable"])
        #expect(try apply(job, scratch: scratch).status == 0)

        // Someone else moves `stable` to another image.
        try TestTools.run(
            "skopeo",
            [
                "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests",
                "oci:\(writer.path):other", "docker://\(registry.host)/team/app:stable"
            ])
        #expect(try pushedDigest(registry, "team/app", "stable") == other.digest)

        let again = try apply(job, scratch: scratch)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.pushEnds().map(\.status) == ["pushed"])
        let tags = again.events.filter { $0.name == "manifest" }.compactMap(\.tag)
        #expect(tags == ["stable"], "only the moved tag is put again: \(tags)")
        #expect(try pushedDigest(registry, "team/app", "stable") == image.digest)
        // Its blobs were still there: nothing uploaded.
        #expect(again.runEnd?.int("bytesUploaded") == 0)

        // The tag's manifest deleted (by digest, as the registry API allows): pushed again too.
        try TestTools.run("skopeo", ["delete", "--tls-verify=false", "docker://\(registry.host)/team/app@\(image.digest)"])
        #expect(registry.accessLog().contains { $0.method == "DELETE" && $0.uri.contains("/manifests/") && $0.status == 202 })
        let third = try apply(job, scratch: scratch)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(Set(third.events.filter { $0.name == "manifest" }.compactMap(\.tag)) == ["1", "stable"])
        #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
    }

    @Test func shardsSplitTheItemsBetweenRunners() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        try writer.addImage(tag: "1", randomLayerSize: 5_000)
        let repositories = (0..<6).map { "team/shard\($0)" }
        let job = try scratch.job(
            repositories.reduce(JobSpec("shards").registry("target", url: registry.baseURL)) {
                $0.image("oci:image:1", repository: $1, tags: ["1"], targets: ["target"])
            })
        var seen: [String] = []
        for shard in 0..<2 {
            let state = scratch.sub("shard\(shard).db")
            let r = try run(
                pushctlBinary, ["apply", "--output", "json", "--state", state, "--shard", "\(shard)/2", job],
                environment: scratch.environment, directory: scratch.path)
            #expect(r.status == 0, "\(r.stderr)")
            seen += parseEvents(r.stdout).filter { $0.name == "push-end" && $0.status == "pushed" }.compactMap(\.repository)
        }
        #expect(seen.sorted() == repositories, "each item in exactly one shard: \(seen)")
    }

    @Test func sigtermMidUploadExits130() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try scratch.layout()
        let big = try writer.addRandomLayer(size: 8 << 20)
        try writer.addImage(tag: "1", layers: [big])
        proxy.add(.init(method: "PUT", pathContains: big.digest.hex, fault: .throttle(bytesPerSecond: 2 << 20)))
        let job = try singleImageJob(scratch, name: "term", url: proxy.baseURL)
        let running = try RunningApply([job], scratch: scratch)
        try running.waitForEvent("the upload under way") {
            $0.name == "blob" && $0.digest == big.digest.string && ($0.int("bytes") ?? 0) > 0
        }
        running.signal(SIGTERM)
        #expect(running.wait() == 130, "\(running.stderr)")
        #expect(running.events.last?.int("exitCode") == 130)
        #expect(running.stderr.contains("terminated"), "\(running.stderr)")
        let history = try pushctlJSON(["history"], scratch: scratch)
        let entries = try #require(history["entries"] as? [[String: Any]])
        #expect(entries.map { ($0["run"] as? [String: Any])?["status"] as? String } == ["interrupted"])
        #expect(entries.allSatisfy { $0["push"] is NSNull }, "\(entries)")
        withExtendedLifetime(proxy) {}
    }
}

/// Streaming end to end: pushing a big layer does not grow pushctl's memory with its size.
@Suite(.serialized) struct ApplyMemoryIntegrationTests {
    @Test func a160MiBLayerIsPushedInBoundedMemory() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let size: Int64 = 160 << 20
        let big = try writer.addRandomLayer(size: size)
        let image = try writer.addImage(tag: "1", layers: [big])
        let job = try scratch.job(
            JobSpec("memory")
                .registry("target", url: registry.baseURL)
                .image("oci:image:1", repository: "team/big", tags: ["1"], targets: ["target"]))
        let running = try RunningApply([job], scratch: scratch)
        // Peak resident memory (VmHWM), sampled until the process is gone.
        var peakKiB = 0
        while running.process.isRunning {
            if let status = try? String(contentsOfFile: "/proc/\(running.pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
            {
                peakKiB = max(peakKiB, kib)
            }
            usleep(10_000)
        }
        #expect(running.wait() == 0, "\(running.stderr)")
        #expect(running.events.first { $0.name == "push-end" }?.int("bytesUploaded") == Int(size) + configSize(running))
        #expect(try pushedDigest(registry, "team/big", "1") == image.digest)
        #expect(peakKiB > 0)
        #expect(peakKiB < 96 * 1024, "peak resident memory \(peakKiB / 1024) MiB while pushing a \(size >> 20) MiB layer")
    }

    /// The config blob's size, from the uploaded events (it goes up with the layer).
    private func configSize(_ running: RunningApply) -> Int {
        running.events.filter { $0.name == "blob" && $0.status == "uploaded" }.compactMap { $0.int("size") }.filter { $0 < 1 << 20 }.reduce(
            0, +)
    }
}
