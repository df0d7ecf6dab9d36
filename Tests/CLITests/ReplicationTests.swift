import Foundation
import RegistryHarness
import Testing

/// docs/replication.md, end to end through the built binary: `docker://` sources with tag selectors between
/// two real registries (the source with basic auth), cheap reruns counted in the registries'
/// access logs, same-registry mounts, shards, and source rate limits (docs/replication.md).
/// Needs Debian's docker-registry, apache2-utils (htpasswd) and skopeo.
@Suite(.serialized) struct ReplicationTests {
    static let skopeo = "/usr/bin/skopeo"
    static let images = TestImages.shared

    /// A temporary directory for a job file and state databases.
    /// The suites share one scratch workspace type (ApplySupport.swift): its environment keeps
    /// the tester's own credentials, state and cache out of the run.
    typealias Workspace = Scratch

    // MARK: helpers

    /// Copies a test image (`TestImages`) into `registry` as `repository:tag` with skopeo (`--all`: indexes whole).
    static func seed(_ registry: RegistryServer, _ source: String, _ repository: String, _ tag: String) throws {
        let arguments =
            ["copy", "--all", "--dest-tls-verify=false"] + credentials(registry, "--dest-creds")
            + [source, "docker://\(registry.host)/\(repository):\(tag)"]
        let r = try run(skopeo, arguments)
        try #require(r.status == 0, "skopeo copy \(source): \(r.stderr)")
    }

    /// Copies each (source, tag) of `images` into `registry`'s `repository`.
    static func seed(_ registry: RegistryServer, _ repository: String, _ images: [(source: String, tag: String)]) throws {
        for image in images { try seed(registry, image.source, repository, image.tag) }
    }

    /// A source registry in `mode` and a plain target.
    static func registries(source mode: RegistryServer.Variant) throws -> (source: RegistryServer, target: RegistryServer) {
        (try RegistryServer.start(mode), try RegistryServer.start(.plain))
    }

    /// A plain source holding library/tool at `tags` (images one and two of `TestImages`, in
    /// turn) behind a fault proxy, and a plain target.
    static func toolUpstream(_ tags: [String]) throws -> (source: RegistryServer, target: RegistryServer, proxy: FaultProxy) {
        let (source, target) = try registries(source: .plain)
        let archives = [images.imageOneArchive, images.imageTwoArchive]
        try seed(source, "library/tool", tags.enumerated().map { ("docker-archive:\(archives[$0.offset])", $0.element) })
        return (source, target, try FaultProxy(upstreamPort: source.port))
    }

    /// skopeo's `FLAG USER:PASSWORD` for a registry with credentials, else nothing.
    static func credentials(_ registry: RegistryServer, _ flag: String) -> [String] {
        guard let user = registry.username, let password = registry.password else { return [] }
        return [flag, "\(user):\(password)"]
    }

