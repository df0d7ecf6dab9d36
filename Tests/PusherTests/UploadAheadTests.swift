import Foundation
import OCI
import PusherFakes
import Testing
import Threading

@testable import Pusher

/// Uploads started before their pushes (docs/run.md "Upload ahead"): the push finds the blob done
/// in the run's ledger, counts and records it as its own, and sends it itself when the upload ahead
/// did not take.
@Suite struct UploadAheadTests {
    static let url = "http://127.0.0.1:5000"

    func executor(_ registry: FakeRegistry, state: FakeState, ahead: UploadAhead?, events: EventLog = EventLog()) -> TestExecutor {
        TestExecutor(
            executor: Executor(state: state, sink: events, cancellation: CancellationFlag(), uploadAhead: ahead),
            registries: [Self.url: registry])
    }

    /// The next run of `job` (with uploads ahead, as `apply` makes them) finds its tags unchanged
    /// and uploads nothing.
    func expectARerunSendsNothing(
        _ job: PushJob, _ registry: FakeRegistry, _ state: FakeState, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = registry.requestLog.count
        let rerun = executor(registry, state: state, ahead: UploadAhead(cancellation: CancellationFlag(), width: 2))
            .run([job], images: 1)
        #expect(rerun.map(\.status) == [.unchanged], sourceLocation: sourceLocation)
        #expect(!registry.requestLog.dropFirst(before).contains { $0.hasPrefix("UPLOAD") }, sourceLocation: sourceLocation)
    }

    /// Both layers of `job`'s image sent ahead, as a docker archive's would be.
    func startLayers(_ ahead: UploadAhead, _ job: PushJob, _ registry: FakeRegistry) {
        let endpoints = FakeEndpoints(members: [RegistryEndpoint(url: Self.url, isHTTPTwin: false)], registries: [Self.url: registry])
        for layer in job.image.blobs.dropFirst() {
            ahead.start(job.image.payload(layer), repository: job.target.repository, endpoints: endpoints)
        }
    }

    @Test func aLayerSentAheadIsThePushsUploadAndIsNotSentAgainThenARerunDoesNothing() {
        let registry = FakeRegistry()
        let state = FakeState()
        let events = EventLog()
        let job = makeJob(makeImage())
        // The uploads ahead are still going on when the push gets to those blobs: it waits for
        // them, showing them going up.
        registry.duringUpload = { _, _ in usleep(300_000) }
        let ahead = UploadAhead(cancellation: CancellationFlag(), width: 2)
        startLayers(ahead, job, registry)
        let outcomes = executor(registry, state: state, ahead: ahead, events: events).run([job], images: 1)
        ahead.wait()
        #expect(outcomes.map(\.status) == [.pushed], "\(outcomes.map(\.error))")
        let size = job.image.blobs.reduce(0) { $0 + $1.size }
        #expect(outcomes.first?.counts == BlobCounts(uploaded: 3, bytesUploaded: size))
        let uploads = registry.requestLog.filter { $0.hasPrefix("UPLOAD") }
        #expect(uploads.count == 3, "each blob once: \(uploads)")
        #expect(Set(state.pushes.first?.blobs ?? []) == Set(job.image.blobs.map(\.digest)), "recorded with the push")
        let uploaded = events.events.compactMap { event -> Digest? in
            if case .blob(_, let progress) = event, progress.status == .uploaded { return progress.digest }
            return nil
        }
        #expect(Set(uploaded) == Set(job.image.blobs.map(\.digest)))
        for layer in job.image.blobs.dropFirst().map(\.digest) {
            let statuses = events.events.compactMap { event -> BlobProgress.Status? in
                if case .blob(_, let progress) = event, progress.digest == layer { return progress.status }
                return nil
            }
            #expect(statuses.first == .uploading && statuses.last == .uploaded, "\(layer.short): \(statuses)")
        }

        registry.duringUpload = nil
        expectARerunSendsNothing(job, registry, state)
    }

    @Test func aFailedUploadAheadIsLeftToThePushWhichSendsItThenARerunDoesNothing() {
        let registry = FakeRegistry()
        let state = FakeState()
        let job = makeJob(makeImage())
        let layer = job.image.blobs[1].digest
        struct Dropped: Error {}
        let failures = LockedValue(1)
        registry.duringUpload = { _, digest in
            guard digest == layer,
                failures.withLock({ left in
                    defer { left -= 1 }; return left > 0
                })
            else { return }
            throw Dropped()
        }
        let ahead = UploadAhead(cancellation: CancellationFlag(), width: 2)
        startLayers(ahead, job, registry)
        ahead.wait()
        #expect(registry.blobs["team/app", default: []].contains(layer) == false, "the upload ahead failed")
        let outcomes = executor(registry, state: state, ahead: ahead).run([job], images: 1)
        #expect(outcomes.map(\.status) == [.pushed], "\(outcomes.map(\.error))")
        #expect(outcomes.first?.counts.uploaded == 3)
        #expect(registry.requestLog.filter { $0.hasPrefix("UPLOAD team/app \(layer.short)") }.count == 2, "\(registry.requestLog)")
        #expect(registry.blobs["team/app"] == Set(job.image.blobs.map(\.digest)))

        expectARerunSendsNothing(job, registry, state)
    }

