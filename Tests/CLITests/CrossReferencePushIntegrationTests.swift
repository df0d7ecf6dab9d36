import Foundation
import OCI
import RegistryHarness
import TestSupport
import Testing

/// docs/run.md: a layout whose entries reference each other (`CrossReferenceLayout`, modelled on
/// regclient's test repository), every named entry an item of its own, all into one repository of
/// Debian's docker-registry. Items put manifests that other items put too, and indexes whose
/// children other items are putting (docs/run.md "Blobs and manifests once per repository and
/// run"). Before the rule, a parent's PUT met a child whose revision link another item was
/// rewriting (its tag PUT), and docker-registry answered `DIGEST_INVALID` + `MANIFEST_BLOB_UNKNOWN`.
@Suite(.serialized) struct CrossReferencePushIntegrationTests {
    /// Fresh registry and state per run. `PUSHCTL_CROSS_REFERENCE_RUNS` raises it for a soak.
    static let runs = ProcessInfo.processInfo.environment["PUSHCTL_CROSS_REFERENCE_RUNS"].flatMap { Int($0) } ?? 10

    /// Default settings, and eight images at once: every run exits 0 with all 26 items pushed, no
    /// manifest digest is PUT by digest twice, no manifest PUT is refused, the fallback-tag entries hold the
    /// layout's listings, and a rerun is all `unchanged` without a single PUT.
    @Test(arguments: [nil, 8] as [Int?])
    func aLayoutWhoseEntriesReferenceEachOtherPushesEveryTime(images: Int?) throws {
        let layoutScratch = try Scratch()
        let layout = try CrossReferenceLayout.write(to: layoutScratch.sub("testrepo"))
        #expect(layout.entries.count == 26)
        let arguments = images.map { ["--images", String($0)] } ?? []
        for run in 1...Self.runs {
            let scratch = try Scratch()
            let registry = try RegistryServer.start()
            defer { registry.stop() }
            let spec = layout.entries.reduce(JobSpec("testrepo").registry("lab", url: registry.baseURL)) {
                $0.image("oci:\(layout.path):\($1.name)", repository: "testrepo", targets: ["lab"])
            }
            let job = try scratch.job(spec)

            let first = try apply(job, scratch: scratch, arguments: arguments)
            #expect(first.status == 0, "run \(run): \(first.stderr)\n\(first.stdout.suffix(4_000))")
            #expect(first.pushEnds().filter { $0.status == "pushed" }.count == 26, "run \(run)")
            let log = registry.accessLog()
            let manifestPuts = log.filter { $0.method == "PUT" && $0.path.contains("/manifests/") }
            let refused = manifestPuts.filter { $0.status >= 400 }
            #expect(refused.isEmpty, "run \(run): refused manifest PUTs \(refused)")
            var byDigest: [String: Int] = [:]
            for put in manifestPuts {
                let reference = String(put.path.split(separator: "/").last ?? "")
                if reference.hasPrefix("sha256:") { byDigest[reference, default: 0] += 1 }
            }
            let twice = byDigest.filter { $0.value != 1 }
            #expect(twice.isEmpty, "run \(run): each manifest digest is PUT by digest at most once, not \(twice)")
            // An entry's manifest goes up by its tag, or by digest when an index's push needed it
            // first (docs/run.md rule 1); a child only by digest, and the registry refuses an index
            // whose children it lacks (no PUT was refused, above).
            if run == 1 {
                // What the registry serves under each name is the layout's manifest, fallback tags included.
                for entry in layout.entries {
                    #expect(try pushedDigest(registry, "testrepo", entry.name) == entry.descriptor.digest, "\(entry.name)")
                }
            }

            let rerun = try apply(job, scratch: scratch, arguments: arguments)
            #expect(rerun.status == 0, "rerun \(run): \(rerun.stderr)")
            let changed = rerun.pushEnds().filter { $0.status != "unchanged" }.map { "\($0.tag ?? $0.line): \($0.status ?? "")" }
            #expect(rerun.pushEnds().count == 26 && changed.isEmpty, "rerun \(run): \(changed)")
            let later = registry.accessLog().dropFirst(log.count)
            #expect(!later.contains { $0.method == "PUT" || $0.method == "POST" || $0.method == "PATCH" }, "rerun \(run) wrote")
        }
    }
}
