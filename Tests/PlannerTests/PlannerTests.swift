import Testing
import JobFile
import OCI
@testable import Planner

@Suite struct PlannerTests {
    func load(_ text: String) throws -> Job {
        try JobLoader.load(bytes: Array(text.utf8), path: "/jobs/test.yaml", environment: [:]).get()
    }

    func registry(_ body: String) throws -> Registry {
        let job = try load(
            """
            version: 1
            name: t
            registries:
              r:
            \(body)
            images:
              - {source: 'oci:a:1', repository: team/app, targets: [r]}
            """)
        return try #require(job.registry(named: "r"))
    }

    func urls(_ endpoints: [RegistryEndpoint]) -> [String] {
        endpoints.map { $0.url + ($0.onlyIfTLSHandshakeFails ? " (twin)" : "") }
    }

    @Test func urlThenMirrorsInWrittenOrder() throws {
        let r = try registry("    url: https://a.example.com\n    mirrors: [https://c.example.com, https://b.example.com:8443]")
        let e = RegistryEndpoint.fallbackOrder(for: r)
        #expect(urls(e) == ["https://a.example.com", "https://c.example.com", "https://b.example.com:8443"])
        #expect(e.map(\.isMirror) == [false, true, true])
        #expect(e.allSatisfy { !$0.skipTLSVerify && !$0.onlyIfTLSHandshakeFails })
    }