    @Test func aLayerFoundPresentAheadIsRecordedAsPresentAndNotSent() {
        let registry = FakeRegistry()
        let state = FakeState()
        let job = makeJob(makeImage())
        let layer = job.image.blobs[1].digest
        registry.blobs["team/app"] = [layer]
        let ahead = UploadAhead(cancellation: CancellationFlag(), width: 2)
        startLayers(ahead, job, registry)
        ahead.wait()
        let outcomes = executor(registry, state: state, ahead: ahead).run([job], images: 1)
        #expect(outcomes.map(\.status) == [.pushed])
        #expect(outcomes.first?.counts.present == 1)
        #expect(outcomes.first?.counts.uploaded == 2)
        #expect(!registry.requestLog.contains("UPLOAD team/app \(layer.short)"))
        #expect(state.pushes.first?.blobs.contains(layer) == true, "its location is recorded with the push")
    }

    /// An upload ahead that meets an unreachable endpoint abandons it for the run, as any request
    /// does, and goes to the mirror; the push then uses the mirror and finds the layers there.
    @Test func anUnreachableEndpointAheadFallsBackToTheMirrorWhereThePushFindsTheLayers() {
        let primary = FakeRegistry()
        primary.unreachable = .init(tls: false)
        let mirror = FakeRegistry()
        let state = FakeState()
        let endpoints = ExecutorTests.primaryAndMirror
        let registries = [endpoints[0].url: primary, endpoints[1].url: mirror]
        let shared = FakeEndpoints(members: endpoints, registries: registries)
        var job = makeJob(makeImage(), endpoints: endpoints)
        job.endpoints = shared
        let ahead = UploadAhead(cancellation: CancellationFlag(), width: 2)
        for layer in job.image.blobs.dropFirst() {
            ahead.start(job.image.payload(layer), repository: job.target.repository, endpoints: shared)
        }
        ahead.wait()
        #expect(mirror.requestLog.filter { $0.hasPrefix("UPLOAD") }.count == 2)
        let outcomes = Executor(state: state, sink: EventLog(), cancellation: CancellationFlag(), uploadAhead: ahead).run([job], images: 1)
        #expect(outcomes.map(\.status) == [.pushed], "\(outcomes.map(\.error))")
        #expect(outcomes.first?.endpoint == endpoints[1].url)
        #expect(outcomes.first?.counts.uploaded == 3)
        #expect(mirror.requestLog.filter { $0.hasPrefix("UPLOAD") }.count == 3, "\(mirror.requestLog)")

        // The next night, the primary still down: the mirror holds the tags, nothing is sent again.
        let rerun = ExecutorTests().executor(registries, state: state).run([makeJob(makeImage(), endpoints: endpoints)], images: 1)
        #expect(rerun.map(\.status) == [.unchanged], "\(rerun.map(\.error))")
        #expect(mirror.requestLog.filter { $0.hasPrefix("UPLOAD") }.count == 3)
    }
    /// An interrupt while uploads ahead are under way: they end (the run waits for them), nothing
    /// is recorded, and the next run sends the layers again and lands.
    @Test func anInterruptedUploadAheadEndsAndTheNextRunLands() {
        let registry = FakeRegistry()
        let state = FakeState()
        let job = makeJob(makeImage())
        let cancellation = CancellationFlag()
        struct Aborted: Error {}
        registry.duringUpload = { _, _ in
            // A transfer that goes on until the interrupt aborts it, as curl's does.
            while !cancellation.isCancelled { usleep(1_000) }
            throw Aborted()
        }
        let ahead = UploadAhead(cancellation: cancellation, width: 2)
        startLayers(ahead, job, registry)
        let deadline = Date().addingTimeInterval(10)
        while registry.requestLog.filter({ $0.hasPrefix("UPLOAD") }).count < 2, Date() < deadline { usleep(1_000) }
        #expect(registry.requestLog.filter { $0.hasPrefix("UPLOAD") }.count == 2, "both uploads ahead under way")
        cancellation.cancel()
        ahead.wait()
        let outcomes = Executor(state: state, sink: EventLog(), cancellation: cancellation, uploadAhead: ahead).run([job], images: 1)
        #expect(outcomes.map(\.status) == [.interrupted])
        #expect(state.pushes.isEmpty, "an interrupted push is not recorded")
        #expect(registry.blobs["team/app", default: []].isEmpty)

        registry.duringUpload = nil
        let next = executor(registry, state: state, ahead: UploadAhead(cancellation: CancellationFlag(), width: 2)).run([job], images: 1)
        #expect(next.map(\.status) == [.pushed], "\(next.map(\.error))")
        #expect(registry.blobs["team/app"] == Set(job.image.blobs.map(\.digest)))
        expectARerunSendsNothing(job, registry, state)
    }
}
