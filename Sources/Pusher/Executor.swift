import Foundation
import OCI
import Threading

/// Runs push jobs the way `docker push` does (moby `distribution/push_v2.go`), with the run's
/// endpoint fallback (each job's `PushEndpoints`), and records what it did in the state database.
///
/// Pushes run concurrently up to `images`; blobs within a push up to the push's `concurrency`.
/// A failed push does not stop the others.
public final class Executor: Sendable {
    private let state: any PushState
    private let sink: any PushEventSink
    private let cancellation: CancellationFlag
    let ledger: TransferLedger
    /// Referrers listings read on targets in this run, and the lock that serializes fallback-tag
    /// updates (Referrers.swift).
    let referrerListings = ReferrerListings()

    /// `uploadAhead`: the run's uploads started before the executor (their pushes find them done).
    public init(state: any PushState, sink: any PushEventSink, cancellation: CancellationFlag, uploadAhead: UploadAhead? = nil) {
        self.state = state
        self.sink = sink
        self.cancellation = cancellation
        self.ledger = uploadAhead?.ledger ?? TransferLedger()
    }

    /// Runs every job; returns one outcome per job, in the jobs' order.
    ///
    /// Pushes start up to the run's `concurrency` (the largest of the jobs') at once, so that the
    /// tag `HEAD`s that settle unchanged tags go out together across pushes (a rerun of a
    /// selector's 1,000 single-tag pushes is 1,000 `HEAD`s, not 500 round trips two at a time);
    /// those `HEAD`s share one gate of `concurrency` slots. Only a push with a tag to push then
    /// takes one of `images` slots for its blobs and manifests (docs/concurrency.md "Pools").
    /// Those two gates bound the requests; the pushes themselves start up to twice the wider of
    /// them, so that pushes waiting for their rows to be committed (a WAL sync each group,
    /// `PushRecordGroup`) do not hold back the next pushes' `HEAD`s: a rerun of six images with
    /// the default `concurrency` of 5 was two rounds of `HEAD`s and commits, now one.
    public func run(_ jobs: [PushJob], images: Int) -> [PushOutcome] {
        let outcomes = LockedValue<[Int: PushOutcome]>([:])
        let concurrency = jobs.map(\.concurrency).max() ?? 1
        let slots = RunSlots(images: Slots(images), heads: Slots(concurrency))
        forEachConcurrently(Array(jobs.enumerated()), width: 2 * max(images, concurrency)) { [self] index, job in
            let outcome = push(job, slots: slots)
            outcomes.withLock { $0[index] = outcome }
        }
        return outcomes.withLock { all in jobs.indices.map { all[$0]! } }
    }

    /// Records and reports a push that could not start (its source could not be read): the
    /// others go on, and the run ends with exit 1 (docs/run.md "Failure isolation").
    public func fail(_ target: PushTarget, registryKey: String, error: String) -> PushOutcome {
        let now = Date()
        let outcome = PushOutcome(status: .failed, digest: nil, endpoint: nil, error: error, counts: BlobCounts())
        sink.emit(.pushStart(target))
        do {
            try state.recordPush(
                CompletedPush(
                    target: target, registryKey: registryKey, sourceDigest: nil, mediaType: nil, size: nil, endpoint: nil,
                    tags: target.tags.map { .init(name: $0, status: .failed) }, status: .failed, counts: BlobCounts(),
                    attempts: 0, error: error, started: now, ended: now))
        } catch {
            sink.emit(
                .pushEnd(
                    target,
                    PushOutcome(
                        status: .failed, digest: nil, endpoint: nil,
                        error: PushFailure.state(String(describing: error)).description, counts: BlobCounts())))
            return outcome
        }
        sink.emit(.pushEnd(target, outcome))
        return outcome
    }

    /// The gates shared by the pushes of one `run`.
    struct RunSlots: Sendable {
        /// Pushes past their tag decisions (blobs and manifests): `images`.
        var images: Slots
        /// Tag `HEAD`s in flight across pushes: `concurrency`.
        var heads: Slots
    }

