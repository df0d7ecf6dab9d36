import Foundation
import State

/// The JSON shapes of runs and pushes shared by `history --output json` and `show --output json`
/// (schemas/history-v1.schema.json, schemas/show-v1.schema.json). Every key is always present;
/// unknown values are `null`.
enum StateJSON {
    static func run(_ r: RunRecord) -> [String: Any] {
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

    static func push(_ p: PushRecord) -> [String: Any] {
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

    /// One pretty-printed document with sorted keys, ending in a newline.
    static func document(_ object: [String: Any]) -> String {
        // The objects above hold only JSON-compatible values, so serialization cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
