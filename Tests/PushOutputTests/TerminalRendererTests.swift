import Foundation
import OCI
import Pusher
import Testing
@testable import PushOutput

/// The live area on terminals of any width, notices that survive redraws, and pushes of one item
/// (a selector's tags) kept apart.
@Suite struct TerminalRendererTests {
    let layer = Digest.of(Array("layer".utf8))
    func target(_ tag: String = "1.0") -> PushTarget {
        PushTarget(
            itemID: "abc123", job: "release", source: "docker://upstream/app:\(tag)", registry: "lab",
            host: "127.0.0.1:5000", repository: "team/app", tags: [tag])
    }

    /// The lines a live redraw wrote last (after the final cursor-up), without control codes.
    func liveLines(_ text: String) -> [String] {
        let lastDraw = text.components(separatedBy: "\u{1B}[2K").dropFirst()
        return lastDraw.map { $0.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? "" }
    }

    @Test(arguments: [40, 60, 80, 120])
    func barsFitTheTerminal(columns: Int) {
        let (out, text) = TextSink.memory()
        let renderer = TTYRenderer(out: out, err: out, width: { columns }, redrawInterval: 0)
        renderer.emit(.pushStart(target()))
        renderer.emit(.blob(target(), BlobProgress(digest: layer, size: 64_000_000, status: .uploading, bytes: 16_000_000)))
        let lines = liveLines(text())
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.count <= columns - 1 }, "\(lines.map(\.count)) at \(columns) columns: \(lines)")
        let blobLine = lines.first { $0.contains(layer.short) } ?? ""
        // Sizes are never cut in the middle: either whole or absent.
        #expect(blobLine.contains("16.0 MB/64.0 MB") || !blobLine.contains("MB"), "\(blobLine)")
        if columns >= 60 { #expect(blobLine.contains("["), "a bar fits in \(columns) columns: \(blobLine)") }
    }

    @Test func aNoticeIsWrittenWhereTheLiveAreaWasAndStays() {
        let (out, text) = TextSink.memory()
        let renderer = TTYRenderer(out: out, err: out, width: { 80 }, redrawInterval: 0)
        renderer.emit(.pushStart(target()))
        renderer.emit(.blob(target(), BlobProgress(digest: layer, size: 1000, status: .uploading, bytes: 10)))
        renderer.emit(.notice("interrupt: stopping; finished pushes stay recorded"))
        renderer.emit(.blob(target(), BlobProgress(digest: layer, size: 1000, status: .uploading, bytes: 900)))
        let all = text()
        let notice = all.range(of: "interrupt: stopping")!
        let after = String(all[notice.upperBound...])
        // The live area was cleared before the notice, and every later redraw moves the cursor up
        // only over its own lines, never over the notice.
        let before = String(all[..<notice.lowerBound])
        #expect(before.hasSuffix("\u{1B}[J"), "the live area is cleared before the notice: \(before.debugDescription)")
        let ups = after.components(separatedBy: "\u{1B}[").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        #expect(ups.allSatisfy { $0 <= 2 }, "redraws after the notice cover only the live area (2 lines): \(after.debugDescription)")
        renderer.emit(.runEnd(RunSummary(runID: 1)))
        #expect(text().hasSuffix("in 0.0s\n"))
    }

    @Test func twoPushesOfOneItemAreTwoBlocks() {
        let (out, text) = TextSink.memory()
        let renderer = PlainRenderer(out: out, err: out)
        let one = target("1.0"), two = target("2.0")
        renderer.emit(.pushStart(one))
        renderer.emit(.pushStart(two))
        renderer.emit(.blob(one, BlobProgress(digest: layer, size: 10, status: .present, bytes: 0)))
        renderer.emit(.blob(two, BlobProgress(digest: layer, size: 10, status: .uploaded, bytes: 10)))
        renderer.emit(.manifest(two, tag: "2.0", digest: layer, size: 5))
        renderer.emit(.pushEnd(two, PushOutcome(status: .pushed, digest: layer, endpoint: nil, error: nil, counts: BlobCounts())))
        renderer.emit(.manifest(one, tag: "1.0", digest: layer, size: 5))
        renderer.emit(.pushEnd(one, PushOutcome(status: .pushed, digest: layer, endpoint: nil, error: nil, counts: BlobCounts())))
        #expect(
            text().split(separator: "\n").map(String.init) == [
                "The push refers to repository [127.0.0.1:5000/team/app]",
                "\(layer.short): Pushed",
                "2.0: digest: \(layer) size: 5",
                "The push refers to repository [127.0.0.1:5000/team/app]",
                "\(layer.short): Layer already exists",
                "1.0: digest: \(layer) size: 5"
            ])
    }

    /// "Retrying in N seconds" says the wait that follows, not a rounded-up one.
    @Test func retryLinesSayTheRealWait() {
        let (out, text) = TextSink.memory()
        let renderer = PlainRenderer(out: out, err: out)
        renderer.emit(.retrying(target(), what: "upload blob", delaySeconds: 0.8, attempt: 1))
        renderer.emit(.retrying(target(), what: "upload blob", delaySeconds: 2.0, attempt: 2))
        renderer.emit(.retrying(target(), what: "upload blob", delaySeconds: 3.96, attempt: 3))
        #expect(
            text().split(separator: "\n").map { $0.split(separator: ": ").last.map(String.init) ?? "" }
                == ["Retrying in 0.8 seconds", "Retrying in 2 seconds", "Retrying in 4 seconds"])
    }
}
