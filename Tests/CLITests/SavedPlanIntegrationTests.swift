import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl plan --out PLAN.json` and `pushctl apply --plan PLAN.json` against a real registry
/// (docs/run.md "Saved plans"): apply executes exactly the plan, and refuses — exit 2, nothing
/// pushed, naming what moved — when a job file, a source digest or a selected tag set moved.
@Suite(.serialized) struct SavedPlanIntegrationTests {
    struct Setup {
        let scratch: Scratch
        let registry: RegistryServer
        let writer: LayoutWriter
        let job: String
        let image: Descriptor

        init() throws {
            scratch = try Scratch()
            registry = try RegistryServer.start()
            writer = try scratch.layout()
            image = try writer.addImage(tag: "1", randomLayerSize: 30_000)
            _ = try writer.addImage(tag: "2", randomLayerSize: 20_000)
            job = try scratch.job("release", Self.yaml(registry))
        }

        static func yaml(_ registry: RegistryServer, extraTag: String? = nil) -> String {
            JobSpec("release")
                .registry("lab", url: registry.baseURL)
                .image("oci:image:1", repository: "team/one", tags: ["1", "latest"] + (extraTag.map { [$0] } ?? []), targets: ["lab"])
                .image("oci:image:2", repository: "team/two", tags: ["2"], targets: ["lab"])
                .yaml
        }

        func plan(_ arguments: [String] = []) throws -> (status: Int32, stdout: String, stderr: String, path: String) {
            let path = scratch.sub("plan-\(UUID().uuidString).json")
            let r = try run(
                pushctlBinary, ["plan", "--state", scratch.state, "--out", path] + arguments + [job],
                environment: scratch.environment, directory: scratch.path)
            return (r.status, r.stdout, r.stderr, path)
        }

        func applyPlan(_ path: String) throws -> ApplyResult {
            try apply(scratch: scratch, arguments: ["--plan", path])
        }
    }

    @Test func planOutIsValidAndApplyPlanExecutesExactlyIt() throws {
        let setup = try Setup()
        let planned = try setup.plan()
        #expect(planned.status == 0, "\(planned.stderr)")
        // The text ends with the summary line.
        let last = planned.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("Plan: 2 pushes; tags: 3 to push, 0 unchanged; blobs: 4 to upload ("), "\(planned.stdout)")
        #expect(last.hasSuffix(", 0 to mount (0 B), 0 present"), "\(last)")
        let check = try SchemaValidator.validate([planned.path], against: "saved-plan-v1.schema.json")
        #expect(check.stdout == "ok \(planned.path)\n", "\(check.stderr)\(check.stdout)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: planned.path))) as? [String: Any])
        let pushes = try #require(document["pushes"] as? [[String: Any]])
        #expect(pushes.map { $0["sourceDigest"] as? String }.contains(setup.image.digest.string))
        #expect(
            pushes.flatMap { ($0["decisions"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String } } == [
                "push", "push", "push"
            ])

        let applied = try setup.applyPlan(planned.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.pushEnds().map(\.status) == ["pushed", "pushed"])
        #expect(try pushedDigest(setup.registry, "team/one", "latest") == setup.image.digest)

        // The same plan again: still valid (nothing moved), everything unchanged.
        let again = try setup.applyPlan(planned.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.pushEnds().map(\.status) == ["unchanged", "unchanged"])
    }

    @Test func applyPlanRefusesWhenTheJobFileMoved() throws {
        let setup = try Setup()
        let planned = try setup.plan()
        try Setup.yaml(setup.registry, extraTag: "extra").write(toFile: setup.job, atomically: true, encoding: .utf8)
        let applied = try setup.applyPlan(planned.path)
        #expect(applied.status == 2)
        #expect(applied.stderr.contains("job file \(setup.job) changed"), "\(applied.stderr)")
        #expect(setup.registry.requestCount(method: "PUT") == 0, "nothing pushed")
        // A rerun of the refused plan refuses again (nothing half-done to recover from).
        #expect(try setup.applyPlan(planned.path).status == 2)
    }

    @Test func applyPlanRefusesWhenASourceDigestMoved() throws {
        let setup = try Setup()
        let planned = try setup.plan()
        // The layout is rebuilt and its tag 1 now names another image: the same job file resolves
        // differently.
        try FileManager.default.moveItem(atPath: setup.scratch.sub("image"), toPath: setup.scratch.sub("image-old"))
        let rebuilt = try LayoutWriter(path: setup.scratch.sub("image"))
        let moved = try rebuilt.addImage(tag: "1", randomLayerSize: 10_000)
        _ = try rebuilt.addImage(tag: "2", randomLayerSize: 10_000)
        let applied = try setup.applyPlan(planned.path)
        #expect(applied.status == 2, "\(applied.stderr)")
        #expect(applied.stderr.contains("source digest moved from \(setup.image.digest) to \(moved.digest)"), "\(applied.stderr)")
        #expect(setup.registry.requestCount(method: "PUT") == 0, "nothing pushed")
        let shown = try pushctlJSON(["show", "last"], scratch: setup.scratch)
        let run = try #require(shown["run"] as? [String: Any])
        #expect(run["exitCode"] as? Int == 2)
        #expect((run["error"] as? String)?.contains("no longer matches") == true)
    }

    @Test func onlyNarrowsPlanAndApply() throws {
        let setup = try Setup()
        let planned = try setup.plan(["--only", "team/two"])
        #expect(planned.status == 0, "\(planned.stderr)")
        #expect(!planned.stdout.contains("team/one"), "\(planned.stdout)")
        let applied = try setup.applyPlan(planned.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.pushEnds().map(\.repository) == ["team/two"])

        let direct = try apply(setup.job, scratch: setup.scratch, arguments: ["--only", "team/one"])
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.pushEnds().map(\.repository) == ["team/one"])
    }

    @Test func applyPlanRefusesWhenASelectorPicksOtherTags() throws {
        let setup = try Setup()
        let upstream = try RegistryServer.start()
        func seed(_ tags: [String]) throws {
            let file = try setup.scratch.job(
                JobSpec("seed")
                    .registry("upstream", url: upstream.baseURL)
                    .image("oci:image:1", repository: "src/app", tags: tags, targets: ["upstream"]))
            let r = try apply(file, scratch: setup.scratch)
            #expect(r.status == 0, "\(r.stderr)")
        }
        try seed(["v1", "v2"])
        let mirror = try setup.scratch.job(
            JobSpec("mirror")
                .registry("upstream", url: upstream.baseURL)
                .registry("lab", url: setup.registry.baseURL)
                .image("docker://\(upstream.host)/src/app", repository: "mirror/app", selector: "{match: 'v[0-9]+'}", targets: ["lab"]))
        let path = setup.scratch.sub("mirror-plan.json")
        let planned = try run(
            pushctlBinary, ["plan", "--state", setup.scratch.state, "--out", path, mirror],
            environment: setup.scratch.environment, directory: setup.scratch.path)
        #expect(planned.status == 0, "\(planned.stderr)")
        try seed(["v3"])
        let applied = try setup.applyPlan(path)
        #expect(applied.status == 2, "\(applied.stderr)")
        #expect(
            applied.stderr.contains("the selector now picks new tags v3"),
            "\(applied.stderr)\n\((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")\n\(applied.stdout)")
        #expect(setup.registry.requestCount(method: "PUT") == 0, "nothing pushed")
    }
}
