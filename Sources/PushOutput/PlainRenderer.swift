import Foundation
import Pusher
import Threading

/// Docker-like plain lines for logs and cron (docs/cli.md "Output", `text`/`plain`).
///
/// Each push's lines are written as one block when the push ends, so pushes running at the same
/// time never interleave in a log; `Retrying in N seconds` lines are written at once, prefixed with
/// the repository, because a log reader wants to see a stall as it happens.
public final class PlainRenderer: PushEventSink {
    private let out: TextSink
    private let err: TextSink
    private let quiet: Bool
    private let blocks = LockedValue<[String: [String]]>([:])

    public init(out: TextSink = .standardOutput, err: TextSink = .standardError, quiet: Bool = false) {
        self.out = out
        self.err = err
        self.quiet = quiet
    }

    public func emit(_ event: PushEvent) {
        switch event {
        case .runStart(let info):
            if !quiet {
                out(
                    "Run \(info.runID): \(info.items) push\(info.items == 1 ? "" : "es") planned for \(info.jobs.joined(separator: ", "))\n"
                )
            }
        case .pushStart(let target):
            append(target, "The push refers to repository [\(target.host)/\(target.repository)]")
        case .blob(let target, let blob):
            switch blob.status {
            case .present: append(target, "\(blob.digest.short): Layer already exists")
            case .mounted: append(target, "\(blob.digest.short): Mounted from \(blob.mountedFrom ?? "another repository")")
            case .uploaded: append(target, "\(blob.digest.short): Pushed")
            case .uploading, .retrying: break
            }
        case .retrying(let target, let what, let delay, _):
            if !quiet { out("[\(target.host)/\(target.repository)] \(what): Retrying in \(Format.delay(delay)) seconds\n") }
        case .manifest(let target, let tag, let digest, let size):
            if let tag { append(target, "\(tag): digest: \(digest) size: \(size)") }
        case .pushEnd(let target, let outcome):
            var lines = blocks.withLock { $0.removeValue(forKey: target.pushKey) } ?? []
            switch outcome.status {
            case .pushed: break
            case .unchanged:
                lines.append("\(target.tags.joined(separator: ", ")): unchanged, digest: \(outcome.digest.map(\.string) ?? "?")")
            case .interrupted:
                lines.append("\(target.tags.joined(separator: ", ")): interrupted, not recorded")
            case .failed:
                err("error: push of \(target.source) to \(target.host)/\(target.repository) failed: \(outcome.error ?? "unknown error")\n")
            }
            if !quiet, !lines.isEmpty { out(lines.joined(separator: "\n") + "\n") }
        case .runEnd(let summary):
            out(SummaryText.line(summary) + "\n")
        case .notice(let text):
            err(text.hasSuffix("\n") ? text : text + "\n")
        case .error(let message, _):
            err("error: \(message)\n")
        }
    }

    private func append(_ target: PushTarget, _ line: String) {
        blocks.withLock { $0[target.pushKey, default: []].append(line) }
    }
}

public enum SummaryText {
    public static func line(_ s: RunSummary) -> String {
        var text = "Summary: \(s.pushed) pushed, \(s.unchanged) unchanged, \(s.failed) failed"
        if s.interruptedPushes > 0 { text += ", \(s.interruptedPushes) interrupted" }
        text += "; "
        text += "blobs: \(s.blobs.uploaded) uploaded, \(s.blobs.mounted) mounted, \(s.blobs.present) present; "
        text += "\(Format.bytes(s.blobs.bytesUploaded)) uploaded in \(Format.seconds(s.duration))"
        if s.interrupted { text += " (interrupted)" }
        return text
    }
}
