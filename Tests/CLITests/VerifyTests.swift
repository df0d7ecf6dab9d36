import Foundation
import RegistryHarness
import Testing

/// The audit commands after a real push: `history`, `history --digest PREFIX`, `show last` and
/// `verify` (drift by another client's overwrite, then a deleted tag).
@Suite(.serialized) struct VerifyTests {
    @Test func auditAfterApplyAndDriftByAnotherClient() throws {
        let registry = try RegistryServer.start(.plain)
        defer { registry.stop() }
        let scratch = try Scratch()
        let environment = quickstartEnvironment(registry, scratch)
        let sourceDigest = try #require(
            try String(contentsOfFile: packageRoot + "/examples/images/hello/index.json", encoding: .utf8)
                .firstMatch(of: /sha256:[0-9a-f]{64}/).map { String($0.output) })

        let apply = try run(pushctlBinary, ["apply", "--output", "plain", "examples/quickstart.yaml"], environment: environment)
        #expect(apply.status == 0, "\(apply.stderr)")

        // history: a row per tag, newest first, with the pushed digest.
        let history = try run(pushctlBinary, ["history", "--output", "json"], environment: environment)
        #expect(history.status == 0, "\(history.stderr)")
        let rows = try pushRows(history.stdout)
        #expect(Set(rows.map { $0["tag"] as? String }) == ["1.0", "latest"])
        #expect(rows.allSatisfy { $0["pushedDigest"] as? String == sourceDigest && $0["status"] as? String == "pushed" })

        // history --digest with a prefix: where did this digest go?
        let prefix = String(sourceDigest.prefix(7 + 10))
        let byDigest = try run(pushctlBinary, ["history", "--digest", prefix, "--output", "json"], environment: environment)
        #expect(byDigest.status == 0, "\(byDigest.stderr)")
        #expect(try pushRows(byDigest.stdout).count == 2)

        // show last: the run in full.
        let show = try run(pushctlBinary, ["show", "last"], environment: environment)
        #expect(show.status == 0)
        #expect(show.stdout.contains("quickstart/hello:1.0"))
        #expect(show.stdout.contains(sourceDigest))

        // verify: no drift.
        let clean = try run(pushctlBinary, ["verify", "examples/quickstart.yaml"], environment: environment)
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(clean.stdout.contains("Verified 2 tags: 2 ok, 0 changed, 0 gone"))

        // Another client overwrites `latest`: drift, exit 4.
        let other = try run(
            "/usr/bin/skopeo",
            [
                "copy", "-q", "--dest-tls-verify=false",
                "oci:" + TestImages.shared.oneImageLayout,
                "docker://\(registry.host)/quickstart/hello:latest"
            ])
        #expect(other.status == 0, "\(other.stderr)")
        let drift = try run(pushctlBinary, ["verify", "--output", "json", "examples/quickstart.yaml"], environment: environment)
        #expect(drift.status == 4)
        let checks = try verifyChecks(drift.stdout, schemaCheckIn: scratch.path)
        #expect(checks["latest"]?["status"] as? String == "changed")
        #expect(checks["latest"]?["expected"] as? String == sourceDigest)
        #expect((checks["latest"]?["current"] as? String)?.hasPrefix("sha256:") == true)
        #expect(checks["1.0"]?["status"] as? String == "ok")

        // The original manifest is deleted: `1.0` is gone.
        let delete = try run(
            "/usr/bin/skopeo", ["delete", "--tls-verify=false", "docker://\(registry.host)/quickstart/hello@\(sourceDigest)"])
        #expect(delete.status == 0, "\(delete.stderr)")
        let gone = try run(pushctlBinary, ["verify", "--output", "json", "examples/quickstart.yaml"], environment: environment)
        #expect(gone.status == 4)
        #expect(try verifyChecks(gone.stdout, schemaCheckIn: scratch.path)["1.0"]?["status"] as? String == "gone")

        // Each verification is recorded as a run.
        let runs = try run(pushctlBinary, ["history", "--output", "json"], environment: environment)
        #expect(runs.stdout.components(separatedBy: "\"drift\"").count - 1 == 2)
    }

    /// `verify` sends its tag `HEAD`s together, up to the job's `concurrency` and never more
    /// (docs/concurrency.md "Pools"): the proxy holds each `HEAD` until three are in flight at once.
    @Test func verifyAsksUpToConcurrencyTagsAtOnce() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        defer { registry.stop() }
        let proxy = try FaultProxy(upstreamPort: registry.port)
        defer { proxy.stop() }
        let image = try scratch.layout().addImage(tag: "app", randomLayerSize: 10_000)
        let tags = (1...7).map { "v\($0)" }
        let job = try scratch.job(
            JobSpec("gauged", defaults: ["concurrency": "3"]).registry("lab", url: proxy.baseURL)
                .image("oci:image:app", repository: "team/gauged", tags: tags, targets: ["lab"]))
        let pushed = try apply(job, scratch: scratch)
        #expect(pushed.status == 0, "\(pushed.stderr)")

        let gauge = FaultProxy.InFlightGauge(gather: 3)
        proxy.add(.init(method: "HEAD", pathContains: "/manifests/", fault: .gather(gauge), times: 100))
        let before = proxy.entries.count
        let verified = try run(
            pushctlBinary, ["verify", "--output", "json", "--state", scratch.state, job], environment: scratch.environment,
            directory: scratch.path)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let checks = try verifyChecks(verified.stdout, schemaCheckIn: scratch.path)
        #expect(Set(checks.keys) == Set(tags))
        #expect(checks.values.allSatisfy { $0["status"] as? String == "ok" && $0["current"] as? String == image.digest.string })
        // One HEAD per tag, three of them in flight at once, never more.
        #expect(proxy.entries[before...].map(\.method) == Array(repeating: "HEAD", count: tags.count))
        #expect(gauge.most == 3)
    }

    private func pushRows(_ json: String) throws -> [[String: Any]] {
        let document = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let rows = try #require(document["entries"] as? [[String: Any]])
        return rows.compactMap { $0["push"] as? [String: Any] }
    }

    private func verifyChecks(_ json: String, schemaCheckIn dir: String) throws -> [String: [String: Any]] {
        let file = dir + "/verify-\(UUID().uuidString).json"
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try SchemaValidator.validate([file], against: "verify-v1.schema.json")
        #expect(check.stdout == "ok \(file)\n", "\(check.stderr)")
        let document = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let checks = try #require(document["checks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: checks.map { ($0["tag"] as! String, $0) })
    }
}
