import Foundation
import OCI
import Pusher
import Threading

/// Live per-blob progress bars on a terminal (docs/cli.md "Output", `tty`).
///
/// Finished pushes are written once, in the same lines as the plain output, above a live area that
/// is redrawn in place (ANSI cursor-up and erase-line) at most ten times a second.
public final class TTYRenderer: PushEventSink {
    struct BlobLine {
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
    private let err: TextSink
    private let plain: PlainRenderer
    private let width: @Sendable () -> Int
    private let redrawInterval: TimeInterval
    private let state = LockedValue(State())

    /// - Parameter width: the terminal's columns, asked at every redraw (a resized terminal is
    ///   followed).
    public init(
        out: TextSink = .standardOutput, err: TextSink = .standardError, quiet: Bool = false,
        width: @escaping @Sendable () -> Int = TTYRenderer.terminalWidth, redrawInterval: TimeInterval = 0.1
    ) {
        self.out = out
        self.err = err
        self.redrawInterval = redrawInterval
        self.width = { max(20, width()) }
        // Permanent lines are exactly the plain renderer's, written through `self.out` so that they
        // land above the live area.
        self.plain = PlainRenderer(out: out, err: err, quiet: quiet)
    }

    public func emit(_ event: PushEvent) {
        switch event {
        case .pushStart(let target):
            state.withLock { s in
                // A fallback announces the push again, at another endpoint: one live entry per push.
                if let i = s.live.firstIndex(where: { $0.target.pushKey == target.pushKey }) {
                    s.live[i].target = target
                } else {
                    s.live.append(LivePush(target: target))
                }
            }
            plain.emit(event)
            redraw(force: true)
        case .blob(let target, let blob):
            state.withLock { s in
                guard let p = s.live.firstIndex(where: { $0.target.pushKey == target.pushKey }) else { return }
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
            state.withLock { $0.live.removeAll { $0.target.pushKey == target.pushKey } }
            plain.emit(event)
            redraw(force: true)
        case .runEnd, .error:
            clearLiveArea()
            plain.emit(event)
        case .notice:
            // Written where the live area was, which is then drawn again below it: the notice
            // stays on screen instead of being overwritten by the next redraw.
            clearLiveArea()
            plain.emit(event)
            redraw(force: true)
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
            let columns = width()
            var lines: [String] = []
            for push in s.live {
                lines.append("\(push.target.host)/\(push.target.repository)")
                for blob in push.blobs { lines.append(render(blob, now: now, columns: columns - 1)) }
            }
            var text = s.drawnLines > 0 ? "\u{1B}[\(s.drawnLines)A" : ""
            for line in lines { text += "\u{1B}[2K" + String(line.prefix(columns - 1)) + "\n" }
            if lines.count < s.drawnLines { text += "\u{1B}[J" }
            out(text)
            s.drawnLines = lines.count
        }
    }

    /// One blob's line within `columns`: the bar shrinks with the terminal, and what does not fit
    /// is dropped in order — speed, then the bar — never cut in the middle.
    func render(_ blob: BlobLine, now: Date, columns: Int) -> String {
        let head = "  \(blob.digest.short): \(blob.status)"
        guard blob.status == "Pushing", blob.size > 0 else { return head }
        let sizes = " \(Format.bytes(blob.bytes))/\(Format.bytes(blob.size))"
        var speed = ""
        if let started = blob.startedAt, now.timeIntervalSince(started) > 0.5 {
            speed = " \(Format.bytes(Int64(Double(blob.bytes) / now.timeIntervalSince(started))))/s"
        }
        func bar(_ width: Int) -> String {
            let filled = Int(Double(width) * Double(blob.bytes) / Double(blob.size))
            return " [" + String(repeating: "=", count: max(0, filled - 1)) + (filled > 0 ? ">" : "")
                + String(repeating: " ", count: max(0, width - filled)) + "]"
        }
        let minimumBar = 10, fullBar = 30
        for candidate in [speed, ""] {
            let room = columns - head.count - sizes.count - candidate.count - 3
            if room >= minimumBar { return head + bar(min(fullBar, room)) + sizes + candidate }
        }
        if head.count + sizes.count <= columns { return head + sizes }
        return head
    }

    /// Columns of the terminal on standard output, or 80.
    public static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
