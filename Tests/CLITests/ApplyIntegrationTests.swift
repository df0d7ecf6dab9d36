import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl apply` against real registries (Debian's docker-registry), read back with skopeo:
/// docs/apply-integration-tests.md's list. Each test runs the built binary with job files in a temporary
/// directory, its own `--state`, and its own registries.
@Suite(.serialized) struct ApplyIntegrationTests {
    // MARK: - Fixtures

    /// Two images: a multi-platform index made with umoci, and a single-platform image with two
    /// random layers; three tags each.
    struct TwoImages {
        let multi: UmociMultiPlatformLayout
        let single: Descriptor
        let singlePath: String
        static let multiTags = ["1.0", "1", "latest"]
        static let singleTags = ["2.0", "2", "stable"]

        init(in scratch: Scratch) throws {
            multi = try UmociMultiPlatformLayout.make(at: scratch.sub("multi"))
            singlePath = scratch.sub("single")
            let writer = try LayoutWriter(path: singlePath)
            single = try writer.addImage(
                tag: "2.0",
                layers: [
                    try writer.addRandomLayer(size: 200_000),
                    try writer.addRandomLayer(size: 300_000)
                ])
        }

        /// The job: both images to both registries.
        func job(_ scratch: Scratch, _ one: RegistryServer, _ two: RegistryServer) throws -> String {
            try scratch.job(
                JobSpec("two-images")
                    .registry("one", url: one.baseURL)
                    .registry("two", url: two.baseURL)
                    .image("oci:multi:multi", repository: "team/multi", tags: Self.multiTags, targets: ["one", "two"])
                    .image("oci:single:2.0", repository: "team/single", tags: Self.singleTags, targets: ["one", "two"]))
        }

        var expectations: [(repository: String, tags: [String], digest: Digest, source: String, sourceTag: String)] {
            [
                ("team/multi", Self.multiTags, multi.index.digest, "oci:\(multi.path):multi", "multi"),
                ("team/single", Self.singleTags, single.digest, "oci:\(singlePath):2.0", "2.0")
            ]
        }
    }

    /// Two registries with both images pushed by one apply (checked to exit 0).
    struct Pushed {
        let scratch: Scratch
        let one: RegistryServer
        let two: RegistryServer
        let images: TwoImages
        let job: String
        let first: ApplyResult

        init() throws {
            scratch = try Scratch()
            one = try RegistryServer.start()
            two = try RegistryServer.start()
            images = try TwoImages(in: scratch)
            job = try images.job(scratch, one, two)
            first = try apply(job, scratch: scratch)
            guard first.status == 0 else {
                throw ApplyTestError.command("first apply exited \(first.status): \(first.stderr)\n\(first.stdout)")
            }
        }
    }

    /// Checks the event order of every push: push-start, blob…, manifest…, push-end.
    func expectPushSequences(_ events: [Event], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let items = Set(events.compactMap(\.item))
        for item in items {
            let names = events.filter { $0.item == item }.map(\.name)
            #expect(names.first == "push-start", "\(item): \(names)", sourceLocation: sourceLocation)
            #expect(names.last == "push-end", "\(item): \(names)", sourceLocation: sourceLocation)
            let middle = names.dropFirst().dropLast()
            #expect(middle.allSatisfy { $0 == "blob" || $0 == "manifest" }, "\(item): \(names)", sourceLocation: sourceLocation)
            // No event says the same thing twice in a row (only the time differs).
            let said = events.filter { $0.item == item }.map { event in
                event.object.filter { $0.key != "time" }.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            }
            for (a, b) in zip(said, said.dropFirst()) where a == b {
                Issue.record("\(item): repeated event \(a)", sourceLocation: sourceLocation)
            }
            if let firstManifest = middle.firstIndex(of: "manifest") {
                #expect(
                    !middle[firstManifest...].contains("blob"), "\(item): a blob after a manifest: \(names)", sourceLocation: sourceLocation
                )
            }
        }
    }

    // MARK: - 1. two images × three tags × two registries

    @Test func twoImagesWithThreeTagsLandInTwoRegistriesAsTheSourceDigests() throws {
        let p = try Pushed()
        let events = p.first.events
        #expect(events.first?.name == "run-start")
        #expect(p.first.runEnd?.int("exitCode") == 0)
        #expect(p.first.runEnd?.int("pushed") == 4)
        #expect(events.last?.name == "run-end")
        #expect(p.first.pushEnds().count == 4)
        #expect(p.first.pushEnds().allSatisfy { $0.status == "pushed" }, "\(p.first.stdout)")
        expectPushSequences(events)

        // Manifests: the index's two children by digest, then each tag (the first tag's PUT stores
        // the root: no PUT of a root by digest, docs/run.md rule 1); no confirming HEAD, since
        // docker-registry's answer to a tag's PUT reports the digest it stored (docs/run.md "Tags").
        for registry in [p.one, p.two] {
            let manifestRequests = registry.accessLog().filter { $0.path.contains("/manifests/") }
            #expect(manifestRequests.allSatisfy { $0.method == "PUT" && $0.status == 201 }, "\(manifestRequests)")
            #expect(manifestRequests.count == 2 + TwoImages.multiTags.count + TwoImages.singleTags.count, "\(manifestRequests)")
            let byDigest = manifestRequests.filter { $0.path.contains("/manifests/sha256:") }
            #expect(byDigest.count == 2, "\(byDigest)")
        }

        for registry in [p.one, p.two] {
            for image in p.images.expectations {
                // Every tag serves exactly the source's root manifest.
                let sourceBytes = try TestTools.run("skopeo", ["inspect", "--raw", image.source])
                for tag in image.tags {
                    let raw = try pushedManifest(registry, image.repository, tag)
                    #expect(Digest.of(Array(raw.utf8)) == image.digest, "\(registry.host)/\(image.repository):\(tag)")
                    #expect(raw == sourceBytes)
                }
                // The manifest events name each tag once, with the source digest.
                let manifests = events.filter { $0.name == "manifest" && $0.repository == image.repository && $0.host == registry.host }
                #expect(Set(manifests.compactMap(\.tag)) == Set(image.tags))
                #expect(manifests.allSatisfy { $0.digest == image.digest.string })
            }
        }

        // skopeo copies what pushctl pushed back to a layout: the same root and the same blobs
        // (children, configs, layers) as a copy of the source itself.
        for image in p.images.expectations {
            let fromSource = try copyToLayout(image.source, into: p.scratch.sub("copy-source-\(image.sourceTag)"), tag: image.sourceTag)
            #expect(fromSource.root == image.digest.string)
            for registry in [p.one, p.two] {
                let tag = image.tags[0]
                let fromRegistry = try copyToLayout(
                    "docker://\(registry.host)/\(image.repository):\(tag)",
                    into: p.scratch.sub("copy-\(registry.port)-\(image.sourceTag)"), tag: tag)
                #expect(
                    fromRegistry == CopiedImage(root: image.digest.string, blobs: fromSource.blobs), "\(registry.host)/\(image.repository)")
            }
        }
        // The multi-platform copy really holds both children.
        let children = try copyToLayout("docker://\(p.one.host)/team/multi:1.0", into: p.scratch.sub("children"), tag: "1.0").blobs
        #expect(children.contains(p.images.multi.base.digest.hex))
        #expect(children.contains(p.images.multi.arm.digest.hex))
    }

    // MARK: - 2. rerun: nothing to do

    @Test func rerunLeavesEveryTagUnchangedWithOneRequestPerTag() throws {
        let p = try Pushed()
        let before = [p.one.accessLog().count, p.two.accessLog().count]
        let again = try apply(p.job, scratch: p.scratch)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.runEnd?.int("exitCode") == 0)
        #expect(again.runEnd?.int("unchanged") == 4)
        #expect(again.runEnd?.int("pushed") == 0)
        #expect(again.runEnd?.int("blobsUploaded") == 0)
        #expect(again.runEnd?.int("bytesUploaded") == 0)
        #expect(again.pushEnds().count == 4)
        #expect(again.pushEnds().allSatisfy { $0.status == "unchanged" }, "\(again.stdout)")
        #expect(again.blobs().filter { $0.status == "uploading" || $0.status == "uploaded" }.isEmpty)
        expectPushSequences(again.events)

        let tagsPerRegistry = TwoImages.multiTags.count + TwoImages.singleTags.count
        for (registry, count) in zip([p.one, p.two], before) {
            let requests = Array(registry.accessLog().dropFirst(count))
            #expect(requests.count <= tagsPerRegistry, "\(registry.host): \(requests)")
            #expect(requests.allSatisfy { $0.path.contains("/manifests/") && $0.method != "PUT" }, "\(requests)")
        }
    }

    // MARK: - 3. another repository of the same registry: cross-repository mounts

    @Test func secondRepositoryOfTheSameRegistryMountsEveryBlob() throws {
        let p = try Pushed()
        let job = try p.scratch.job(
            JobSpec("copy")
                .registry("one", url: p.one.baseURL)
                .image("oci:multi:multi", repository: "team/multi-copy", tags: ["1.0"], targets: ["one"]))
        let before = p.one.accessLog().count
        let r = try apply(job, scratch: p.scratch)
        #expect(r.status == 0, "\(r.stderr)")

        // The blobs of the index: every child's config and layers, each once.
        let source = try copyToLayout("oci:\(p.images.multi.path):multi", into: p.scratch.sub("source"), tag: "multi")
        let manifests: Set<String> = [p.images.multi.index.digest.hex, p.images.multi.base.digest.hex, p.images.multi.arm.digest.hex]
        let blobs = source.blobs.subtracting(manifests)
        #expect(!blobs.isEmpty)

        let mounted = r.blobs(repository: "team/multi-copy", status: "mounted")
        #expect(Set(mounted.compactMap(\.digest)) == Set(blobs.map { "sha256:" + $0 }), "\(r.stdout)")
        #expect(mounted.allSatisfy { ($0.object["from"] as? String) == "team/multi" })
        #expect(r.blobs(repository: "team/multi-copy").allSatisfy { $0.status == "mounted" }, "\(r.stdout)")
        #expect(r.pushEnds().map { $0.int("bytesUploaded") } == [0])
        #expect(r.pushEnds().map { $0.int("blobsMounted") } == [blobs.count])
        #expect(r.runEnd?.int("bytesUploaded") == 0)

        let requests = p.one.accessLog().dropFirst(before)
        let mounts = requests.filter {
            $0.method == "POST" && $0.uri.contains("/v2/team/multi-copy/blobs/uploads/?") && $0.uri.contains("mount=")
        }
        #expect(mounts.count == blobs.count, "\(requests)")
        #expect(mounts.allSatisfy { $0.status == 201 }, "\(mounts)")
        #expect(!requests.contains { $0.method == "PUT" && $0.uri.contains("/blobs/uploads/") }, "\(requests)")
        #expect(!requests.contains { $0.method == "PATCH" }, "\(requests)")
        #expect(try pushedDigest(p.one, "team/multi-copy", "1.0") == p.images.multi.index.digest)
    }

    // MARK: - 4. endpoint fallback to a mirror

    @Test func closedFirstEndpointFallsBackToTheMirrorAndRecordsIt() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let closed = try Sockets.freePort()
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 50_000)
        let job = try scratch.job(
            JobSpec("mirror")
                .registry("main", url: "http://127.0.0.1:\(closed)", mirrors: [registry.baseURL])
                .image("oci:image:1", repository: "team/mirrored", tags: ["1", "one"], targets: ["main"]))
        let started = Date()
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map(\.status) == ["pushed"])
        #expect(r.pushEnds().map { $0.object["endpoint"] as? String } == [registry.baseURL])
        // A refused connection abandons the endpoint at once: no backoff before the mirror.
        #expect(r.blobs(status: "retrying").isEmpty, "\(r.stdout)")
        #expect(Date().timeIntervalSince(started) < 10 * testTimeScale)
        #expect(try pushedDigest(registry, "team/mirrored", "1") == image.digest)
        #expect(try pushedDigest(registry, "team/mirrored", "one") == image.digest)

        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let pushes = try #require(shown["pushes"] as? [[String: Any]])
        #expect(pushes.count == 2)
        #expect(pushes.allSatisfy { $0["endpoint"] as? String == registry.baseURL }, "\(pushes)")
        #expect(pushes.allSatisfy { $0["status"] as? String == "pushed" })
        #expect(Set(pushes.compactMap { $0["tag"] as? String }) == ["1", "one"])
        #expect(pushes.allSatisfy { $0["pushedDigest"] as? String == image.digest.string })
    }

    // MARK: - 5. the lock, and SIGINT mid-push

    /// 12 MiB goes up in one PUT, 20 MiB in a PATCH session (`RegistryClient.monolithicLimit` is 16 MiB).
    @Test(arguments: [Int64(12 << 20), Int64(20 << 20)])
    func secondApplyExits3AndSIGINTMidUploadExits130ThenARerunCompletes(layerSize: Int64) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        // A slow link for the big layer only: its upload takes seconds, long enough to act during it.
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try LayoutWriter(path: scratch.sub("big"))
        let big = try writer.addRandomLayer(size: layerSize)
        let image = try writer.addImage(tag: "1", layers: [try writer.addRandomLayer(size: 10_000), big])
        // A small image pushed at the same time: it finishes before the interrupt and stays recorded.
        let smallWriter = try LayoutWriter(path: scratch.sub("small"))
        let small = try smallWriter.addImage(tag: "1", randomLayerSize: 20_000)
        let chunked = layerSize > 16 << 20
        proxy.add(
            .init(
                method: chunked ? "PATCH" : "PUT", pathContains: chunked ? "/blobs/uploads/" : big.digest.hex,
                fault: .throttle(bytesPerSecond: 3 << 20)))
        let job = try scratch.job(
            JobSpec("big")
                .registry("slow", url: proxy.baseURL)
                .image("oci:big:1", repository: "team/big", tags: ["1"], targets: ["slow"])
                .image("oci:small:1", repository: "team/small", tags: ["1"], targets: ["slow"]))

        let running = try RunningApply([job], scratch: scratch)
        let runStart = try running.waitForEvent("run-start") { $0.name == "run-start" }
        try running.waitForEvent("the big layer's upload under way") {
            $0.name == "blob" && $0.digest == big.digest.string && $0.status == "uploading" && ($0.int("bytes") ?? 0) > 0
        }
        try running.waitForEvent("the small image pushed") {
            $0.name == "push-end" && $0.repository == "team/small" && $0.status == "pushed"
        }

        // A second apply on the same state while the first holds the lock.
        let second = try apply(job, scratch: scratch)
        #expect(second.status == 3, "\(second.stderr)\n\(second.stdout)")
        #expect(second.stderr.contains("pid \(running.pid)"), "\(second.stderr)")
        #expect(second.events.isEmpty)
        #expect(running.process.isRunning, "the first apply finished before the second one was checked")

        running.signal(SIGINT)
        let status = running.wait()
        #expect(status == 130, "\(running.stderr)\n\(running.stdout)")
        let runEnd = running.events.last
        #expect(runEnd?.name == "run-end")
        #expect(runEnd?.int("exitCode") == 130)
        #expect(runEnd?.object["interrupted"] as? Bool == true)
        // The push cut short is counted as interrupted, not failed — as `show` (which has no row
        // for it) counts it.
        #expect(runEnd?.int("failed") == 0, "\(running.stdout)")
        #expect(runEnd?.int("interruptedPushes") == 1, "\(running.stdout)")
        #expect(running.events.contains { $0.name == "push-end" && $0.repository == "team/big" && $0.status == "interrupted" })
        #expect(!running.events.contains { $0.name == "manifest" && $0.repository == "team/big" })

        // The run is recorded as interrupted, with no push rows that claim success.
        let runID = try #require(runStart.int("run"))
        let history = try pushctlJSON(["history"], scratch: scratch)
        let entries = try #require(history["entries"] as? [[String: Any]])
        let ofRun = entries.filter { (($0["run"] as? [String: Any])?["id"] as? NSNumber)?.intValue == runID }
        #expect(!ofRun.isEmpty, "\(entries)")
        #expect(ofRun.allSatisfy { ($0["run"] as? [String: Any])?["status"] as? String == "interrupted" }, "\(ofRun)")
        let pushesOfRun = ofRun.compactMap { $0["push"] as? [String: Any] }
        #expect(!pushesOfRun.contains { $0["repository"] as? String == "team/big" }, "\(ofRun)")
        // The push that finished before the interrupt stays recorded.
        #expect(
            pushesOfRun.filter { $0["status"] as? String == "pushed" }.compactMap { $0["repository"] as? String } == ["team/small"],
            "\(ofRun)")
        #expect(pushesOfRun.first?["pushedDigest"] as? String == small.digest.string)
        #expect(registry.requestCount(method: "PUT", pathContains: "/v2/team/big/manifests/") == 0)

        // Every upload session pushctl opened and did not finish, it deleted on the way out. A
        // session that already received part of the body cannot be deleted on distribution 2.8
        // (its state token's offset no longer matches, so the registry answers 404
        // BLOB_UPLOAD_INVALID and keeps it until upload purging); nothing refers to it.
        let log = registry.accessLog()
        func session(_ entry: RegistryServer.AccessLogEntry) -> String? {
            guard let range = entry.path.range(of: "/blobs/uploads/") else { return nil }
            let rest = entry.path[range.upperBound...]
            return rest.isEmpty ? nil : String(rest)
        }
        let finished = Set(log.filter { $0.method == "PUT" && $0.status == 201 }.compactMap(session))
        let deleted = Set(log.filter { $0.method == "DELETE" }.compactMap(session))
        let started = Set(log.compactMap(session))
        #expect(started.subtracting(finished) == deleted, "sessions neither finished nor deleted: \(log)")
        #expect(!deleted.isEmpty, "the interrupted upload's session was deleted: \(log)")
        let uploads = registry.directory + "/storage/docker/registry/v2/repositories/team/big/_uploads"
        let open = Set((try? FileManager.default.contentsOfDirectory(atPath: uploads)) ?? [])
        #expect(open.isSubset(of: deleted), "open upload sessions: \(open); requests: \(log)")
        let registryLog = (try? String(contentsOfFile: registry.directory + "/stderr.log", encoding: .utf8)) ?? ""
        for id in open {
            #expect(
                registryLog.contains("upload resumed at wrong offset") || registryLog.contains("upload resumed at wrong offest"),
                "session \(id) was kept for another reason: \(registryLog.suffix(3000))")
        }

        // A rerun completes the job.
        let rerun = try apply(job, scratch: scratch)
        #expect(rerun.status == 0, "\(rerun.stderr)\n\(rerun.stdout)")
        #expect(rerun.pushEnds(repository: "team/big").map(\.status) == ["pushed"])
        #expect(rerun.pushEnds(repository: "team/small").map(\.status) == ["unchanged"])
        #expect(try pushedDigest(registry, "team/big", "1") == image.digest)
        withExtendedLifetime(proxy) {}
    }

    // MARK: - 6. a corrupted source blob fails its image only

    @Test func corruptedBlobFailsItsImageBeforeAnyManifestAndTheOthersLand() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let good = try LayoutWriter(path: scratch.sub("good"))
        let goodImage = try good.addImage(tag: "1", randomLayerSize: 80_000)
        let bad = try LayoutWriter(path: scratch.sub("bad"))
        let layer = try bad.addRandomLayer(size: 100_000)
        try bad.addImage(tag: "1", layers: [try bad.addRandomLayer(size: 1_000), layer])
        // Flip one byte in the middle of the layer: same size, wrong digest.
        let handle = try #require(FileHandle(forUpdatingAtPath: bad.blobPath(layer.digest)))
        try handle.seek(toOffset: 50_000)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: 50_000)
        try handle.write(contentsOf: Data([byte ^ 0x01]))
        try handle.close()

        let job = try scratch.job(
            JobSpec("corrupt")
                .registry("local", url: registry.baseURL)
                .image("oci:bad:1", repository: "team/bad", tags: ["1", "latest"], targets: ["local"])
                .image("oci:good:1", repository: "team/good", tags: ["1", "latest"], targets: ["local"]))
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 1, "\(r.stderr)\n\(r.stdout)")
        #expect(r.runEnd?.int("exitCode") == 1)
        let badEnd = try #require(r.pushEnds(repository: "team/bad").first)
        #expect(badEnd.status == "failed")
        let error = badEnd.object["error"] as? String ?? ""
        #expect(error.contains(layer.digest.string), "error names the blob: \(error)")
        // pushctl's own hashing caught it (not the registry's DIGEST_INVALID after the upload).
        #expect(error.contains("is corrupt"), "\(error)")
        #expect(
            !registry.accessLog().contains { $0.method == "PUT" && $0.uri.contains(layer.digest.hex) && $0.status == 400 },
            "the registry had to reject the blob: \(registry.accessLog())")
        #expect(r.pushEnds(repository: "team/good").map(\.status) == ["pushed"])
        #expect(!r.events.contains { $0.name == "manifest" && $0.repository == "team/bad" })

        #expect(
            !registry.accessLog().contains { $0.method == "PUT" && $0.path.hasPrefix("/v2/team/bad/manifests/") }, "\(registry.accessLog())"
        )
        #expect(try pushedDigest(registry, "team/good", "1") == goodImage.digest)
        #expect(try pushedDigest(registry, "team/good", "latest") == goodImage.digest)

        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let pushes = try #require(shown["pushes"] as? [[String: Any]])
        #expect(
            pushes.filter { $0["repository"] as? String == "team/bad" }.allSatisfy {
                $0["status"] as? String == "failed" && $0["pushedDigest"] is NSNull
            }, "\(pushes)")
        #expect(pushes.filter { $0["repository"] as? String == "team/good" }.count == 2)
    }

    // MARK: - 7. plain output, docker's lines

    @Test func plainOutputPrintsDockersLines() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        let layers = [try writer.addRandomLayer(size: 40_000), try writer.addRandomLayer(size: 60_000)]
        let image = try writer.addImage(tag: "1", layers: layers)
        let job = try scratch.job(
            JobSpec("plain")
                .registry("local", url: registry.baseURL)
                .image("oci:image:1", repository: "team/plain", tags: ["1", "latest"], targets: ["local"]))
        let r = try apply(job, scratch: scratch, output: "plain")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("The push refers to repository [\(registry.host)/team/plain]"), "\(r.stdout)")
        for layer in layers {
            #expect(lines.contains("\(layer.digest.short): Pushed"), "\(r.stdout)")
        }
        for tag in ["1", "latest"] {
            #expect(lines.contains("\(tag): digest: \(image.digest) size: \(image.size)"), "\(r.stdout)")
        }
        #expect(!r.stdout.contains("\u{1B}["), "no terminal control codes")
        #expect(lines.last?.hasPrefix("Summary: 1 pushed, 0 unchanged, 0 failed") == true, "\(r.stdout)")

        // The rerun says so in plain words.
        let again = try apply(job, scratch: scratch, output: "plain")
        #expect(again.status == 0)
        #expect(again.stdout.contains("1, latest: unchanged, digest: \(image.digest)"), "\(again.stdout)")
        #expect(!again.stdout.contains(": Pushed"))
    }

    // MARK: - 8. docker-archive source: compressed once

    @Test func dockerArchiveIsNotCompressedAgainOnTheSecondApply() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let archive = TestImages.shared.imageOneArchive
        let job = try scratch.job(
            JobSpec("archive")
                .registry("local", url: registry.baseURL)
                .image("docker-archive:\(archive)", repository: "team/archive", tags: ["t1"], targets: ["local"]))
        let first = try apply(job, scratch: scratch)
        #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["pushed"])
        let cached = try snapshot(scratch.cache)
        #expect(!cached.isEmpty, "the compressed layer is cached under XDG_CACHE_HOME")

        // What was pushed: a gzip layer whose diffID the state database maps to it.
        let manifest =
            try JSONSerialization.jsonObject(with: Data(try pushedManifest(registry, "team/archive", "t1").utf8)) as? [String: Any]
        let layers = (manifest?["layers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
        let config =
            try JSONSerialization.jsonObject(
                with: Data(
                    try TestTools.run(
                        "skopeo",
                        [
                            "inspect", "--raw", "--config", "--tls-verify=false", "docker://\(registry.host)/team/archive:t1"
                        ]
                    ).utf8)) as? [String: Any]
        let diffIDs = (config?["rootfs"] as? [String: Any])?["diff_ids"] as? [String] ?? []
        #expect(layers.count == 1)
        #expect(diffIDs.count == layers.count)
        let rows = try TestTools.run(
            "sqlite3", ["-readonly", scratch.state, "SELECT diff_id || ' ' || compressed_digest FROM diffid_mappings ORDER BY diff_id"])
        #expect(rows.split(separator: "\n").map(String.init) == zip(diffIDs, layers).map { "\($0) \($1)" }, "\(rows)")

        // Second apply: unchanged, and the cache is not rewritten.
        let second = try apply(job, scratch: scratch)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.pushEnds().map(\.status) == ["unchanged"])
        #expect(try snapshot(scratch.cache) == cached)

        // Third, with the cache gone: the state database alone names the compressed digest, so
        // nothing is compressed at all (the cache stays empty) and the tag is still unchanged.
        try FileManager.default.removeItem(atPath: scratch.cache)
        let third = try apply(job, scratch: scratch)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.pushEnds().map(\.status) == ["unchanged"])
        #expect(try snapshot(scratch.cache).isEmpty)
    }

    /// Every regular file under `directory` with its size, modification time and inode.
    func snapshot(_ directory: String) throws -> [String: String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [:] }
        var files: [String: String] = [:]
        while let relative = walker.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + relative)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            files[relative] = "\(attributes[.size] ?? 0) \(modified) \(attributes[.systemFileNumber] ?? 0)"
        }
        return files
    }
}

/// Docker archives end to end: two images of one `docker save` sharing a layer, pushed at the
/// same time into one repository.
@Suite(.serialized) struct ApplyDockerArchiveIntegrationTests {
    @Test func sharedLayerOfTwoArchiveImagesIsUploadedOnceAndDecompressesToItsDiffID() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let archive = TestImages.shared.linkArchive
        let job = try scratch.job(
            JobSpec("link", defaults: ["images": "2"])
                .registry("local", url: registry.baseURL)
                .image(
                    "docker-archive:\(archive):fixtures/tarball:test_image_1", repository: "team/link", tags: ["one"], targets: ["local"]
                )
                .image(
                    "docker-archive:\(archive):fixtures/tarball:test_image_3", repository: "team/link", tags: ["three"], targets: ["local"])
        )
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map(\.status) == ["pushed", "pushed"])
        // Every blob went up once in the run, whichever image got to it first.
        let uploaded = r.blobs(status: "uploaded").compactMap(\.digest)
        #expect(uploaded.count == Set(uploaded).count, "a blob uploaded twice: \(uploaded)")
        let perItem = Dictionary(grouping: r.blobs(), by: { $0.item ?? "" }).mapValues { Set($0.compactMap(\.digest)) }
        #expect(
            perItem.count == 2 && !perItem.values.reduce(perItem.values.first ?? [], { $0.intersection($1) }).isEmpty,
            "the two images share a layer: \(perItem)")

        for tag in ["one", "three"] {
            let pushed = try #require(r.events.first { $0.name == "manifest" && $0.tag == tag }?.digest)
            #expect(try pushedDigest(registry, "team/link", tag).string == pushed)
            // skopeo checks every blob's digest on the way; each layer gunzips to its diffID.
            let dir = scratch.sub("dir-\(tag)")
            try TestTools.run(
                "skopeo", ["copy", "--quiet", "--src-tls-verify=false", "docker://\(registry.host)/team/link:\(tag)", "dir:\(dir)"])
            let manifest =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json"))) as? [String: Any]
            let config = try #require((manifest?["config"] as? [String: Any])?["digest"] as? String)
            let layers = (manifest?["layers"] as? [[String: Any]] ?? []).compactMap { $0["digest"] as? String }
            let configJSON =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + config.dropFirst(7))))
                as? [String: Any]
            let diffIDs = (configJSON?["rootfs"] as? [String: Any])?["diff_ids"] as? [String] ?? []
            #expect(!layers.isEmpty && layers.count == diffIDs.count)
            for (layer, diffID) in zip(layers, diffIDs) {
                let sum = try TestTools.run("sh", ["-c", "gzip -dc < '\(dir)/\(layer.dropFirst(7))' | sha256sum"])
                #expect("sha256:" + sum.prefix(64) == diffID, "\(tag) layer \(layer)")
            }
        }
    }

    /// A layer over 16 MiB goes up in one streamed PATCH. When that upload fails for good, the
    /// push fails with no manifest on the registry and a failed record; the rerun pushes the
    /// layer (from the compression cache) in one PATCH and lands.
    @Test func aFailedLayerUploadLeavesNoManifestThenARerunLands() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        defer { proxy.stop() }
        var layer = TarWriter()
        layer.file("big", TestBlob.random(size: 17 << 20).bytes)
        let layerBytes = layer.bytes()
        let config = Array(
            #"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(Digest.of(layerBytes))"]}}"#.utf8)
        var tar = TarWriter()
        tar.file("config.json", config)
        tar.file("layer/layer.tar", layerBytes)
        tar.file("manifest.json", Array(#"[{"Config":"config.json","RepoTags":["big:1"],"Layers":["layer/layer.tar"]}]"#.utf8))
        let archive = scratch.sub("big.tar")
        try Data(tar.bytes()).write(to: URL(fileURLWithPath: archive))
        let job = try scratch.job(
            JobSpec("big", defaults: ["retries": "2"])
                .registry("local", url: proxy.baseURL)
                .image("docker-archive:\(archive)", repository: "team/big", tags: ["1"], targets: ["local"]))

        proxy.add(.init(method: "PATCH", pathContains: "/blobs/uploads/", fault: .status(500, retryAfter: nil), times: 1000))
        let first = try apply(job, scratch: scratch)
        #expect(first.status == 1, "\(first.stderr)\n\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["failed"])
        #expect(!proxy.entries.filter(\.faulted).isEmpty)
        #expect(registry.requestCount(method: "PUT", pathContains: "/team/big/manifests/") == 0, "no manifest after a failed layer")
        let failed = (try pushctlJSON(["show", "last"], scratch: scratch)["pushes"] as? [[String: Any]])?.last
        #expect(failed?["status"] as? String == "failed", "\(String(describing: failed))")

        proxy.clearRules()
        let rerun = try apply(job, scratch: scratch)
        #expect(rerun.status == 0, "rerun: \(rerun.stderr)\n\(rerun.stdout)")
        #expect(rerun.pushEnds().map(\.status) == ["pushed"])
        let pushed = try #require(rerun.events.first { $0.name == "manifest" && $0.tag == "1" }?.digest)
        #expect(try pushedDigest(registry, "team/big", "1").string == pushed)
        // The failed run's PATCHes were answered by the proxy: the one that reached the registry
        // carried the whole layer.
        #expect(registry.requestCount(method: "PATCH", pathContains: "/team/big/blobs/uploads/") == 1)
    }
    /// A cold push of an archive sends each layer as soon as it is compressed (docs/run.md "Upload
    /// ahead"): each blob goes up once, the push counts and records it, skopeo reads the image, and
    /// the rerun sends nothing. `refused`: the first blob upload is answered 400 (final for that
    /// request, not for the endpoint): the first layer's upload ahead fails, the push sends that
    /// layer itself. `dropped`: the connection of the first blob upload drops in transit: the upload
    /// ahead tries again itself. The run lands either way. (An upload ahead that finds the endpoint
    /// unusable abandons it as any request would: `UploadAheadTests`.)
    @Test(arguments: ["none", "refused", "dropped"])
    func archiveLayersGoUpAsTheyAreCompressedOnceEachThenARerunSendsNothing(fault: String) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        defer { proxy.stop() }
        let made = GeneratedDockerArchive(layerSizes: [1 << 19, 2 << 19, 3 << 19])
        let config = made.config
        let archive = scratch.sub("three.tar")
        try Data(made.bytes).write(to: URL(fileURLWithPath: archive))
        let job = try scratch.job(
            JobSpec("three")
                .registry("local", url: proxy.baseURL)
                .image("docker-archive:\(archive)", repository: "team/three", tags: ["1"], targets: ["local"]))
        switch fault {
        case "refused":
            proxy.add(.init(method: "PUT", pathContains: "/team/three/blobs/uploads/", fault: .status(400, retryAfter: nil), times: 1))
        case "dropped":
            proxy.add(.init(method: "PUT", pathContains: "/team/three/blobs/uploads/", fault: .dropInTransit(4096), times: 1))
        default: break
        }

        let first = try apply(job, scratch: scratch)
        #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["pushed"])
        let faulted = proxy.entries.filter(\.faulted)
        #expect(faulted.count == (fault == "none" ? 0 : 1))
        // The faulted upload was a layer's, sent ahead (the config goes up with the push).
        let configHex = String(Digest.of(config).string.dropFirst("sha256:".count))
        #expect(faulted.allSatisfy { $0.target.contains("digest=") && !$0.target.contains(configHex) }, "\(faulted.map(\.target))")
        // Four blobs (three layers and the config), each uploaded once as the registry saw it (a
        // PUT dropped in transit may reach its log as well).
        let puts = registry.requestCount(method: "PUT", pathContains: "/team/three/blobs/uploads/")
        #expect(fault == "dropped" ? (4...5).contains(puts) : puts == 4, "\(puts) PUTs")
        let uploaded = first.blobs(status: "uploaded").compactMap(\.digest)
        #expect(uploaded.count == 4 && Set(uploaded).count == 4, "\(uploaded)")
        let pushed = try #require(first.events.first { $0.name == "manifest" && $0.tag == "1" }?.digest)
        #expect(try pushedDigest(registry, "team/three", "1").string == pushed)
        let inspected = try TestTools.run(
            "skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/three:1"])
        #expect(Digest.of(Array(inspected.utf8)).string == pushed)
        let locations = try TestTools.run(
            "sqlite3", ["-readonly", scratch.state, "SELECT count(*) FROM blob_locations WHERE repository = 'team/three'"])
        #expect(locations.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "every blob's location recorded")

        let rerun = try apply(job, scratch: scratch)
        #expect(rerun.status == 0, "rerun: \(rerun.stderr)")
        #expect(rerun.pushEnds().map(\.status) == ["unchanged"])
        #expect(registry.requestCount(method: "PUT", pathContains: "/team/three/blobs/uploads/") == puts, "nothing sent again")
    }

    /// A primary endpoint that answers every blob upload 503: the uploads ahead fail there, and
    /// the push, whose own uploads fail the same way once its retries run out, goes to the mirror
    /// (docs/run.md "Upload ahead": failures are the push's). Each blob reaches the registry once,
    /// skopeo reads the image, and the second night, with the primary still refusing uploads,
    /// sends nothing and lands.
    @Test func anArchiveWhosePrimaryRefusesUploadsGoesToTheMirrorThenTheSecondNightSendsNothing() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        defer { proxy.stop() }
        proxy.add(.init(method: "POST", pathContains: "/blobs/uploads/", fault: .status(503, retryAfter: nil), times: 1000))
        let made = GeneratedDockerArchive(layerSizes: [1 << 19, 2 << 19])
        let archive = scratch.sub("two.tar")
        try Data(made.bytes).write(to: URL(fileURLWithPath: archive))
        let job = try scratch.job(
            JobSpec("mirrored", defaults: ["retries": "1"])
                .registry("main", url: proxy.baseURL, mirrors: [registry.baseURL])
                .image("docker-archive:\(archive)", repository: "team/two", tags: ["1"], targets: ["main"]))

        let first = try apply(job, scratch: scratch)
        #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["pushed"])
        // The uploads ahead were refused, then the push's own (whichever came first, each answered
        // 503): nothing else was refused, and no blob went up through the primary.
        let faulted = proxy.entries.filter(\.faulted)
        #expect(!faulted.isEmpty && faulted.allSatisfy { $0.method == "POST" }, "\(faulted.map(\.target))")
        #expect(proxy.entries.allSatisfy { $0.method != "PUT" }, "no blob went up through the primary")
        #expect(first.stdout.contains("using mirror \(registry.baseURL)"), "\(first.stdout)")
        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let pushes = shown["pushes"] as? [[String: Any]] ?? []
        #expect(pushes.map { $0["endpoint"] as? String } == [registry.baseURL], "\(pushes)")
        // Three blobs (two layers and the config), each stored once, all through the mirror.
        let puts = registry.requestCount(method: "PUT", pathContains: "/team/two/blobs/uploads/")
        #expect(puts == 3, "\(puts) PUTs")
        let pushed = try #require(first.events.first { $0.name == "manifest" && $0.tag == "1" }?.digest)
        #expect(try pushedDigest(registry, "team/two", "1").string == pushed)
        let inspected = try TestTools.run(
            "skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/two:1"])
        #expect(Digest.of(Array(inspected.utf8)).string == pushed)

        let faultedBefore = proxy.entries.filter(\.faulted).count
        let second = try apply(job, scratch: scratch)
        #expect(second.status == 0, "second night: \(second.stderr)\n\(second.stdout)")
        #expect(second.pushEnds().map(\.status) == ["unchanged"])
        #expect(registry.requestCount(method: "PUT", pathContains: "/team/two/blobs/uploads/") == puts, "nothing sent again")
        #expect(proxy.entries.filter(\.faulted).count == faultedBefore, "no upload tried on the second night")
    }
}
