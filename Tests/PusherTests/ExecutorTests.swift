import Threading
import Foundation
import Curl
import PusherFakes
import OCI
import Registry
import Testing
@testable import Pusher

/// The push logic against in-memory fakes. The same behaviour is proven against the real
/// registry in the integration tests; these pin down the decisions.
@Suite struct ExecutorTests {
    /// A registry's url and its one mirror.
    static let primaryAndMirror = [
        RegistryEndpoint(url: "https://primary.test", isHTTPTwin: false), RegistryEndpoint(url: "https://mirror.test", isHTTPTwin: false)
    ]
    func executor(
        _ registries: [String: FakeRegistry], state: FakeState, events: EventLog = EventLog(),
        cancellation: CancellationFlag = CancellationFlag()
    ) -> TestExecutor {
        TestExecutor(executor: Executor(state: state, sink: events, cancellation: cancellation), registries: registries)
    }

    @Test func pushesBlobsThenManifestAndRecordsEverything() throws {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 2)
        #expect(outcomes.map(\.status) == [.pushed])
        #expect(outcomes[0].counts == BlobCounts(uploaded: 3, bytesUploaded: image.blobs.reduce(0) { $0 + $1.size }))
        #expect(registry.manifests["team/app"]?["1.0"] == image.root.digest)
        #expect(registry.manifests["team/app"]?["latest"] == image.root.digest)
        // The root goes up by its first tag, not by digest as well (docs/run.md rule 1).
        let puts = registry.requestLog.filter { $0.hasPrefix("PUT") }
        #expect(puts == ["PUT manifest team/app:1.0", "PUT manifest team/app:latest"])
        #expect(state.pushes.count == 1)
        #expect(state.pushes[0].endpoint == "http://127.0.0.1:5000")
        #expect(state.locations.count == 3)
    }

    /// The first push of a tag is confirmed with a `HEAD` in the same turn as its `PUT`, unless
    /// the `PUT`'s answer reported the stored digest (docs/run.md "Tags").
    @Test(arguments: [false, true])
    func aFirstPushOfATagIsConfirmedUnlessTheAnswerReportsTheDigest(reported: Bool) {
        let registry = FakeRegistry()
        registry.reportsDigest = reported
        let state = FakeState()
        let image = makeImage()
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state).run(
            [makeJob(image, tags: ["a", "b", "c"])], images: 1)
        #expect(outcomes.map(\.status) == [.pushed])
        let manifests = registry.requestLog.filter { $0.contains(" manifest ") }
        let tags = ["a", "b", "c"].flatMap { tag in
            ["PUT manifest team/app:\(tag)"] + (reported ? [] : ["HEAD manifest team/app:\(tag)"])
        }
        #expect(manifests == tags)
        #expect(state.pushes.map { $0.tags.map(\.status) } == [[.pushed, .pushed, .pushed]])
    }

    @Test func rerunIsUnchangedWithOneHeadPerTag() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        let run = executor(["http://127.0.0.1:5000": registry], state: state)
        _ = run.run([makeJob(image)], images: 1)
        let before = registry.requestLog.count
        let second = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)
        #expect(second.map(\.status) == [.unchanged])
        // The tags' HEADs go out together, so in any order.
        #expect(Array(registry.requestLog[before...]).sorted() == ["HEAD manifest team/app:1.0", "HEAD manifest team/app:latest"])
    }

    /// A rerun's tag `HEAD`s go out together across pushes (not `images` pushes at a time), and
    /// never more than `concurrency` (3 in `makeJob`) at once in all, however many tags each push has.
    @Test(arguments: [1, 2])
    func aRerunsHeadsGoOutTogetherAcrossPushesUpToConcurrency(tagsPerPush: Int) {
        let registry = FakeRegistry()
        let state = FakeState()
        let jobs = (0..<6).map { n in
            makeJob(makeImage(seed: "s\(n)"), repository: "team/app\(n)", tags: (0..<tagsPerPush).map { "t\($0)" })
        }
        #expect(executor(["http://127.0.0.1:5000": registry], state: state).run(jobs, images: 1).allSatisfy { $0.status == .pushed })
        let before = registry.requestLog.count
        let inFlight = LockedValue((now: 0, most: 0))
        registry.duringManifestHead = {
            inFlight.withLock {
                $0.now += 1; $0.most = max($0.most, $0.now)
            }
            // Hold the first HEADs until 3 are in flight (or 5 s have passed: then the check below fails).
            let deadline = Date().addingTimeInterval(5)
            while inFlight.withLock({ $0.most }) < 3, Date() < deadline { usleep(1_000) }
            inFlight.withLock { $0.now -= 1 }
        }
        let second = executor(["http://127.0.0.1:5000": registry], state: state).run(jobs, images: 1)
        #expect(second.allSatisfy { $0.status == .unchanged })
        #expect(inFlight.withLock { $0.most } == 3)
        #expect(registry.requestLog.count - before == 6 * tagsPerPush)
        #expect(registry.requestLog[before...].allSatisfy { $0.hasPrefix("HEAD manifest") })
    }

    @Test func aTagOverwrittenElsewhereIsPushedAgain() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        _ = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)
        registry.manifests["team/app"]!["latest"] = makeImage(seed: "other").root.digest
        let second = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)
        #expect(second.map(\.status) == [.pushed])
        #expect(registry.manifests["team/app"]?["latest"] == image.root.digest)
        #expect(state.pushes.last?.tags.map(\.status) == [.unchanged, .pushed])
    }

    @Test func unreachableFirstEndpointFallsBackToTheMirror() {
        let closed = FakeRegistry()
        closed.unreachable = .init(tls: false)
        let mirror = FakeRegistry()
        let state = FakeState()
        let job = makeJob(
            makeImage(),
            endpoints: Self.primaryAndMirror)
        let outcome = executor(["https://primary.test": closed, "https://mirror.test": mirror], state: state).run([job], images: 1)[0]
        #expect(outcome.status == .pushed)
        #expect(outcome.endpoint == "https://mirror.test")
        #expect(state.pushes[0].endpoint == "https://mirror.test")
        #expect(mirror.manifests["team/app"]?["1.0"] != nil)
    }

    @Test func aRegistryAnswerIsFinalAndNotRetriedElsewhere() {
        let denying = FakeRegistry()
        denying.denyWrites = true
        let mirror = FakeRegistry()
        let job = makeJob(
            makeImage(),
            endpoints: Self.primaryAndMirror)
        let outcome = executor(["https://primary.test": denying, "https://mirror.test": mirror], state: FakeState()).run([job], images: 1)[
            0]
        #expect(outcome.status == .failed)
        #expect(outcome.error?.contains("DENIED") == true)
        #expect(mirror.requestLog.isEmpty)
    }

    @Test func httpTwinIsTriedOnlyAfterATLSHandshakeFailure() {
        let tlsBroken = FakeRegistry()
        tlsBroken.unreachable = .init(tls: true)
        let plain = FakeRegistry()
        let endpoints = [
            RegistryEndpoint(url: "https://lab.test", isHTTPTwin: false), RegistryEndpoint(url: "http://lab.test", isHTTPTwin: true)
        ]
        let outcome = executor(["https://lab.test": tlsBroken, "http://lab.test": plain], state: FakeState())
            .run([makeJob(makeImage(), endpoints: endpoints)], images: 1)[0]
        #expect(outcome.endpoint == "http://lab.test")

        let refused = FakeRegistry()
        refused.unreachable = .init(tls: false)
        let untouched = FakeRegistry()
        let second = executor(["https://lab.test": refused, "http://lab.test": untouched], state: FakeState())
            .run([makeJob(makeImage(), endpoints: endpoints)], images: 1)[0]
        #expect(second.status == .failed)
        #expect(untouched.requestLog.isEmpty, "a connection failure that is not a TLS handshake failure never downgrades to http")
    }

    @Test func mountsFromAnotherRepositoryAndFallsThroughRefusedCandidates() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        _ = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image, repository: "team/a")], images: 1)
        _ = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image, repository: "team/b")], images: 1)
        registry.refuseMounts = ["team/a"]
        let outcome = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image, repository: "team/c")], images: 1)[0]
        #expect(outcome.counts == BlobCounts(mounted: 3))
        #expect(registry.requestLog.filter { $0.hasPrefix("UPLOAD team/c") }.isEmpty)
        #expect(registry.requestLog.filter { $0.hasPrefix("MOUNT team/c from team/a") }.count == 3)
    }

    @Test func aCorruptBlobFailsThePushBeforeAnyManifestAndOthersStillLand() {
        let registry = FakeRegistry()
        let state = FakeState()
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state)
            .run(
                [
                    makeJob(makeImage(seed: "bad", corruptLayer: true), repository: "team/bad"),
                    makeJob(makeImage(seed: "good"), repository: "team/good")
                ], images: 2)
        #expect(outcomes.map(\.status) == [.failed, .pushed])
        #expect(outcomes[0].error?.contains("digest mismatch") == true)
        #expect(registry.manifests["team/bad"] == nil)
        #expect(state.pushes.first { $0.target.repository == "team/bad" }?.status == .failed)
    }

    @Test func aBlobKnownToTheStateButGoneIsForgottenAndUploaded() throws {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        for blob in image.blobs {
            try state.recordBlob(registry: "registry.test", repository: "team/app", digest: blob.digest, identity: "id-1")
        }
        let outcome = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)[0]
        #expect(outcome.counts.uploaded == 3)
        #expect(state.locations.count == 3, "stale records were removed and fresh ones written")
    }

    @Test func interruptedPushesAreNotRecorded() {
        let registry = FakeRegistry()
        let state = FakeState()
        let cancel = CancellationFlag()
        cancel.cancel()
        let events = EventLog()
        let outcome = executor(["http://127.0.0.1:5000": registry], state: state, events: events, cancellation: cancel)
            .run([makeJob(makeImage())], images: 1)[0]
        #expect(outcome.status == .interrupted)
        #expect(state.pushes.isEmpty)
        #expect(registry.requestLog.isEmpty)
    }

    /// A push that failed after its blobs went up records their locations with its failed rows
    /// (docs/state.md "Group commit"); the rerun finds them with a `HEAD` each, no upload.
    @Test func aFailedPushRecordsTheBlobsItLearnedAndTheRerunFindsThem() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        registry.refuseManifests = [image.root.digest]
        let first = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)
        #expect(first.map(\.status) == [.failed])
        #expect(state.pushes.map(\.status) == [.failed])
        #expect(Set(state.pushes.flatMap(\.blobs)) == Set(image.blobs.map(\.digest)))
        #expect(Set(state.locations.map(\.digest)) == Set(image.blobs.map(\.digest)))
        #expect(state.locations.allSatisfy { $0.registry == "registry.test" && $0.repository == "team/app" })

        registry.refuseManifests = []
        let before = registry.requestLog.count
        let rerun = executor(["http://127.0.0.1:5000": registry], state: state).run([makeJob(image)], images: 1)
        #expect(rerun.map(\.status) == [.pushed])
        #expect(rerun[0].counts == BlobCounts(present: 3))
        let requests = registry.requestLog[before...]
        #expect(requests.filter { $0.hasPrefix("HEAD blob") }.count == 3)
        #expect(!requests.contains { $0.hasPrefix("UPLOAD") || $0.hasPrefix("MOUNT") }, "\(Array(requests))")
    }

    /// A blob this run put in another repository of the registry is mounted from there, even
    /// before that push's rows (and so its blob locations) are in the state database.
    @Test func aBlobPutEarlierInTheRunIsMountedBeforeItsPushIsRecorded() {
        let registry = FakeRegistry()
        let state = FakeState()
        state.keepsPushedBlobLocations = false
        let image = makeImage()
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state).run(
            [makeJob(image, repository: "team/a", tags: ["1"]), makeJob(image, repository: "team/b", tags: ["1"])], images: 1)
        #expect(outcomes.map(\.status) == [.pushed, .pushed])
        // Whichever push took the one `images` slot first uploaded; the other mounted.
        #expect(outcomes.map(\.counts.uploaded).sorted() == [0, 3])
        #expect(outcomes.map(\.counts.mounted).sorted() == [0, 3])
        let mounts = registry.requestLog.filter { $0.hasPrefix("MOUNT") }
        #expect(
            mounts.count == 3
                && (mounts.allSatisfy { $0.hasPrefix("MOUNT team/b from team/a") }
                    || mounts.allSatisfy { $0.hasPrefix("MOUNT team/a from team/b") }),
            "\(mounts)")
        #expect(state.locations.isEmpty)
    }

    /// Two pushes into two repositories of one registry that both find a blob missing at once: it
    /// is uploaded once, and the other push waits, then mounts it (two images sharing a base layer
    /// that start together). A refused mount falls back to an upload of its own.
    @Test(arguments: [false, true])
    func aBlobBeingUploadedIntoAnotherRepositoryIsAwaitedThenMounted(mountRefused: Bool) {
        let registry = FakeRegistry()
        if mountRefused { registry.refuseMounts = ["team/a", "team/b"] }
        let state = FakeState()
        let image = makeImage()
        // Each upload goes on only once the other repository has asked for the blob too (or after
        // 2 s), so both pushes have found it missing before either has it.
        // (Weak: the registry holds the hook.)
        registry.duringUpload = { [weak registry] repository, digest in
            let other = repository == "team/a" ? "team/b" : "team/a"
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline, let registry, !registry.requestLog.contains("HEAD blob \(other) \(digest.short)") {
                usleep(1_000)
            }
        }
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state).run(
            [makeJob(image, repository: "team/a", tags: ["1"]), makeJob(image, repository: "team/b", tags: ["1"])], images: 2)
        #expect(outcomes.map(\.status) == [.pushed, .pushed])
        let uploads = registry.requestLog.filter { $0.hasPrefix("UPLOAD") }
        if mountRefused {
            #expect(uploads.count == 6, "\(uploads)")
        } else {
            #expect(uploads.count == 3, "\(uploads)")
            #expect(outcomes.map(\.counts.uploaded).reduce(0, +) == 3)
            #expect(outcomes.map(\.counts.mounted).reduce(0, +) == 3)
        }
        for repository in ["team/a", "team/b"] {
            #expect(registry.blobs[repository] == Set(image.blobs.map(\.digest)), "\(repository)")
        }
    }

    /// The upload another push waits for fails: the waiting push uploads the blob itself, the
    /// failed push is not recorded, and its rerun mounts what the other push put.
    @Test func aFailedUploadThatAnotherPushAwaitedIsSentByThatPushThenARerunMounts() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        struct Dropped: Error {}
        let weakRegistry = WeakBox(registry)
        // (Weak: the registry holds the hooks that call this.)
        @Sendable func waitFor(_ entry: String) {
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline, let registry = weakRegistry.value, !registry.requestLog.contains(entry) { usleep(1_000) }
        }
        // team/a uploads first: team/b's `HEAD` of a blob answers only once team/a's upload of it
        // has begun (so team/b then waits for it), and that upload fails once team/b has asked.
        registry.duringBlobHead = { repository, digest in
            if repository == "team/b" { waitFor("UPLOAD team/a \(digest.short)") }
        }
        registry.duringUpload = { repository, digest in
            guard repository == "team/a" else { return }
            waitFor("HEAD blob team/b \(digest.short)")
            throw Dropped()
        }
        let jobs = [makeJob(image, repository: "team/a", tags: ["1"]), makeJob(image, repository: "team/b", tags: ["1"])]
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: state).run(jobs, images: 2)
        #expect(outcomes.map(\.status) == [.failed, .pushed], "\(outcomes.map(\.error))")
        #expect(registry.blobs["team/b"] == Set(image.blobs.map(\.digest)))
        #expect(state.pushes.filter { $0.status == .pushed }.map(\.target.repository) == ["team/b"])

        registry.duringUpload = nil
        registry.duringBlobHead = nil
        let before = registry.requestLog.count
        let rerun = executor(["http://127.0.0.1:5000": registry], state: state).run(jobs, images: 2)
        #expect(rerun.map(\.status) == [.pushed, .unchanged], "\(rerun.map(\.error))")
        let later = registry.requestLog.dropFirst(before)
        #expect(!later.contains { $0.hasPrefix("UPLOAD") }, "\(Array(later))")
        #expect(registry.blobs["team/a"] == Set(image.blobs.map(\.digest)))
    }

    /// An interrupted push is not recorded, but the blob locations it learned are.
    @Test func anInterruptedPushStillRecordsTheBlobsItLearned() {
        let registry = FakeRegistry()
        let state = FakeState()
        let image = makeImage()
        let cancel = CancellationFlag()
        registry.beforeManifestPut = { cancel.cancel() }
        let outcome = executor(["http://127.0.0.1:5000": registry], state: state, cancellation: cancel)
            .run([makeJob(image)], images: 1)[0]
        #expect(outcome.status == .interrupted)
        #expect(state.pushes.isEmpty)
        #expect(Set(state.locations.map(\.digest)) == Set(image.blobs.map(\.digest)))
    }

    @Test func aBlobSharedByTwoImagesIsPushedOnce() {
        let registry = FakeRegistry()
        let image = makeImage()
        let jobs = [makeJob(image, tags: ["a"]), makeJob(image, tags: ["b"])].enumerated().map { i, job in
            var job = job
            job.target.itemID = "item-\(i)"
            return job
        }
        let outcomes = executor(["http://127.0.0.1:5000": registry], state: FakeState()).run(jobs, images: 2)
        #expect(outcomes.map(\.status) == [.pushed, .pushed])
        #expect(registry.requestLog.filter { $0.hasPrefix("UPLOAD") }.count == 3)
        #expect(outcomes.map(\.counts.uploaded).reduce(0, +) == 3)
    }
}
