import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl prune` (README "Pruning") against docker-registry 2.8 with deletion enabled: a dry run
/// lists, `--confirm` deletes by digest and records; a tag someone moved, a tag pushctl never
/// pushed and a digest another tag shares are kept and reported; a rerun does nothing more, and
/// `verify` does not call pruned tags gone.
@Suite(.serialized) struct PruneIntegrationTests {
    func prune(_ arguments: [String], scratch: Scratch) throws -> (status: Int32, document: [String: Any], stderr: String) {
        let r = try run(
            pushctlBinary, ["prune", "--output", "json", "--state", scratch.state] + arguments,
            environment: scratch.environment, directory: scratch.path)
        let document = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r.status, document, r.stderr + r.stdout)
    }

    /// tag → action of a prune document.
    func actions(_ document: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for entry in document["tags"] as? [[String: Any]] ?? [] {
            out[entry["tag"] as? String ?? ""] = entry["action"] as? String
        }
        return out
    }

    func skopeoCopy(_ from: String, _ to: String) throws {
        try TestTools.run("skopeo", ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", from, to])
    }

    @Test func pruneDeletesOnlyWhatPushctlPushedAndTheJobDropped() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try scratch.layout()
        var images: [String: Descriptor] = [:]
        for name in ["1", "2", "3", "4", "5", "other"] {
            images[name] = try writer.addImage(tag: name, randomLayerSize: 3_000)
        }
        let app = JobSpec("app").registry("lab", url: registry.baseURL)
        let wide = try scratch.job(
            [("1", ["1"]), ("2", ["2"]), ("3", ["3"]), ("4", ["4", "4b"]), ("5", ["5"])].reduce(app) {
                $0.image("oci:image:\($1.0)", repository: "team/app", tags: $1.1, targets: ["lab"])
            }, file: "wide")
        let narrow = try scratch.job(app.image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["lab"]), file: "narrow")
        let applied = try apply(wide, scratch: scratch)
        #expect(applied.status == 0, "\(applied.stderr)\n\(applied.stdout)")
        let repo = "docker://\(registry.host)/team/app"
        let layout = "oci:\(scratch.sub("image"))"
        try skopeoCopy("\(layout):other", "\(repo):foreign")  // never pushed by pushctl
        try skopeoCopy("\(layout):other", "\(repo):2")  // someone moved tag 2
        try skopeoCopy("\(layout):3", "\(repo):3-copy")  // another tag on 3's digest

        // Dry run: listed, nothing deleted.
        let dry = try prune([narrow], scratch: scratch)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(
            actions(dry.document) == [
                "2": "moved", "3": "shared", "4": "would-delete", "4b": "would-delete",
                "5": "would-delete", "foreign": "foreign", "3-copy": "foreign"
            ], "\(dry.document)")
        #expect(try pushedDigest(registry, "team/app", "5") == images["5"]!.digest)
        let text = try run(
            pushctlBinary, ["prune", "--state", scratch.state, narrow], environment: scratch.environment, directory: scratch.path)
        #expect(text.status == 0)
        #expect(text.stdout.contains("WOULD-DELETE \(registry.host)/team/app:5 \(images["5"]!.digest)"), "\(text.stdout)")
        #expect(text.stdout.contains("MOVED        \(registry.host)/team/app:2"), "\(text.stdout)")
        #expect(
            text.stdout.hasSuffix("Prune: 3 to delete (run again with --confirm), 4 kept, 0 already gone, 0 failed\n"), "\(text.stdout)")

        // --confirm: deleted by digest (4 and 4b share theirs, both unselected), recorded.
        let confirmed = try prune(["--confirm", narrow], scratch: scratch)
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        #expect(
            actions(confirmed.document) == [
                "2": "moved", "3": "shared", "4": "deleted", "4b": "deleted",
                "5": "deleted", "foreign": "foreign", "3-copy": "foreign"
            ], "\(confirmed.document)")
        for tag in ["4", "4b", "5"] {
            #expect(throws: (any Error).self, "tag \(tag) still exists") { try pushedManifest(registry, "team/app", tag) }
        }
        #expect(try pushedDigest(registry, "team/app", "1") == images["1"]!.digest)
        #expect(try pushedDigest(registry, "team/app", "2") == images["other"]!.digest)
        #expect(try pushedDigest(registry, "team/app", "3") == images["3"]!.digest)
        #expect(try pushedDigest(registry, "team/app", "foreign") == images["other"]!.digest)

        // history shows the deletions, as rows of a run of kind prune.
        let history = try pushctlJSON(["history", "--tag", "5"], scratch: scratch)
        let newest = try #require((history["entries"] as? [[String: Any]])?.first)
        #expect((newest["push"] as? [String: Any])?["status"] as? String == "deleted", "\(newest)")
        #expect((newest["run"] as? [String: Any])?["kind"] as? String == "prune", "\(newest)")

        // Again: nothing left to delete; the kept ones are reported again.
        let again = try prune(["--confirm", narrow], scratch: scratch)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(actions(again.document) == ["2": "moved", "3": "shared", "foreign": "foreign", "3-copy": "foreign"], "\(again.document)")

        // The narrow job applies unchanged; verify does not call the pruned tags gone.
        let rerun = try apply(narrow, scratch: scratch)
        #expect(rerun.status == 0 && rerun.pushEnds().map(\.status) == ["unchanged"], "\(rerun.stdout)")
        let verified = try run(
            pushctlBinary, ["verify", "--output", "json", "--state", scratch.state, narrow],
            environment: scratch.environment, directory: scratch.path)
        let checks =
            ((try? JSONSerialization.jsonObject(with: Data(verified.stdout.utf8))) as? [String: Any])?["checks"] as? [[String: Any]] ?? []
        let checked = Dictionary(uniqueKeysWithValues: checks.map { ($0["tag"] as? String ?? "", $0["status"] as? String ?? "") })
        #expect(checked == ["1": "ok", "2": "changed", "3": "ok"], "\(verified.stdout)")
    }

    @Test func invalidInputExitsTwo() throws {
        let scratch = try Scratch()
        let none = try run(pushctlBinary, ["prune", "--state", scratch.state], environment: scratch.environment, directory: scratch.path)
        #expect(none.status == 2, "\(none.stderr)")
        let bad = try scratch.job("bad", "version: 1\nname: Bad\n")
        let invalid = try run(
            pushctlBinary, ["prune", "--state", scratch.state, bad], environment: scratch.environment, directory: scratch.path)
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("bad.yaml:"), "\(invalid.stderr)")
    }

    /// A deletion the registry refuses: exit 1, the tag kept and reported as failed, nothing
    /// recorded as deleted; once the registry allows it, the rerun deletes.
    @Test func aRefusedDeletionExitsOne() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try scratch.layout()
        for name in ["1", "2"] { _ = try writer.addImage(tag: name, randomLayerSize: 2_000) }
        func job(_ tags: [String]) throws -> String {
            try scratch.job(
                tags.reduce(JobSpec("refused").registry("lab", url: proxy.baseURL)) {
                    $0.image("oci:image:\($1)", repository: "team/app", tags: [$1], targets: ["lab"])
                }, file: "job-\(tags.count)")
        }
        let both = try job(["1", "2"]), one = try job(["1"])
        #expect(try apply(both, scratch: scratch).status == 0)
        proxy.add(.init(method: "DELETE", pathContains: "/manifests/", fault: .status(405, retryAfter: nil), times: 100))
        let refused = try prune(["--confirm", one], scratch: scratch)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(actions(refused.document) == ["2": "failed"], "\(refused.document)")
        #expect(try pushedManifest(registry, "team/app", "2").isEmpty == false)
        proxy.clearRules()
        let allowed = try prune(["--confirm", one], scratch: scratch)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(actions(allowed.document) == ["2": "deleted"], "\(allowed.document)")
    }
}
