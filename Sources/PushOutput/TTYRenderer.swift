import Foundation
import OCI
import Pusher
import Locking

/// Live per-blob progress bars on a terminal (cli.md "Output", `tty`).
///
/// Finished pushes are written once, in the same lines as the plain output, above a live area that
/// is redrawn in place (ANSI cursor-up and erase-line) at most ten times a second.
public final class TTYRenderer: PushEventSink {
    private struct BlobLine {
        var digest: Digest
        var size: Int64
        var bytes: Int64 = 0
        var status: String = "Preparing"
        var startedAt: Date?
    }

    private struct LivePush {
        var target: PushTarget
        var blobs: [BlobLine] = []
    }

    private struct State {
        var live: [LivePush] = []
        var drawnLines = 0
        var lastDraw = Date.distantPast
    }

    private let out: TextSink
    private let plain: PlainRenderer
    private let width: Int
    private let redrawInterval: TimeInterval
    private let state = LockedValue(State())

    public init(out: TextSink = .standardOutput, err: TextSink = .standardError, quiet: Bool = false, width: Int = TTYRenderer.terminalWidth(),
                redrawInterval: TimeInterval = 0.1) {
        self.out = out
        self.redrawInterval = redrawInterval
        self.width = max(40, width)
        // Permanent lines are exactly the plain renderer's, written through `self.out` so that they
        // land above the live area.
        self.plain = PlainRenderer(out: out, err: err, quiet: quiet)
    }

    public func emit(_ event: PushEvent) {
        switch event {
        case .pushStart(let target):
            state.withLock { $0.live.append(LivePush(target: target)) }
            plain.emit(event)
            redraw(force: true)
        case .blob(let target, let blob):
            state.withLock { s in
                guard let p = s.live.firstIndex(where: { $0.target.itemID == target.itemID }) else { return }
                var line = s.live[p].blobs.first(where: { $0.digest == blob.digest }) ?? BlobLine(digest: blob.digest, size: blob.size)
                line.bytes = blob.bytes
                switch blob.status {
                case .uploading:
                    line.status = "Pushing"
                    if line.startedAt == nil { line.startedAt = Date() }
                case .uploaded: line.status = "Pushed"
                case .present: line.status = "Layer already exists"
                case .mounted: line.status = "Mounted from \(blob.mountedFrom ?? "another repository")"
                case .retrying: line.status = "Retrying"
                }
                if let i = s.live[p].blobs.firstIndex(where: { $0.digest == blob.digest }) {
                    s.live[p].blobs[i] = line
                } else {
                    s.live[p].blobs.append(line)
                }
            }
            plain.emit(event)
            redraw(force: blob.status != .uploading)
        case .pushEnd(let target, _):
            clearLiveArea()
            state.withLock { $0.live.removeAll { $0.target.itemID == target.itemID } }
            plain.emit(event)
            redraw(force: true)
        case .runEnd:
            clearLiveArea()
            plain.emit(event)
        case .runStart, .manifest, .retrying:
            clearLiveArea()
            plain.emit(event)
            redraw(force: true)
        }
    }

    private func clearLiveArea() {
        state.withLock { s in
            guard s.drawnLines > 0 else { return }
            out("\u{1B}[\(s.drawnLines)A\u{1B}[J")
            s.drawnLines = 0
        }
    }

    private func redraw(force: Bool) {
        state.withLock { s in
            let now = Date()
            guard force || now.timeIntervalSince(s.lastDraw) >= redrawInterval else { return }
            s.lastDraw = now
            var lines: [String] = []
            for push in s.live {
                lines.append("\(push.target.host)/\(push.target.repository)")
                for blob in push.blobs { lines.append(render(blob, now: now)) }
            }
            var text = s.drawnLines > 0 ? "\u{1B}[\(s.drawnLines)A" : ""
            for line in lines { text += "\u{1B}[2K" + String(line.prefix(width - 1)) + "\n" }
            if lines.count < s.drawnLines { text += "\u{1B}[J" }
            out(text)
            s.drawnLines = lines.count
        }
    }

    private func render(_ blob: BlobLine, now: Date) -> String {
        let head = "  \(blob.digest.short): \(blob.status)"
        guard blob.status == "Pushing", blob.size > 0 else { return head }
        let barWidth = 30
        let filled = Int(Double(barWidth) * Double(blob.bytes) / Double(blob.size))
        let bar = String(repeating: "=", count: max(0, filled - 1)) + (filled > 0 ? ">" : "") + String(repeating: " ", count: max(0, barWidth - filled))
        var text = "\(head) [\(bar)] \(Format.bytes(blob.bytes))/\(Format.bytes(blob.size))"
        if let started = blob.startedAt, now.timeIntervalSince(started) > 0.5 {
            text += " \(Format.bytes(Int64(Double(blob.bytes) / now.timeIntervalSince(started))))/s"
        }
        return text
    }

    /// Columns of the terminal on standard output, or 80.
    public static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