    /// One push, with endpoint fallback. Records the push unless it was interrupted.
    func push(_ job: PushJob, slots: RunSlots) -> PushOutcome {
        let started = Date()
        let retries = LockedValue(0)
        let endpointsTried = LockedValue(0)
        // The target as last announced (its host is the endpoint in use), and the endpoint last tried.
        let announced = LockedValue<PushTarget?>(nil)
        let lastEndpointHost = LockedValue<String?>(nil)
        // Blobs known in the target repository, whichever endpoint found them (they are recorded
        // by registry, not endpoint), written with the push's rows.
        let found = LockedValue<[Digest]>([])
        let final: Result<EndpointResult, StepFailure>
        do {
            let (result, _) = try job.endpoints.perform(retries: { [sink] event in
                retries.withLock { $0 += 1 }
                var target = job.target
                target.host = announced.withLock { $0?.host } ?? job.endpoints.preferredHost
                sink.emit(.retrying(target, what: event.operation, delaySeconds: event.delaySeconds, attempt: event.attempt))
            }) { destination, endpoint throws(StepFailure) in
                endpointsTried.withLock { $0 += 1 }
                if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .final) }
                var target = job.target
                target.host = endpoint.host
                lastEndpointHost.withLock { $0 = endpoint.host }
                // The first line of a push names the endpoint in use, once it has answered (so an
                // endpoint abandoned at the first request is never named as the one pushed to).
                return try push(job, via: destination, endpoint: endpoint.url, target: target, slots: slots, found: found) { [sink] in
                    guard announced.withLock({ $0?.host }) != target.host else { return }
                    sink.emit(.pushStart(target))
                    announced.withLock { $0 = target }
                }
            }
            final = .success(result)
        } catch let failure as StepFailure {
            final = .failure(failure)
        } catch let exhausted as PushEndpointsExhausted {
            final = .failure(StepFailure(.noEndpoint(registry: exhausted.registry, attempts: exhausted.attempts), kind: .final))
        } catch {
            final = .failure(StepFailure(.request(String(describing: error)), kind: .final))
        }

        let outcome: PushOutcome
        var tags: [CompletedPush.Tag]
        switch final {
        case .success(let r):
            outcome = PushOutcome(
                status: r.tags.contains { $0.status == .pushed } ? .pushed : .unchanged,
                digest: job.image.root.digest, endpoint: r.endpoint, error: nil, counts: r.counts)
            tags = r.tags
        case .failure(let f):
            var status = PushOutcome.Status.failed
            if case .cancelled = f.failure { status = .interrupted }
            outcome = PushOutcome(status: status, digest: nil, endpoint: nil, error: f.failure.description, counts: f.counts)
            tags = job.target.tags.map { CompletedPush.Tag(name: $0, status: .failed) }
        }
        var target = job.target
        let announcedHost = announced.withLock { $0?.host }
        target.host = (outcome.endpoint != nil ? lastEndpointHost.withLock { $0 } : nil) ?? announcedHost ?? job.endpoints.preferredHost
        if announcedHost == nil { sink.emit(.pushStart(target)) }
        var interrupted = false
        if case .failure(let f) = final, case .cancelled = f.failure { interrupted = true }
        // An interrupted push did not complete and is not recorded (docs/cli.md "State database");
        // the blob locations it learned are (best effort: the next run finds them with a HEAD).
        let blobs = found.withLock { $0 }
        if interrupted {
            for digest in blobs {
                try? state.recordBlob(
                    registry: job.registryKey, repository: job.target.repository, digest: digest, identity: job.credentialIdentity)
            }
        } else {
            do {
                try state.recordPush(
                    CompletedPush(
                        target: job.target, registryKey: job.registryKey, sourceDigest: job.image.sourceDigest ?? job.image.root.digest,
                        pushedDigest: job.image.root.digest, subject: job.subject?.digest, mediaType: job.image.root.mediaType,
                        size: job.image.root.size, endpoint: outcome.endpoint,
                        tags: tags, status: outcome.status, counts: outcome.counts,
                        attempts: max(1, endpointsTried.withLock { $0 }) + retries.withLock { $0 },
                        error: outcome.error, started: started, ended: Date(), blobs: blobs, blobIdentity: job.credentialIdentity))
            } catch {
                let failed = PushOutcome(
                    status: .failed, digest: nil, endpoint: outcome.endpoint,
                    error: PushFailure.state(String(describing: error)).description, counts: outcome.counts)
                sink.emit(.pushEnd(target, failed))
                return failed
            }
        }
        sink.emit(.pushEnd(target, outcome))
        return outcome
    }

    struct EndpointResult {
        var endpoint: String
        var tags: [CompletedPush.Tag]
        var counts: BlobCounts
    }

    /// Everything a push does at one endpoint.
    private func push(
        _ job: PushJob, via destination: any PushDestination, endpoint: String, target: PushTarget, slots: RunSlots,
        found: LockedValue<[Digest]>, answered: () -> Void
    ) throws(StepFailure) -> EndpointResult {
        let repository = job.target.repository
        let step = StepRunner(destination: destination, cancellation: cancellation)

        // 1. What each tag needs: unchanged tags cost one HEAD each and nothing else (the "rerun
        //    does almost nothing" promise).
        let place = TransferLedger.Place(endpoint: endpoint, repository: repository)
        let owner = ledger.newOwner()
        var decider = PushDecider(job: job, destination: destination, state: state)
        decider.ledger = (ledger, place, owner)
        decider.headSlots = slots.heads
        let needs = try decider.tagStates(step)
        var tags = needs.map { CompletedPush.Tag(name: $0.tag, status: $0.need == .unchanged ? .unchanged : .pushed) }
        let firstPushes = Set(needs.filter { !$0.everPushed }.map(\.tag))
        // A referrer pushed by digest: its subject's listing on the target says whether it is there.
        if job.target.tags.isEmpty, job.subject != nil {
            let listed = try referrerIsListed(job, destination: destination, endpoint: endpoint, step: step)
            tags = [CompletedPush.Tag(name: "", status: listed ? .unchanged : .pushed)]
        }
        guard tags.contains(where: { $0.status == .pushed }) else {
            answered()
            return EndpointResult(endpoint: endpoint, tags: tags, counts: BlobCounts())
        }
        return try slots.images.withSlot { () throws(StepFailure) in
            try transfer(
                job, via: destination, endpoint: endpoint, target: target, step: step, place: place, owner: owner,
                tags: tags, firstPushes: firstPushes, found: found, answered: answered)
        }
    }

    /// A push's work past its tag decisions, in one of the run's `images` slots.
    private func transfer(
        _ job: PushJob, via destination: any PushDestination, endpoint: String, target: PushTarget, step: StepRunner,
        place: TransferLedger.Place, owner: TransferLedger.Owner, tags: [CompletedPush.Tag], firstPushes: Set<String>,
        found: LockedValue<[Digest]>, answered: () -> Void
    ) throws(StepFailure) -> EndpointResult {
        let repository = job.target.repository
        let root = job.image.root

        // Lazily read sources (`docker://`) are read only now that a tag needs pushing.
        var job = job
        if let load = job.image.loadContent {
            do {
                job.image = try load()
            } catch {
                throw StepFailure(.manifest(reference: job.image.description, error: String(describing: error)), kind: .final)
            }
        }

        // 2. The endpoint must pass the `/v2/` check before anything is written to it.
        try step.run(.request) { try destination.ping() }
        answered()

        // 3. Blobs: configs and layers, each present, mounted or uploaded.
        let counts = LockedValue(BlobCounts())
        let failures = LockedValue<[StepFailure]>([])
        let blobPusher = BlobPusher(
            decider: PushDecider(job: job, destination: destination, state: state), target: target,
            endpoint: endpoint, sink: sink, ledger: ledger, cancellation: cancellation, found: found)
        forEachConcurrently(job.image.blobs, width: job.concurrency) { blob in
            guard failures.withLock({ $0.isEmpty }) else { return }
            do throws(StepFailure) {
                let how = try blobPusher.push(blob)
                counts.withLock { $0 = $0 + how }
            } catch {
                failures.withLock { $0.append(error) }
            }
        }
        if var failure = failures.withLock({ $0.first }) {
            failure.counts = counts.withLock { $0 }
            throw failure
        }

        // 4. Manifests, children first, each once per repository and run, whichever push puts it:
        //    by digest, except the root, which goes up by its first tag to be pushed (one PUT stores
        //    the manifest and the tag); then the root by each other tag. Every request that writes a
        //    manifest waits for the manifests it references and for other requests on the same
        //    records (TransferLedger). Every blob is confirmed present at this point.
        let references = Self.references(of: job.image)
        let rootChildren = references[root.digest] ?? []
        let toPut = tags.filter { $0.status == .pushed && !$0.name.isEmpty }.map(\.name)
        var tagsLeft = toPut[...]

        /// The root by `tag`: the first push of a tag is checked in the same turn, before another
        /// request can move the tag.
        func putRoot(by tag: String, bytes: [UInt8]) throws(StepFailure) -> ManifestPutAnswer {
            // A tag PUT rewrites the root's records as a PUT by digest does.
            try ledger.access(
                place, owner: owner, for: tag, writes: [.manifest(root.digest), .tag(tag)],
                reads: rootChildren.map { .manifest($0) }, awaiting: rootChildren
            ) { () throws(StepFailure) in
                let answer = try putManifest(step, destination, repository, reference: tag, descriptor: root, bytes: bytes)
                // Trust, but verify the first push of a tag: a registry (or a proxy before it) that
                // answers 201 without storing the manifest must not get the push recorded. An
                // answer with the registry's own `Docker-Content-Digest` (checked equal) is that
                // proof already: distribution sends it only once the manifest and the tag are
                // stored (docs/run.md "Tags").
                if firstPushes.contains(tag), !answer.digestReported {
                    let held = try step.run(.manifest(reference: tag)) {
                        try destination.manifestDigest(repository: repository, reference: tag)
                    }
                    guard held == root.digest else {
                        throw StepFailure(
                            .manifest(
                                reference: tag,
                                error: "the registry accepted the manifest but "
                                    + (held.map { "the tag points to \($0)" } ?? "does not hold it") + " (checked with a HEAD)"),
                            kind: .final)
                    }
                }
                return answer
            }
        }

        do throws(StepFailure) {
            for (descriptor, bytes) in job.image.manifests {
                let children = references[descriptor.digest] ?? []
                switch try ledger.claimManifest(place, descriptor.digest, owner: owner) {
                case .acknowledged: continue
                case .failed(let failure):
                    if case .cancelled = failure.failure { throw StepFailure(.cancelled, kind: .final) }
                    // Named as the child of the manifest here that needs it, or as itself (the root).
                    guard let parent = references.first(where: { $0.value.contains(descriptor.digest) })?.key else {
                        throw StepFailure(
                            .manifest(
                                reference: descriptor.digest.string,
                                error: "another push of this run failed to put it: \(failure.failure.description)"),
                            kind: failure.kind)
                    }
                    throw StepFailure(
                        .childFailed(manifest: parent.string, child: descriptor.digest, error: failure.failure.description),
                        kind: failure.kind)
                case .send: break
                }
                let acknowledged: Bool
                do throws(StepFailure) {
                    if descriptor.digest == root.digest, let tag = tagsLeft.first {
                        acknowledged = try putRoot(by: tag, bytes: bytes).subjectAcknowledged
                        tagsLeft = tagsLeft.dropFirst()
                    } else {
                        acknowledged = try ledger.access(
                            place, owner: owner, for: descriptor.digest.string, writes: [.manifest(descriptor.digest)],
                            reads: children.map { .manifest($0) }, awaiting: children
                        ) { () throws(StepFailure) in
                            try putManifest(
                                step, destination, repository, reference: descriptor.digest.string,
                                descriptor: descriptor, bytes: bytes
                            ).subjectAcknowledged
                        }
                    }
                    ledger.finishManifest(place, descriptor.digest, failure: nil)
                } catch {
                    ledger.finishManifest(place, descriptor.digest, failure: error)
                    throw error
                }
                // A manifest with a `subject` on a registry that did not take note of it: pushctl
                // keeps the subject's fallback tag (distribution spec 1.1 "Referrers Tag Schema").
                if !acknowledged, let referrer = ReferrerManifest.parse(bytes) {
                    try maintainFallbackTag(
                        referrer, descriptor: descriptor, repository: repository, destination: destination,
                        endpoint: endpoint, owner: owner, step: step)
                }
            }
            // The other tags one after the other (docs/run.md "Tags").
            let rootBytes = job.image.manifests.last { $0.descriptor.digest == root.digest }?.bytes ?? []
            for tag in tagsLeft { _ = try putRoot(by: tag, bytes: rootBytes) }
        } catch {
            var failure = error
            failure.counts = counts.withLock { $0 }
            throw failure
        }
        for tag in toPut { sink.emit(.manifest(target, tag: tag, digest: root.digest, size: root.size)) }
        return EndpointResult(endpoint: endpoint, tags: tags, counts: counts.withLock { $0 })
    }

    /// Per manifest of `image`, the manifests it references that the registry checks before it
    /// takes it: an index's children (for a referrers fallback index, its listed referrers). Not
    /// a `subject`: distribution does not require it to exist (docs/run.md).
    static func references(of image: SourceImage) -> [Digest: [Digest]] {
        var references: [Digest: [Digest]] = [:]
        for (descriptor, bytes) in image.manifests { references[descriptor.digest] = childDigests(bytes) }
        return references
    }

    /// The distinct child digests of an index's bytes; none for anything else.
    static func childDigests(_ bytes: [UInt8]) -> [Digest] {
        var seen: Set<Digest> = []
        return ((try? ManifestDocument.parse(bytes).document.children) ?? []).map(\.digest).filter { seen.insert($0).inserted }
    }

    /// Returns what the answer said: whether the registry acknowledged the manifest's `subject`
    /// (`OCI-Subject`) and reported its digest.
    private func putManifest(
        _ step: StepRunner, _ destination: any PushDestination, _ repository: String,
        reference: String, descriptor: Descriptor, bytes: [UInt8]
    ) throws(StepFailure) -> ManifestPutAnswer {
        let answer = try step.run(.manifest(reference: reference)) {
            try destination.putManifestReportingSubject(
                repository: repository, reference: reference, bytes: bytes, mediaType: descriptor.mediaType)
        }
        guard answer.digest == descriptor.digest else {
            throw StepFailure(
                .digestMismatch(reference: reference, expected: descriptor.digest, reported: answer.digest), kind: .final)
        }
        return answer
    }
}

