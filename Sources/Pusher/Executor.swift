import Foundation
import Curl
import OCI
import Synchronization

/// Runs push jobs the way `docker push` does (moby `distribution/push_v2.go`), with endpoint
/// fallback per jobfile-v1.md, and records what it did in the state database.
///
/// Pushes run concurrently up to `images`; blobs within a push up to the push's `concurrency`.
/// A failed push does not stop the others.
public final class Executor: Sendable {
    /// Makes (or reuses) the client for one endpoint. `onRetry` must be called by the client before
    /// it waits to retry a request, so the user sees `Retrying in N seconds`.
    public typealias DestinationFactory = @Sendable (_ endpoint: EndpointChoice, _ job: PushJob,
                                                     _ onRetry: @escaping @Sendable (_ what: String, _ delay: Double, _ attempt: Int) -> Void) -> any PushDestination

    private let state: any PushState
    private let destinations: DestinationFactory
    private let sink: any PushEventSink
    private let cancellation: CancellationFlag
    /// Hosts that answered over TLS in this run: their plain-http twins are never used.
    private let confirmedTLS = Mutex<Set<String>>([])
    private let ledger = BlobLedger()

    public init(state: any PushState, destinations: @escaping DestinationFactory, sink: any PushEventSink, cancellation: CancellationFlag) {
        self.state = state
        self.destinations = destinations
        self.sink = sink
        self.cancellation = cancellation
    }

    /// Runs every job; returns one outcome per job, in the jobs' order.
    public func run(_ jobs: [PushJob], images: Int) -> [PushOutcome] {
        let outcomes = Mutex<[Int: PushOutcome]>([:])
        forEachConcurrently(Array(jobs.enumerated()), width: images) { [self] index, job in
            let outcome = push(job)
            outcomes.withLock { $0[index] = outcome }
        }
        return outcomes.withLock { all in jobs.indices.map { all[$0]! } }
    }

    /// One push, with endpoint fallback. Records the push unless it was interrupted.
    func push(_ job: PushJob) -> PushOutcome {
        let started = Date()
        let retries = AtomicCounter()
        var tried: [(endpoint: String, error: String)] = []
        var previousFailedTLSHandshake = false
        var result: Result<EndpointResult, StepFailure>?
        var announced = false

        for endpoint in job.endpoints {
            if cancellation.isCancelled { result = .failure(StepFailure(.cancelled, kind: .other)); break }
            if endpoint.isHTTPTwin {
                let confirmed = confirmedTLS.withLock { $0.contains(endpoint.host) }
                guard previousFailedTLSHandshake, !confirmed else { continue }
            }
            var target = job.target
            target.host = endpoint.host
            if !announced {
                sink.emit(.pushStart(target))
                announced = true
            }
            let announcedTarget = target
            let destination = destinations(endpoint, job) { [sink] what, delay, attempt in
                _ = retries.takeNext()
                sink.emit(.retrying(announcedTarget, what: what, delaySeconds: delay, attempt: attempt))
            }
            do {
                result = .success(try push(job, via: destination, endpoint: endpoint, target: target))
                break
            } catch {
                if case .endpointUnavailable(let tls) = error.kind {
                    tried.append((endpoint.url, error.failure.description))
                    previousFailedTLSHandshake = tls
                    continue
                }
                result = .failure(error)
                break
            }
        }

        let final = result ?? .failure(StepFailure(.noEndpoint(registry: job.target.registry, attempts: tried), kind: .other))
        let outcome: PushOutcome
        var tags: [CompletedPush.Tag]
        switch final {
        case .success(let r):
            outcome = PushOutcome(status: r.tags.contains { $0.status == .pushed } ? .pushed : .unchanged,
                                  digest: job.image.root.digest, endpoint: r.endpoint, error: nil, counts: r.counts)
            tags = r.tags
        case .failure(let f):
            outcome = PushOutcome(status: .failed, digest: nil, endpoint: nil, error: f.failure.description, counts: f.counts)
            tags = job.target.tags.map { CompletedPush.Tag(name: $0, status: .failed) }
        }
        var interrupted = false
        if case .failure(let f) = final, case .cancelled = f.failure { interrupted = true }
        // An interrupted push did not complete and is not recorded (cli.md "State database").
        if !interrupted {
            do {
                try state.recordPush(CompletedPush(
                    target: job.target, registryKey: job.registryKey, sourceDigest: job.image.root.digest,
                    mediaType: job.image.root.mediaType, size: job.image.root.size, endpoint: outcome.endpoint,
                    tags: tags, status: outcome.status, counts: outcome.counts, attempts: tried.count + retries.current + 1,
                    error: outcome.error, started: started, ended: Date()))
            } catch {
                let failed = PushOutcome(status: .failed, digest: nil, endpoint: outcome.endpoint,
                                         error: PushFailure.state(String(describing: error)).description, counts: outcome.counts)
                sink.emit(.pushEnd(job.target, failed))
                return failed
            }
        }
        var target = job.target
        target.host = outcome.endpoint.map { EndpointChoice(url: $0, isHTTPTwin: false).host } ?? job.endpoints.first?.host ?? target.host
        sink.emit(.pushEnd(target, outcome))
        return outcome
    }

