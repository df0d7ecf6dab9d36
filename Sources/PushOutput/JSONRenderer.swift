import Foundation
import Pusher

/// NDJSON events for machines (docs/cli.md "Output", `json`): one object per line, each with
/// `event` and `time`.
public final class JSONRenderer: PushEventSink {
    private let out: TextSink
    /// Notices and errors are also said on stderr, for the person watching a machine's run.
    private let err: TextSink

    public init(out: TextSink = .standardOutput, err: TextSink = .standardError) {
        self.out = out
        self.err = err
    }

    public func emit(_ event: PushEvent) {
        var object: [String: Any] = ["time": Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())]
        switch event {
        case .runStart(let info):
            object["event"] = "run-start"
            object["run"] = info.runID
            object["jobs"] = info.jobs
            object["items"] = info.items
        case .pushStart(let target):
            object["event"] = "push-start"
            object.merge(fields(target)) { $1 }
        case .blob(let target, let blob):
            object["event"] = "blob"
            object.merge(fields(target)) { $1 }
            object["status"] = blob.status.rawValue
            object["digest"] = blob.digest.string
            object["size"] = blob.size
            object["bytes"] = blob.bytes
            if let from = blob.mountedFrom { object["from"] = from }
        case .retrying(let target, let what, let delay, let attempt):
            // docs/cli.md lists `retrying` as a blob status; retries of other requests use the same shape.
            object["event"] = "blob"
            object.merge(fields(target)) { $1 }
            object["status"] = "retrying"
            object["what"] = what
            object["delaySeconds"] = delay
            object["attempt"] = attempt
        case .notice(let text):
            object["event"] = "notice"
            object["message"] = text
            err(text + "\n")
        case .error(let message, let exitCode):
            err("error: \(message)\n")
            object["event"] = "error"
            object["message"] = message
            object["exitCode"] = exitCode
        case .manifest(let target, let tag, let digest, let size):
            object["event"] = "manifest"
            object.merge(fields(target)) { $1 }
            object["tag"] = tag ?? NSNull()
            object["digest"] = digest.string
            object["size"] = size
        case .pushEnd(let target, let outcome):
            object["event"] = "push-end"
            object.merge(fields(target)) { $1 }
            object["status"] = outcome.status.rawValue
            if let digest = outcome.digest { object["digest"] = digest.string }
            if let endpoint = outcome.endpoint { object["endpoint"] = endpoint }
            if let error = outcome.error { object["error"] = error }
            object["blobsUploaded"] = outcome.counts.uploaded
            object["blobsMounted"] = outcome.counts.mounted
            object["blobsPresent"] = outcome.counts.present
            object["bytesUploaded"] = outcome.counts.bytesUploaded
        case .runEnd(let s):
            object["event"] = "run-end"
            object["run"] = s.runID
            object["pushed"] = s.pushed
            object["unchanged"] = s.unchanged
            object["failed"] = s.failed
            object["blobsUploaded"] = s.blobs.uploaded
            object["blobsMounted"] = s.blobs.mounted
            object["blobsPresent"] = s.blobs.present
            object["bytesUploaded"] = s.blobs.bytesUploaded
            object["durationSeconds"] = s.duration
            object["interrupted"] = s.interrupted
            object["interruptedPushes"] = s.interruptedPushes
            object["exitCode"] = Int(s.exitCode)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return
        }
        out(String(decoding: data, as: UTF8.self) + "\n")
    }

    private func fields(_ target: PushTarget) -> [String: Any] {
        [
            "item": target.itemID, "job": target.job, "source": target.source, "registry": target.registry,
            "host": target.host, "repository": target.repository, "tags": target.tags
        ]
    }
}