    /// The digest a tag resolves to, as skopeo sees it.
    static func digest(_ registry: RegistryServer, _ repository: String, _ tag: String) throws -> String {
        let arguments =
            ["inspect", "--tls-verify=false", "--format", "{{.Digest}}"] + credentials(registry, "--creds") + [
                "docker://\(registry.host)/\(repository):\(tag)"
            ]
        let r = try run(skopeo, arguments)
        try #require(r.status == 0, "skopeo inspect \(repository):\(tag): \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The sha256 of the raw manifest bytes a tag serves (index digests included), via skopeo.
    static func rawDigest(_ registry: RegistryServer, _ repository: String, _ tag: String) throws -> String {
        let arguments =
            ["inspect", "--raw", "--tls-verify=false"] + credentials(registry, "--creds") + [
                "docker://\(registry.host)/\(repository):\(tag)"
            ]
        let r = try run(skopeo, arguments)
        try #require(r.status == 0, "skopeo inspect --raw \(repository):\(tag): \(r.stderr)")
        return try run("/usr/bin/sha256sum", [], stdin: r.stdout).stdout.split(separator: " ").first.map { "sha256:" + $0 } ?? ""
    }

    /// Tags of a repository, via skopeo.
    static func tags(_ registry: RegistryServer, _ repository: String) throws -> [String] {
        let arguments = ["list-tags", "--tls-verify=false"] + credentials(registry, "--creds") + ["docker://\(registry.host)/\(repository)"]
        let r = try run(skopeo, arguments)
        guard r.status == 0 else { return [] }
        struct List: Decodable { var Tags: [String] }
        return try JSONDecoder().decode(List.self, from: Data(r.stdout.utf8)).Tags.sorted()
    }

    /// The NDJSON events of an apply.
    static func events(_ output: String) -> [[String: Any]] {
        parseEvents(output).map(\.object)
    }

    /// (tag, status) of every push-end event.
    static func pushEnds(_ output: String) -> [(tag: String, status: String)] {
        events(output).filter { $0["event"] as? String == "push-end" }.flatMap { event in
            ((event["tags"] as? [String]) ?? []).map { ($0, event["status"] as? String ?? "") }
        }
    }

    /// `docker://PROXY/library/tool` (the source behind the fault proxy) copied to `target` as
    /// mirror/tool, the tags chosen by `selector`.
    static func toolMirror(_ name: String, _ proxy: FaultProxy, _ target: RegistryServer, selector: String) -> JobSpec {
        JobSpec(name)
            .registry("upstream", url: proxy.baseURL).registry("mirror", target)
            .image("docker://\(proxy.host)/library/tool", repository: "mirror/tool", selector: selector, targets: ["mirror"])
    }

    static func apply(_ workspace: Workspace, _ job: String, state: String = "state.db", _ extra: [String] = []) throws -> ToolResult {
        try run(
            pushctlBinary, ["apply", "--output", "json", "--state", workspace.path + "/" + state] + extra + [job],
            environment: workspace.environment)
    }

    // MARK: tests

    @Test func selectorReplicationCopiesSelectedTagsThenRerunsCheaply() throws {
        let (source, target) = try Self.registries(source: .basicAuth)
        defer { source.stop(); target.stop() }
        try Self.seed(
            source, "upstream/app",
            [
                ("oci:\(Self.images.oneImageLayout)", "1.0.0"),
                ("docker-archive:\(Self.images.imageOneArchive)", "1.1.0"),
                ("oci:\(Self.images.nestedIndexLayout):3", "1.2.0"),
                ("docker-archive:\(Self.images.imageTwoArchive)", "2.0.0-rc1"),
                ("docker-archive:\(Self.images.imageTwoArchive)", "edge"),
                ("docker-archive:\(Self.images.imageTwoArchive)", "0.9.0")
            ])

        let workspace = try Workspace()
        let job = try workspace.job(
            JobSpec("replicate")
                .registry("upstream", source).registry("mirror", target)
                .image(
                    "docker://\(source.host)/upstream/app", repository: "mirror/app",
                    selector: #"{match: '[0-9]+\.[0-9]+\.[0-9]+(-.+)?', exclude: ['1\.1\..*-debug'], semver: '>=1.0'}"#,
                    targets: ["mirror"]))

        // First run: exactly the selected tags are copied (2.0.0-rc1 is a pre-release the range does
        // not name; 0.9.0 is below it; edge is not a version).
        let first = try Self.apply(workspace, job)
        #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
        let selected = ["1.0.0", "1.1.0", "1.2.0"]
        #expect(Self.pushEnds(first.stdout).map(\.tag).sorted() == selected)
        #expect(Self.pushEnds(first.stdout).allSatisfy { $0.status == "pushed" })
        #expect(try Self.tags(target, "mirror/app") == selected)
        for tag in selected {
            #expect(try Self.digest(target, "mirror/app", tag) == Self.digest(source, "upstream/app", tag), "digest of \(tag)")
            #expect(try Self.rawDigest(target, "mirror/app", tag) == Self.rawDigest(source, "upstream/app", tag), "raw manifest of \(tag)")
        }
        // The index (1.2.0) arrived whole: its digest is the source's.
        #expect(try Self.rawDigest(target, "mirror/app", "1.2.0") == Self.images.nestedIndexThree.digest.string)

        // Second run: all unchanged, at most one request per tag to each registry. The source also
        // gets the tag-list request (and, the client being new, the 401 challenge that precedes
        // the first authenticated request); nothing is read from the source beyond `HEAD`s.
        let sourceBefore = source.accessLog().count, targetBefore = target.accessLog().count
        let second = try Self.apply(workspace, job)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(Self.pushEnds(second.stdout).map(\.tag).sorted() == selected)
        #expect(Self.pushEnds(second.stdout).allSatisfy { $0.status == "unchanged" }, "\(second.stdout)")
        let sourceRequests = Array(source.accessLog().dropFirst(sourceBefore))
        let targetRequests = Array(target.accessLog().dropFirst(targetBefore))
        let tagList = sourceRequests.filter { $0.path.hasSuffix("/tags/list") }
        let challenges = sourceRequests.filter { $0.status == 401 }
        #expect(tagList.filter { $0.status == 200 }.count == 1)
        #expect(challenges.count <= 1, "\(sourceRequests)")
        #expect(sourceRequests.count <= selected.count + 2, "\(sourceRequests)")
        let perTag = sourceRequests.filter { !$0.path.hasSuffix("/tags/list") && $0.status != 401 }
        #expect(perTag.count == selected.count, "source: \(perTag)")
        #expect(perTag.allSatisfy { $0.method == "HEAD" }, "source: \(perTag)")
        #expect(targetRequests.count == selected.count, "target: \(targetRequests)")
        #expect(targetRequests.allSatisfy { $0.method == "HEAD" }, "target: \(targetRequests)")

        // A new upstream tag is picked up by the next run, and nothing else is copied.
        try Self.seed(source, "docker-archive:\(Self.images.imageTwoArchive)", "upstream/app", "1.3.0")
        let third = try Self.apply(workspace, job)
        #expect(third.status == 0, "\(third.stderr)")
        let ends = Self.pushEnds(third.stdout)
        #expect(ends.filter { $0.status == "pushed" }.map(\.tag) == ["1.3.0"])
        #expect(ends.filter { $0.status == "unchanged" }.map(\.tag).sorted() == selected)
        #expect(try Self.tags(target, "mirror/app") == selected + ["1.3.0"])
        #expect(try Self.digest(target, "mirror/app", "1.3.0") == Self.digest(source, "upstream/app", "1.3.0"))
    }

    @Test func sameRegistryReplicationMountsInsteadOfCopying() throws {
        let registry = try RegistryServer.start(.basicAuth)
        defer { registry.stop() }
        try Self.seed(
            registry, "upstream/app",
            [
                ("oci:\(Self.images.oneImageLayout)", "1.0.0"),
                ("docker-archive:\(Self.images.linkArchive):fixtures/tarball:test_image_3", "1.1.0")
            ])
        let workspace = try Workspace()
        let job = try workspace.job(
            JobSpec("same-registry")
                .registry("local", registry)
                .image(
                    "docker://\(registry.host)/upstream/app", repository: "copies/app", selector: #"{match: '1\..*'}"#, targets: ["local"]),
            file: "same")
        let before = registry.accessLog().count
        let r = try Self.apply(workspace, job)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        let end = try #require(Self.events(r.stdout).first { $0["event"] as? String == "run-end" })
        #expect(end["pushed"] as? Int == 2)
        #expect(end["bytesUploaded"] as? Int == 0)
        #expect(end["blobsUploaded"] as? Int == 0)
        #expect((end["blobsMounted"] as? Int ?? 0) >= 3)
        let blobs = Self.events(r.stdout).filter { $0["event"] as? String == "blob" }
        #expect(blobs.allSatisfy { $0["status"] as? String == "mounted" && $0["from"] as? String == "upstream/app" }, "\(blobs)")
        let requests = registry.accessLog().dropFirst(before)
        #expect(!requests.contains { $0.method == "PATCH" || ($0.method == "PUT" && $0.path.contains("/blobs/")) }, "\(requests)")
        #expect(!requests.contains { $0.method == "GET" && $0.path.contains("/blobs/") }, "no blob is read: \(requests)")
        for tag in ["1.0.0", "1.1.0"] {
            #expect(try Self.digest(registry, "copies/app", tag) == Self.digest(registry, "upstream/app", tag))
        }
    }

    @Test func threeShardsPushEverySelectedTagExactlyOnce() throws {
        let (source, target) = try Self.registries(source: .basicAuth)
        defer { source.stop(); target.stop() }
        let selected = (0..<7).map { "1.\($0).0" }
        for tag in selected {
            try Self.seed(source, "docker-archive:\(Self.images.imageOneArchive)", "upstream/tool", tag)
        }
        try Self.seed(source, "docker-archive:\(Self.images.imageOneArchive)", "upstream/tool", "nightly")
        let workspace = try Workspace()
        let job = try workspace.job(
            JobSpec("sharded")
                .registry("upstream", source).registry("mirror", target)
                .image("docker://\(source.host)/upstream/tool", repository: "mirror/tool", selector: "{semver: '>=1'}", targets: ["mirror"])
        )
        var pushedPerShard: [[String]] = []
        for index in 0..<3 {
            let r = try Self.apply(workspace, job, state: "shard-\(index).db", ["--shard", "\(index)/3"])
            #expect(r.status == 0, "shard \(index): \(r.stderr)")
            pushedPerShard.append(Self.pushEnds(r.stdout).filter { $0.status == "pushed" }.map(\.tag))
        }
        let all = pushedPerShard.flatMap { $0 }
        #expect(all.sorted() == selected, "\(pushedPerShard)")
        #expect(Set(all).count == all.count, "a tag was pushed by two shards: \(pushedPerShard)")
        #expect(pushedPerShard.filter { !$0.isEmpty }.count >= 2, "the tags did not spread over the shards: \(pushedPerShard)")
        #expect(try Self.tags(target, "mirror/tool") == selected)

        let history = try run(
            pushctlBinary, ["history", "--output", "csv"] + (0..<3).flatMap { ["--state", workspace.path + "/shard-\($0).db"] },
            environment: workspace.environment)
        #expect(history.status == 0, "\(history.stderr)")
        // CSV columns: state, run_id, job, run_status, kind, time, registry_host, repository, tag, source, …, status (12).
        let rows = history.stdout.split(whereSeparator: \.isNewline).dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        let pushedRows = rows.filter { $0.count > 12 && $0[7] == "mirror/tool" && $0[12] == "pushed" }
        #expect(pushedRows.map { String($0[8]) }.sorted() == selected, "\(history.stdout)")
        // Each shard's pushes come from its own database.
        #expect(Set(pushedRows.map { String($0[0]) }).count == pushedPerShard.filter { !$0.isEmpty }.count, "\(history.stdout)")
        #expect(pushedRows.allSatisfy { $0[9].hasPrefix("docker://\(source.host)/upstream/tool:") })
    }

    @Test func rateLimitBelowWhatTheRunNeedsStopsBeforeCopying() throws {
        let (source, target, proxy) = try Self.toolUpstream(["1.0.0", "1.1.0"])
        defer { proxy.stop(); target.stop(); source.stop() }
        // Docker Hub's form: a window and what is left in it, no reset time; plus the draft's reset.
        proxy.addResponseHeaders([("ratelimit-limit", "100;w=21600"), ("ratelimit-remaining", "1;w=21600"), ("RateLimit-Reset", "3600")])
        let workspace = try Workspace()
        let job = try workspace.job(Self.toolMirror("limited", proxy, target, selector: "{semver: '>=1'}"))
        let targetBefore = target.accessLog().count
        let r = try Self.apply(workspace, job)
        #expect(r.status == 1, "\(r.stderr)\n\(r.stdout)")
        #expect(r.stderr.contains("rate limit of \(proxy.host)"), "\(r.stderr)")
        #expect(r.stderr.contains("1 of 100 requests left"), "\(r.stderr)")
        #expect(r.stderr.contains("needs about 2 pull(s)"), "\(r.stderr)")
        #expect(r.stderr.contains("run again after"), "\(r.stderr)")
        #expect(target.accessLog().count == targetBefore, "nothing may reach the target")
        #expect(!proxy.entries.contains { $0.method == "GET" && $0.target.contains("/manifests/") }, "no counted pull was spent")

        // The budget is remembered: with nothing left until a reset an hour away, the next run does
        // not even contact the registry.
        proxy.removeResponseHeaders()
        proxy.addResponseHeaders([("RateLimit-Limit", "100"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "3600")])
        let drained = try Self.apply(workspace, job)
        #expect(drained.status == 1)
        let seen = proxy.entries.count
        let again = try Self.apply(workspace, job)
        #expect(again.status == 1, "\(again.stderr)")
        #expect(again.stderr.contains("run again after"), "\(again.stderr)")
        #expect(proxy.entries.count == seen, "a registry known to be exhausted was contacted")
    }

    @Test func rateLimitResettingSoonIsWaitedFor() throws {
        let (source, target, proxy) = try Self.toolUpstream(["1.0.0"])
        defer { proxy.stop(); target.stop(); source.stop() }
        proxy.addResponseHeaders([("RateLimit", "limit=100, remaining=0, reset=2")], pathContains: "/tags/list")
        let workspace = try Workspace()
        let job = try workspace.job(Self.toolMirror("soon", proxy, target, selector: "{match: '.*'}"))
        let started = Date()
        let r = try Self.apply(workspace, job)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.stderr.contains("waiting"), "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) >= 1.5)
        #expect(try Self.digest(target, "mirror/tool", "1.0.0") == Self.digest(source, "library/tool", "1.0.0"))
    }

    @Test func onlinePlanShowsCopyMountOrUnchangedPerSelectedTag() throws {
        let (source, target) = try Self.registries(source: .basicAuth)
        defer { source.stop(); target.stop() }
        try Self.seed(
            source, "upstream/app",
            [
                ("docker-archive:\(Self.images.imageOneArchive)", "1.0.0"),
                ("docker-archive:\(Self.images.imageTwoArchive)", "1.1.0"),
                ("docker-archive:\(Self.images.imageTwoArchive)", "edge")
            ])
        let workspace = try Workspace()
        let job = try workspace.job(
            JobSpec("plan-replication")
                .registry("upstream", source).registry("mirror", target)
                .image("docker://\(source.host)/upstream/app", repository: "mirror/app", selector: "{semver: '>=1'}", targets: ["mirror"])
                .image(
                    "docker://\(source.host)/upstream/app", repository: "copies/app", selector: #"{match: '1\.0\..*'}"#,
                    targets: ["upstream"]),
            file: "plan")
        let state = workspace.path + "/state.db"
        let sourceWrites = { source.accessLog().filter { ["PUT", "POST", "PATCH", "DELETE"].contains($0.method) }.count }
        let writesBefore = sourceWrites()
        let plan = try run(pushctlBinary, ["plan", "--state", state, job], environment: workspace.environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        let lines = plan.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // Copies to the other registry upload the layer and config; the same-registry item mounts.
        let copy = try #require(lines.first { $0.hasPrefix("1.0.0: copy, 2 blob(s)") }, "\(plan.stdout)")
        #expect(copy.hasSuffix("to upload, 0 to mount, 0 present"), "\(copy)")
        #expect(lines.contains { $0.hasPrefix("1.1.0: copy, 2 blob(s)") }, "\(plan.stdout)")
        #expect(lines.contains("1.0.0: mount, 0 blob(s) 0 B to upload, 2 to mount, 0 present"), "\(plan.stdout)")
        #expect(!lines.contains { $0.hasPrefix("edge") }, "edge is not selected")
        #expect(target.accessLog().allSatisfy { $0.method == "HEAD" || $0.method == "GET" }, "plan wrote to the target")
        #expect(sourceWrites() == writesBefore, "plan wrote to the source registry")
        #expect(try Self.tags(target, "mirror/app").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: state), "plan created a state database")

        let applied = try Self.apply(workspace, job)
        #expect(applied.status == 0, "\(applied.stderr)")
        let again = try run(pushctlBinary, ["plan", "--state", state, job], environment: workspace.environment)
        #expect(again.status == 0, "\(again.stderr)")
        let tagLines = again.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("1.0.0:") || $0.hasPrefix("1.1.0:") }
        #expect(tagLines.sorted() == ["1.0.0: unchanged", "1.0.0: unchanged", "1.1.0: unchanged"], "\(again.stdout)")
    }

    @Test func digestPinnedSourceIsPushedUnderTheListedTags() throws {
        let (source, target) = try Self.registries(source: .basicAuth)
        defer { source.stop(); target.stop() }
        try Self.seed(source, "oci:\(Self.images.nestedIndexLayout):3", "upstream/multi", "moving")
        let pinned = try Self.rawDigest(source, "upstream/multi", "moving")
        // The tag moves on upstream afterwards; the pinned digest is what gets copied.
        try Self.seed(source, "docker-archive:\(Self.images.imageOneArchive)", "upstream/multi", "moving")
        let workspace = try Workspace()
        let job = try workspace.job(
            JobSpec("pinned")
                .registry("upstream", source).registry("mirror", target)
                .image(
                    "docker://\(source.host)/upstream/multi@\(pinned)", repository: "mirror/multi", tags: ["2024.1", "stable"],
                    targets: ["mirror"]))
        let r = try Self.apply(workspace, job)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(try Self.tags(target, "mirror/multi") == ["2024.1", "stable"])
        #expect(try Self.rawDigest(target, "mirror/multi", "2024.1") == pinned)
        #expect(try Self.rawDigest(target, "mirror/multi", "stable") == pinned)
        let ends = Self.events(r.stdout).filter { $0["event"] as? String == "push-end" }
        #expect(ends.count == 1)
        #expect(ends.first?["source"] as? String == "docker://\(source.host)/upstream/multi@\(pinned)")

        // A second run is unchanged, and needs no tag list: one HEAD by digest on the source.
        let before = source.accessLog().count
        let again = try Self.apply(workspace, job)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.pushEnds(again.stdout).allSatisfy { $0.status == "unchanged" })
        let requests = source.accessLog().dropFirst(before).filter { $0.status != 401 }
        #expect(requests.map(\.method) == ["HEAD"], "\(Array(requests))")
    }

    @Test func budgetRunningOutDuringTheRunFailsTheRemainingCopiesCleanly() throws {
        let (source, target, proxy) = try Self.toolUpstream(["1.0.0", "1.1.0"])
        defer { proxy.stop(); target.stop(); source.stop() }
        // The tag list and HEADs say nothing; the first manifest GET (a counted pull) says it was the last.
        proxy.addResponseHeaders(
            [("RateLimit-Limit", "10"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "7200")],
            method: "GET", pathContains: "/manifests/")
        let workspace = try Workspace()
        let job = try workspace.job(Self.toolMirror("running-out", proxy, target, selector: "{semver: '>=1'}"))
        let r = try Self.apply(workspace, job, ["--images", "1"])
        #expect(r.status == 1, "\(r.stderr)\n\(r.stdout)")
        let ends = Self.events(r.stdout).filter { $0["event"] as? String == "push-end" }
        // One copy made the last counted pull and was pushed, the other failed cleanly; which one
        // went first is up to the run's concurrency (tags of a selector start together).
        #expect(ends.compactMap { $0["status"] as? String }.sorted() == ["failed", "pushed"], "\(ends)")
        let error = ends.first { $0["status"] as? String == "failed" }?["error"] as? String ?? ""
        #expect(error.contains("rate limit of \(proxy.host) exhausted"), "\(error)")
        #expect(error.contains("run again after"), "\(error)")
        // Exactly one counted pull was made, and nothing provoked a 429.
        #expect(proxy.entries.filter { $0.method == "GET" && $0.target.contains("/manifests/") }.count == 1)
        #expect(try Self.tags(target, "mirror/tool").count == 1)
    }
}