    struct EndpointResult {
        var endpoint: String
        var tags: [CompletedPush.Tag]
        var counts: BlobCounts
    }

    /// Everything a push does at one endpoint.
    private func push(_ job: PushJob, via destination: any PushDestination, endpoint: EndpointChoice, target: PushTarget) throws(StepFailure) -> EndpointResult {
        let repository = job.target.repository
        let root = job.image.root
        let step = StepRunner(destination: destination, cancellation: cancellation)

        // 1. Tags whose last push by pushctl put this very digest, and which still hold it, are
        //    unchanged: one HEAD per tag, nothing else (the "rerun does almost nothing" promise).
        var tags: [CompletedPush.Tag] = []
        for tag in job.target.tags {
            let last = try step.run(.state("reading the last push of \(tag)")) { try state.lastPushedDigest(registry: job.registryKey, repository: repository, tag: tag) }
            let unchanged = try last == root.digest
                && step.run(.manifest(reference: tag, error: "")) { try destination.manifestDigest(repository: repository, reference: tag) } == root.digest
            if unchanged {
                tags.append(.init(name: tag, status: .unchanged))
            } else {
                tags.append(.init(name: tag, status: .pushed))
            }
        }
        if tags.contains(where: { $0.status == .unchanged }) { confirmTLS(endpoint) }
        guard tags.contains(where: { $0.status == .pushed }) else {
            return EndpointResult(endpoint: endpoint.url, tags: tags, counts: BlobCounts())
        }

        // Lazily read sources (`docker://`) are read only now that a tag needs pushing.
        var job = job
        if let load = job.image.loadContent {
            do {
                job.image = try load()
            } catch {
                throw StepFailure(.manifest(reference: job.image.description, error: String(describing: error)), kind: .other)
            }
        }

        // 2. The endpoint must pass the `/v2/` check before anything is written to it.
        try step.run(.request("")) { try destination.ping() }
        confirmTLS(endpoint)

        // 3. Blobs: configs and layers, each present, mounted or uploaded.
        let counts = Mutex(BlobCounts())
        let failures = Mutex<[StepFailure]>([])
        let blobPusher = BlobPusher(job: job, target: target, destination: destination, state: state, sink: sink,
                                    ledger: ledger, cancellation: cancellation)
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

        // 4. Manifests, children first, each by digest; then the root by each tag to be pushed.
        //    Every blob is confirmed present at this point, so no manifest can dangle.
        for (descriptor, bytes) in job.image.manifests {
            try putManifest(step, destination, repository, reference: descriptor.digest.string, descriptor: descriptor, bytes: bytes)
        }
        let rootBytes = job.image.manifests.last { $0.descriptor.digest == root.digest }?.bytes ?? []
        for tag in tags where tag.status == .pushed {
            try putManifest(step, destination, repository, reference: tag.name, descriptor: root, bytes: rootBytes)
            sink.emit(.manifest(target, tag: tag.name, digest: root.digest, size: root.size))
        }
        return EndpointResult(endpoint: endpoint.url, tags: tags, counts: counts.withLock { $0 })
    }

    private func putManifest(_ step: StepRunner, _ destination: any PushDestination, _ repository: String,
                             reference: String, descriptor: Descriptor, bytes: [UInt8]) throws(StepFailure) {
        let reported = try step.run(.manifest(reference: reference, error: "")) {
            try destination.putManifest(repository: repository, reference: reference, bytes: bytes, mediaType: descriptor.mediaType)
        }
        guard reported == descriptor.digest else {
            throw StepFailure(.digestMismatch(reference: reference, expected: descriptor.digest, reported: reported), kind: .registryAnswer)
        }
    }

    private func confirmTLS(_ endpoint: EndpointChoice) {
        guard endpoint.url.hasPrefix("https://") else { return }
        _ = confirmedTLS.withLock { $0.insert(endpoint.host) }
    }
}

/// A failure of one step of a push, with what it means for endpoint fallback.
struct StepFailure: Error {
    var failure: PushFailure
    var kind: FailureKind
    var counts = BlobCounts()

    init(_ failure: PushFailure, kind: FailureKind) {
        self.failure = failure
        self.kind = kind
    }
}

/// Runs one request-like step, turning its error into a `StepFailure` that names the step.
struct StepRunner {
    let destination: any PushDestination
    let cancellation: CancellationFlag

    func run<T>(_ what: PushFailure, _ body: () throws -> T) throws(StepFailure) -> T {
        if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .other) }
        do {
            return try body()
        } catch {
            if cancellation.isCancelled { throw StepFailure(.cancelled, kind: .other) }
            let message = String(describing: error)
            let named: PushFailure = switch what {
            case .blob(let digest, _): .blob(digest: digest, error: message)
            case .manifest(let reference, _): .manifest(reference: reference, error: message)
            case .state(let doing): .state("\(doing): \(message)")
            case .request: .request(message)
            default: what
            }
            let kind: FailureKind = if case .state = what { .other } else { destination.classify(error) }
            throw StepFailure(named, kind: kind)
        }
    }
}