    @Test func insecureAddsAnHTTPTwinAfterEachHTTPSEndpoint() throws {
        let r = try registry(
            "    url: https://a.example.com:5000\n    insecure: true\n    mirrors: [http://b.example.com, https://c.example.com]")
        let e = RegistryEndpoint.fallbackOrder(for: r)
        #expect(
            urls(e) == [
                "https://a.example.com:5000", "http://a.example.com:5000 (twin)",
                "http://b.example.com",
                "https://c.example.com", "http://c.example.com (twin)"
            ])
        #expect(e.allSatisfy { $0.skipTLSVerify })
        #expect(e[1].host == "a.example.com:5000")
        #expect(e[2].onlyIfTLSHandshakeFails == false)  // written as http: tried in its own right
    }

    @Test func twinThatDuplicatesAWrittenEndpointIsListedOnce() throws {
        let r = try registry("    url: https://a.example.com\n    insecure: true\n    mirrors: [http://a.example.com]")
        #expect(urls(RegistryEndpoint.fallbackOrder(for: r)) == ["https://a.example.com", "http://a.example.com (twin)"])
    }

    @Test func withoutInsecureThereIsNoTwin() throws {
        let r = try registry("    url: http://127.0.0.1:5000\n    mirrors: [https://localhost:5001]")
        let e = RegistryEndpoint.fallbackOrder(for: r)
        #expect(urls(e) == ["http://127.0.0.1:5000", "https://localhost:5001"])
        #expect(e.allSatisfy { !$0.skipTLSVerify })
    }

    @Test func dockerHubUsesRegistry1AndLibraryPrefix() throws {
        let job = try load(
            """
            version: 1
            name: t
            registries:
              hub: {url: https://index.docker.io}
            images:
              - {source: 'oci:a:1', repository: app, targets: [hub]}
              - {source: 'oci:a:1', repository: org/app, targets: [hub]}
            """)
        let plan = Planner.plan(job)
        #expect(plan.items.map(\.repository) == ["library/app", "org/app"])
        #expect(urls(plan.items[0].endpoints) == ["https://registry-1.docker.io"])
        #expect(plan.items[0].endpoints[0].host == "registry-1.docker.io")
    }

    static let twoImages = """
        version: 1
        name: release
        registries:
          prod: {url: https://registry.example.com}
          lab: {url: http://127.0.0.1:5000}
        images:
          - source: oci:build/app:1.4.2
            repository: team/app
            tags: ["1.4.2", latest]
            targets: [prod, lab]
          - source: docker://alpine
            repository: mirror/alpine
            tags: {match: '3\\..*', latest: 2}
            targets: [lab]
          - source: docker://alpine:3.19
            repository: mirror/alpine-pinned
            targets: [lab]
        """

    @Test func oneItemPerImageAndTargetInFileOrder() throws {
        let plan = Planner.plan(try load(Self.twoImages))
        #expect(plan.items.map { "\($0.imageIndex):\($0.registry)" } == ["0:prod", "0:lab", "1:lab", "2:lab"])
        #expect(
            plan.items[0].source
                == PlanSource(written: "oci:build/app:1.4.2", spec: .ociLayout(path: "/jobs/build/app", ref: .name("1.4.2"))))
        #expect(plan.items[0].source.transport == "oci")
        #expect(plan.items[0].source.path == "/jobs/build/app")
        #expect(plan.items[0].source.ref == "1.4.2")
        #expect(plan.items[0].tags == .list(["1.4.2", "latest"]))
        #expect(plan.items[2].source.reference == "docker.io/library/alpine")
        #expect(plan.items[2].source.apiHost == "registry-1.docker.io")
        #expect(plan.items[2].tags == .selector(TagSelector(match: "3\\..*", latest: 2)))
        #expect(plan.items[3].tags == .fromSource("3.19"))
        #expect(plan.job == "release")
        #expect(plan.fileDigest.hasPrefix("sha256:"))
        #expect(plan.defaults == PlanDefaults(concurrency: 5, images: 2, retries: 5))
    }

    @Test func identitiesAreStableDistinctAndIndependentOfOrder() throws {
        let a = Planner.plan(try load(Self.twoImages))
        let b = Planner.plan(try load(Self.twoImages))
        #expect(a.items.map(\.id) == b.items.map(\.id))
        #expect(Set(a.items.map(\.id)).count == a.items.count)
        #expect(a.items.allSatisfy { $0.id.count == 16 && $0.id.allSatisfy(\.isHexDigit) })
        // Swapping the two registries in 'targets' keeps each item's identity.
        let swapped = Planner.plan(try load(Self.twoImages.replacingOccurrences(of: "targets: [prod, lab]", with: "targets: [lab, prod]")))
        #expect(Set(swapped.items.map(\.id)) == Set(a.items.map(\.id)))
        // A different job name gives different identities.
        let renamed = Planner.plan(try load(Self.twoImages.replacingOccurrences(of: "name: release", with: "name: other")))
        #expect(Set(renamed.items.map(\.id)).isDisjoint(with: a.items.map(\.id)))
    }

    @Test func shardsPartitionTheItems() throws {
        var images = ""
        for i in 0..<40 { images += "  - {source: 'oci:a:\(i)', repository: team/app\(i), targets: [r]}\n" }
        let job = try load("version: 1\nname: many\nregistries:\n  r: {url: https://r.example.com}\nimages:\n" + images)
        let items = Planner.plan(job).items
        for n in [1, 2, 3, 7] {
            var seen = 0
            for i in 0..<n {
                let mine = items.filter { $0.inShard(i, of: n) }
                seen += mine.count
                if n > 1 { #expect(mine.count < items.count, "shard \(i)/\(n) took everything") }
            }
            #expect(seen == items.count, "shards of \(n) must cover every item exactly once")
        }
        #expect(items.allSatisfy { $0.inShard(0, of: 1) })
    }

    @Test func textSummaryOfTags() {
        #expect(PlanTags.list(["a", "b"]).summary == "a, b")
        #expect(PlanTags.fromSource(nil).summary.contains("read when applied"))
        #expect(
            PlanTags.selector(TagSelector(match: "x", exclude: ["y"], semver: ">=1", latest: 2)).summary
                == "selector: match 'x', exclude 'y', semver '>=1', latest 2")
    }
}

@Suite struct ShardTests {
    @Test(arguments: [("0/1", 0, 1), ("2/3", 2, 3), ("0/10", 0, 10)])
    func parses(text: String, index: Int, count: Int) throws {
        let s = try Shard(parsing: text)
        #expect(s.index == index && s.count == count)
        #expect(s.description == text)
    }

    @Test(arguments: ["", "1", "3/3", "-1/3", "0/0", "a/b", "1/2/3", " 0/1"])
    func rejects(_ text: String) {
        #expect(throws: ShardError.self) { try Shard(parsing: text) }
    }
}
