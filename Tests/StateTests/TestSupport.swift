import Foundation
import OCI
import TestSupport
@testable import State

func openTemporaryStore(_ name: String = #function) throws -> StateStore {
    try StateStore.open(path: try temporaryDirectory(name) + "/state.db")
}

/// A digest of some text (distinct texts give distinct digests).
func digest(_ text: String) -> Digest { Digest.of(Array(text.utf8)) }

/// A sha256 digest with chosen leading hex, to build prefix collisions.
func digest(hexPrefix: String) throws -> Digest {
    try Digest(algorithm: .sha256, hex: hexPrefix + String(repeating: "0", count: 64 - hexPrefix.count))
}

/// A push with sensible defaults; tests override what they look at.
func push(
    run: RunID, repository: String = "team/app", tag: String = "1.0", host: String = "registry.example.com",
    digest pushed: Digest? = digest("manifest"), status: PushStatus = .pushed,
    started: Date = Date(timeIntervalSince1970: 1_800_000_000), source: String = "oci:./app"
) -> PushRecord {
    PushRecord(
        runID: run, planItemID: "item-\(repository)-\(tag)", source: source, sourceDigest: pushed,
        registryName: "main", registryHost: host, endpoint: "https://\(host)", repository: repository, tag: tag,
        pushedDigest: status == .failed ? nil : pushed,
        mediaType: "application/vnd.oci.image.manifest.v1+json", size: 1234, status: status,
        bytesUploaded: 1000, blobsUploaded: 2, blobsMounted: 1, blobsPresent: 3, attempts: 1,
        error: status == .failed ? "HTTP 500 from registry.example.com" : nil,
        started: started, ended: started.addingTimeInterval(2.5))
}

extension StateStore {
    /// A run started at `started` (so ordering tests control time).
    func testRun(
        job: String = "nightly", started: Date = Date(timeIntervalSince1970: 1_800_000_000),
        kind: RunKind = .apply
    ) throws -> RunID {
        try beginRun(
            job: job, file: "jobs/\(job).yaml", fileDigest: digest("job \(job)"), kind: kind,
            pushctlVersion: "0.1.0-test", started: started)
    }
}