/// A failure of one step of a push, with what it means for endpoint fallback and, when a request
/// or the state database failed, the error itself (its text is only for people: nothing decides on it).
struct StepFailure: EndpointVerdictProviding, CustomStringConvertible {
    var failure: PushFailure
    var kind: EndpointVerdict
    var underlying: (any Error)?
    var counts = BlobCounts()

    init(_ failure: PushFailure, kind: EndpointVerdict, underlying: (any Error)? = nil) {
        self.failure = failure
        self.kind = kind
        self.underlying = underlying
    }

    var description: String { failure.description }

    var endpointVerdict: EndpointVerdict { kind }
}

/// One request-like step of a push, as its failure names it.
enum PushStep {
    case blob(Digest)
    case manifest(reference: String)
    /// A state database call, and what it was doing.
    case state(String)
    /// A request whose error already says what was being done (the `/v2/` check).
    case request

    /// The failure of this step, said with `error`'s text.
    func failure(_ error: any Error) -> PushFailure {
        let message = String(describing: error)
        return switch self {
        case .blob(let digest): .blob(digest: digest, error: message)
        case .manifest(let reference): .manifest(reference: reference, error: message)
        case .state(let doing): .state("\(doing): \(message)")
        case .request: .request(message)
        }
    }
}

/// Runs one request-like step, turning its error into a `StepFailure` that names the step and
/// keeps the error.
struct StepRunner {
    let destination: any PushDestination
    let cancellation: CancellationFlag

    func run<T>(_ step: PushStep, _ body: () throws -> T) throws(StepFailure) -> T {
        if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .final) }
        do {
            return try body()
        } catch {
            if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .final, underlying: error) }
            // The state database's failures are final: another endpoint would not help.
            let kind: EndpointVerdict = if case .state = step { .final } else { destination.classify(error) }
            throw StepFailure(step.failure(error), kind: kind, underlying: error)
        }
    }
}
