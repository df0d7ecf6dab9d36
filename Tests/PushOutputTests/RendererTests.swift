import Foundation
import OCI
import Pusher
import Testing
@testable import PushOutput

private let layer = Digest.of(Array("layer".utf8))
private let config = Digest.of(Array("config".utf8))
private let manifest = Digest.of(Array("manifest".utf8))
private let target = PushTarget(
    itemID: "abc123", job: "release", source: "oci:build/app:1.0", registry: "lab",
    host: "127.0.0.1:5000", repository: "team/app", tags: ["1.0", "latest"])

/// A push as the executor reports it: one blob uploaded with progress, one present, one mounted.
private func samplePush(into sink: some PushEventSink) {
    sink.emit(.runStart(RunInfo(runID: 7, jobs: ["release"], items: 1, startedAt: Date())))
    sink.emit(.pushStart(target))
    sink.emit(.blob(target, BlobProgress(digest: layer, size: 1000, status: .uploading, bytes: 500)))
    sink.emit(.blob(target, BlobProgress(digest: layer, size: 1000, status: .uploaded, bytes: 1000)))
    sink.emit(.blob(target, BlobProgress(digest: config, size: 10, status: .present, bytes: 0)))
    sink.emit(.blob(target, BlobProgress(digest: manifest, size: 5, status: .mounted, bytes: 0, mountedFrom: "team/base")))
    sink.emit(.manifest(target, tag: "1.0", digest: manifest, size: 499))
    sink.emit(.manifest(target, tag: "latest", digest: manifest, size: 499))
    sink.emit(
        .pushEnd(
            target,
            PushOutcome(
                status: .pushed, digest: manifest, endpoint: "http://127.0.0.1:5000", error: nil,
                counts: BlobCounts(uploaded: 1, mounted: 1, present: 1, bytesUploaded: 1000))))
    var summary = RunSummary(runID: 7)
    summary.pushed = 1
    summary.blobs = BlobCounts(uploaded: 1, mounted: 1, present: 1, bytesUploaded: 1000)
    summary.duration = 1.5
    sink.emit(.runEnd(summary))
}

@Suite struct RendererTests {
    @Test func plainLinesFollowDockerPush() {
        let (out, text) = TextSink.memory()
        let (err, errors) = TextSink.memory()
        samplePush(into: PlainRenderer(out: out, err: err))
        let lines = text().split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "Run 7: 1 push planned for release",
                "The push refers to repository [127.0.0.1:5000/team/app]",
                "\(layer.short): Pushed",
                "\(config.short): Layer already exists",
                "\(manifest.short): Mounted from team/base",
                "1.0: digest: \(manifest) size: 499",
                "latest: digest: \(manifest) size: 499",
                "Summary: 1 pushed, 0 unchanged, 0 failed; blobs: 1 uploaded, 1 mounted, 1 present; 1.0 kB uploaded in 1.5s"
            ])
        #expect(errors().isEmpty)
        #expect(!text().contains("\u{1B}"), "plain output has no terminal control codes")
    }

    @Test func quietPrintsOnlyErrorsAndTheSummary() {
        let (out, text) = TextSink.memory()
        let (err, errors) = TextSink.memory()
        let renderer = PlainRenderer(out: out, err: err, quiet: true)
        renderer.emit(.pushStart(target))
        renderer.emit(.pushEnd(target, PushOutcome(status: .failed, digest: nil, endpoint: nil, error: "DENIED: no", counts: BlobCounts())))
        renderer.emit(.runEnd(RunSummary(runID: 1)))
        #expect(text().hasPrefix("Summary: 0 pushed"))
        #expect(text().split(separator: "\n").count == 1)
        #expect(errors().contains("failed: DENIED: no"))
    }

    @Test func jsonEventsAreOneObjectPerLineWithEventAndTime() throws {
        let (out, text) = TextSink.memory()
        samplePush(into: JSONRenderer(out: out))
        let objects = try text().split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(
            objects.map { $0["event"] as? String } == [
                "run-start", "push-start", "blob", "blob", "blob", "blob",
                "manifest", "manifest", "push-end", "run-end"
            ])
        #expect(objects.allSatisfy { ($0["time"] as? String)?.isEmpty == false })
        #expect(objects[3]["status"] as? String == "uploaded")
        #expect(objects[3]["digest"] as? String == layer.string)
        #expect(objects[3]["bytes"] as? Int == 1000)
        #expect(objects[8]["status"] as? String == "pushed")
        #expect(objects[9]["exitCode"] as? Int == 0)
        #expect(objects[9]["blobsMounted"] as? Int == 1)
    }

    @Test func ttyDrawsABarWhileUploadingAndTheSameFinalLines() {
        let (out, text) = TextSink.memory()
        let (err, _) = TextSink.memory()
        samplePush(into: TTYRenderer(out: out, err: err, width: { 120 }, redrawInterval: 0))
        let output = text()
        #expect(output.contains("\(layer.short): Pushing [==============>               ] 500 B/1.0 kB"))
        #expect(output.contains("\u{1B}[2K"), "the live area is redrawn in place")
        #expect(output.contains("latest: digest: \(manifest) size: 499\n"))
        #expect(output.contains("Summary: 1 pushed"))
    }
}
