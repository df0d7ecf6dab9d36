import Foundation
import OCI
import State

/// The JSON shapes of runs and pushes shared by `history --output json`, `show --output json` and
/// the web view's API (schemas/history-v1.schema.json, schemas/show-v1.schema.json, docs/web.md). Every key is always present;
/// unknown values are `null`.
public enum LedgerJSON {
    public static func run(_ r: RunRecord) -> [String: Any] {
        [
            "id": r.id.rawValue,
            "job": r.job,
            "file": r.file,
            "fileDigest": r.fileDigest,
            "kind": r.kind.rawValue,
            "status": r.status.rawValue,
            "started": HumanFormat.timestamp(r.started),
            "ended": r.ended.map(HumanFormat.timestamp) ?? NSNull(),
            "durationSeconds": r.ended.map { $0.timeIntervalSince(r.started) } ?? NSNull(),
            "host": r.host,
            "pid": Int(r.pid),
            "pushctlVersion": r.version,
            "exitCode": r.exitCode.map { Int($0) } ?? NSNull(),
            "error": r.error ?? NSNull()
        ]
    }

    public static func push(_ p: PushRecord) -> [String: Any] {
        [
            "id": p.id ?? NSNull(),
            "planItem": p.planItemID,
            "source": p.source,
            "sourceDigest": p.sourceDigest?.string ?? NSNull(),
            "registry": p.registryName,
            "registryHost": p.registryHost,
            "endpoint": p.endpoint,
            "repository": p.repository,
            "tag": p.tag,
            "target": p.target,
            "pushedDigest": p.pushedDigest?.string ?? NSNull(),
            "mediaType": p.mediaType ?? NSNull(),
            "size": p.size ?? NSNull(),
            "status": p.status.rawValue,
            "bytesUploaded": p.bytesUploaded,
            "blobs": ["uploaded": p.blobsUploaded, "mounted": p.blobsMounted, "present": p.blobsPresent],
            "attempts": p.attempts,
            "error": p.error ?? NSNull(),
            "verifiedKeys": p.verifiedKeys,
            "verdict": p.verdict ?? NSNull(),
            "signatures": p.signatures.map(\.string),
            "started": HumanFormat.timestamp(p.started),
            "ended": HumanFormat.timestamp(p.ended),
            "durationSeconds": p.duration
        ]
    }

    /// One tag a `verify` run checked (schemas/show-v1.schema.json `checks`).
    public static func check(_ c: VerifyCheckRecord) -> [String: Any] {
        [
            "registry": c.registryName, "host": c.host, "endpoint": c.endpoint ?? NSNull(), "repository": c.repository,
            "tag": c.tag, "expected": c.expected, "current": c.current ?? NSNull(), "status": c.status,
            "error": c.error ?? NSNull(), "pushedInRun": c.pushedInRun
        ]
    }

    /// One run in full: `show --output json` and the API's `runs/{id}` (schemas/show-v1.schema.json).
    public static func detail(_ d: RunDetail) -> [String: Any] {
        [
            "schema": "pushctl-show-v1", "state": d.database, "run": run(d.run), "pushes": d.pushes.map(push),
            "checks": d.checks.map(check),
            "events": d.events
        ]
    }

    /// One pretty-printed document with sorted keys, ending in a newline.
    public static func document(_ object: [String: Any]) -> String {
        // The objects above hold only JSON-compatible values, so serialization cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
