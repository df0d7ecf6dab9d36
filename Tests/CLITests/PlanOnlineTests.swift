import Foundation
import RegistryHarness
import Testing

/// `pushctl plan` (online) against a real registry: HEAD requests and the state database only,
/// nothing written.
@Suite(.serialized) struct PlanOnlineTests {
    @Test func planSaysPushThenUnchangedAndWritesNothing() throws {
        let registry = try RegistryServer.start(.plain)
        defer { registry.stop() }
        let scratch = try Scratch()
        let state = scratch.state
        let environment = quickstartEnvironment(registry, scratch)

        let before = try run(pushctlBinary, ["plan", "--output", "json", "examples/quickstart.yaml"], environment: environment)
        #expect(before.status == 0, "\(before.stderr)")
        let first = try actions(before.stdout)
        #expect(first.tags == ["1.0": "push", "latest": "push"])
        #expect(first.upload == 3)
        #expect(!FileManager.default.fileExists(atPath: state), "plan does not create the state database")
        #expect(registry.accessLog().allSatisfy { ["GET", "HEAD"].contains($0.method) }, "plan only reads")

        let apply = try run(pushctlBinary, ["apply", "--output", "json", "examples/quickstart.yaml"], environment: environment)
        #expect(apply.status == 0, "\(apply.stderr)")

        let after = try run(pushctlBinary, ["plan", "--output", "json", "examples/quickstart.yaml"], environment: environment)
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try actions(after.stdout).tags == ["1.0": "unchanged", "latest": "unchanged"])

        let planFile = scratch.sub("plan.json")
        try after.stdout.write(toFile: planFile, atomically: true, encoding: .utf8)
        let check = try SchemaValidator.validate([planFile], against: "plan-v1.schema.json")
        #expect(check.stdout == "ok \(planFile)\n", "\(check.stderr)")
    }

    private func actions(_ json: String) throws -> (tags: [String: String], upload: Int) {
        let document = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let plans = try #require(document["plans"] as? [[String: Any]])
        let items = try #require(plans.first?["items"] as? [[String: Any]])
        let actions = try #require(items.first?["actions"] as? [String: Any])
        let tags = try #require(actions["tags"] as? [[String: String]])
        let blobs = try #require(actions["blobs"] as? [String: Int])
        return (Dictionary(uniqueKeysWithValues: tags.map { ($0["tag"]!, $0["action"]!) }), blobs["upload"] ?? -1)
    }
}
