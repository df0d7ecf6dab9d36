import Threading
import Curl
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import Signing
import State

/// What `pushctl apply` was asked to do.
public struct ApplyRequest: Sendable {
    public var jobs: [Job]
    /// The plan items to apply, per job (already narrowed by `--shard` and `--only`; items with a
    /// tag selector are sharded per selected tag during preparation, by `shard`).
    public var work: [(job: Job, items: [PlanItem])]
    public var shard: Shard?
    public var concurrency: Int?
    public var images: Int?
    public var retries: Int?
    public var environment: [String: String]
    /// `apply --plan`: the saved plan to execute exactly, and where it was read from.
    public var savedPlan: (plan: SavedPlan, path: String)?
    /// The kind the runs are recorded with: `apply`, or `event`/`schedule` when `pushctl serve`
    /// started them (with `work` narrowed to the items an event matched).
    public var kind: RunKind = .apply

    public init(
        jobs: [Job], work: [(job: Job, items: [PlanItem])], shard: Shard?, concurrency: Int?, images: Int?,
        retries: Int?, environment: [String: String]
    ) {
        self.jobs = jobs
        self.work = work
        self.shard = shard
        self.concurrency = concurrency
        self.images = images
        self.retries = retries
        self.environment = environment
    }

    /// The request for `jobs` as `apply` gives them: each job's plan items narrowed by `--only`
    /// (`only`, empty for all) and `--shard`; items with a tag selector are sharded per selected
    /// tag during preparation instead.
    public init(
        jobs: [Job], only: [String], shard: Shard?, concurrency: Int?, images: Int?, retries: Int?,
        environment: [String: String]
    ) {
        let work = jobs.map { job in
            (
                job: job,
                items: Planner.plan(job).items.filter { item in
                    guard item.matches(only: only) else { return false }
                    if case .selector = item.tags { return true }
                    return shard.map { item.inShard($0.index, of: $0.count) } ?? true
                }
            )
        }
        self.init(
            jobs: jobs, work: work, shard: shard, concurrency: concurrency, images: images, retries: retries,
            environment: environment)
    }
}

/// How a run that could not go on ended before its pushes (the run is recorded all the same).
public enum ApplyStop: Error, CustomStringConvertible {
    /// A source registry's rate limit leaves too little for this run (exit 1).
    case rateLimited(String)
    /// `apply --plan`: a source digest or a selected tag set moved since the plan (exit 2).
    case planMoved(SavedPlanError)
    /// A `verify:` or `sign:` key could not be loaded: missing, open to others, wrong passphrase (exit 2).
    case keys(SignatureKeyError)
    /// libcurl cannot be loaded (exit 127): the loader's message.
    case libcurlMissing(String)
    case interrupted

    public var description: String {
        switch self {
        case .rateLimited(let message): message
        case .planMoved(let error): error.description
        case .keys(let error): error.description
        case .libcurlMissing(let message): message
        case .interrupted: "interrupted"
        }
    }

    var status: ExitStatus {
        switch self {
        case .rateLimited: .failed
        case .planMoved, .keys: .invalidInput
        case .libcurlMissing: .libraryMissing
        case .interrupted: .interrupted
        }
    }

    var isInterrupt: Bool {
        if case .interrupted = self { return true }
        return false
    }
}

/// One `apply`: everything between the validated jobs and the rendered events (docs/run.md).
///
/// The caller holds the state database's lock. The run is recorded first, so every run — one
/// that fails before its first push too — has its row with status, exit code and error; then
/// preparation (an item whose source cannot be read fails on its own), the rate-limit gate, the
/// executor, and the end of the run.
public struct ApplyRun {
    /// Runs `body` (an `apply`, from parsing its arguments on) with the work that does not depend
    /// on the jobs started beside it when `condition` holds: loading libcurl and its global
    /// initialisation, on a thread of its own. Returns, or rethrows, only once that work has
    /// ended: the process exits right after, and an exit during libcurl's initialisation runs
    /// OpenSSL's exit-time cleanup under it (a crash).
    ///
    /// The earlier the better: while the loader maps libcurl's libraries it holds the lock a new
    /// thread's TLS needs, so the first thread `apply` starts (its signal handler's, after the
    /// state lock) waits for the load to end.
    public static func warmedUp<Result>(if condition: Bool, _ body: () throws -> Result) rethrows -> Result {
        guard condition else { return try body() }
        CurlTransport.initialiseInBackground()
        defer { CurlTransport.awaitInitialisation() }
        return try body()
    }

    public let store: any Ledger
    public let sink: any PushEventSink
    public let cancellation: CancellationFlag
    /// Says what the user should know that is not an event (fallbacks, waits, lock notes).
    public let notice: @Sendable (String) -> Void

    public init(
        store: any Ledger, sink: any PushEventSink, cancellation: CancellationFlag = CancellationFlag(),
        notice: @escaping @Sendable (String) -> Void
    ) {
        self.store = store
        self.sink = sink
        self.cancellation = cancellation
        self.notice = notice
    }

    /// What an interrupt does (for a signal handler): stops new work and cancels transfers (curl
    /// aborts them, open upload sessions are deleted), so the run ends recorded as interrupted.
    /// It returns false when the run was interrupted already.
    public var interrupt: @Sendable () -> Bool {
        { [cancellation] in
            guard !cancellation.isCancelled else { return false }
            cancellation.cancel()
            return true
        }
    }

    /// Runs the request; returns the summary (its exit code says how it went).
    public func run(_ request: ApplyRequest) throws(StateError) -> RunSummary {
        let started = Date()
        var runIDs: [String: RunID] = [:]
        for job in request.jobs where runIDs[job.name] == nil {
            runIDs[job.name] = try store.beginRun(
                job: job.name, file: job.filePath, fileDigest: job.fileDigest,
                kind: request.kind, pushctlVersion: PushctlVersion.current, started: started)
        }
        let firstRun = runIDs.values.min()?.rawValue ?? 0
        var summary = RunSummary(runID: firstRun)
        do {
            summary = try execute(request, runIDs: runIDs, started: started)
        } catch {
            summary.exitCode = error.status.rawValue
            summary.interrupted = error.isInterrupt
            summary.error = error.description
            // Why the run stopped before its pushes, said by the renderer (stderr, or an `error`
            // event in json output) before the summary.
            if !error.isInterrupt { sink.emit(.error(message: error.description, exitCode: error.status.rawValue)) }
        }
        summary.duration = Date().timeIntervalSince(started)
        let status: RunStatus = summary.interrupted ? .interrupted : summary.exitCode != 0 ? .failed : .ok
        for id in runIDs.values {
            do {
                try store.finishRun(id, status: status, exitCode: summary.exitCode, error: summary.error)
            } catch {
                notice("error: recording the end of run \(id): \(error)")
            }
        }
        sink.emit(.runEnd(summary))
        return summary
    }

    private func execute(_ request: ApplyRequest, runIDs: [String: RunID], started: Date) throws(ApplyStop) -> RunSummary {
        let compression = SourceOptions()
        // The compression settings name the diffID → digest mappings: another level or block size
        // must not reuse digests made the other way.
        let settings = compression.settingsKey
        var sourceOptions = compression
        sourceOptions.knownCompression = { [store] diffID in try? store.compressedDigest(forDiffID: diffID, settings: settings) }

        // Keys first: a wrong passphrase or an unsafe key file stops the run before any read or push.
        var keys = SignatureKeys()
        if SignatureKeys.needed(request.jobs) {
            do throws(SignatureKeyError) {
                keys = try SignatureKeys.load(request.jobs, environment: request.environment)
            } catch {
                throw .keys(error)
            }
        }

        // libcurl is loaded while the jobs are read (`warmedUp`); without it the run ends here,
        // recorded as failed with the loader's message, before any source or registry is asked.
        if let error = CurlTransport.libraryError { throw .libcurlMissing(error) }

        let rateLimits = SourceRateLimitCheck(store: store, cancellation: cancellation, notice: notice)
        try rateLimits.checkRemembered(request.work)
        let registries = RunRegistries(
            environment: request.environment, cancellation: cancellation, retries: request.retries,
            rateLimits: rateLimits.book
        ) { [notice] fallback in notice("note: \(fallback)") }
        // Layers compressed for this run go up as they are ready (docs/run.md "Upload ahead"),
        // except when a saved plan must be checked first: nothing is written before that check.
        let concurrency = request.concurrency ?? request.jobs.map(\.defaults.concurrency).max() ?? 1
        let uploadAhead =
            request.savedPlan == nil ? UploadAhead(cancellation: cancellation, width: concurrency) : nil
        // Whatever happens below, the run ends only once its uploads ahead have.
        defer { uploadAhead?.wait() }
        var prepared = RunPreparation.prepare(
            request.work, registries: registries, concurrencyOverride: request.concurrency,
            state: store, sourceOptions: sourceOptions, shard: request.shard, uploadAhead: uploadAhead)
        // An interrupt during preparation (reading sources, tag lists, tokens) ends the run as
        // interrupted, not as items whose sources "failed".
        if cancellation.isCancelled { throw .interrupted }
        // `verify:`: refused images leave the run here, before the executor sees them.
        let gate = SignatureGate.apply(&prepared, keys: keys, registries: registries)
        if let (plan, path) = request.savedPlan {
            // Executes exactly the saved plan: anything that moved stops the run before a push.
            // The plan was saved after the same gate: its pushes are the accepted ones and the
            // rejected ones (with their verdict).
            let now = prepared.pushes + gate.rejections.map(\.push)
            var problems = plan.drift(pushes: now, failedItems: Set(prepared.failures.map(\.item.id)))
            problems += plan.signatureDrift(pushes: now, seen: gate.seen)
            problems += prepared.failures.map { "\($0.item.source.written): \($0.failed.error)" }
            if !problems.isEmpty { throw .planMoved(.moved(path: path, problems: problems)) }
        }
        try rateLimits.check(prepared)

        let pushes = prepared.pushes
        let firstRun = runIDs.values.min()?.rawValue ?? 0
        sink.emit(
            .runStart(
                RunInfo(
                    runID: firstRun, jobs: request.jobs.map(\.name),
                    items: pushes.count + prepared.failures.count + gate.rejections.count, startedAt: started)))
        var recorder = LedgerPushState(ledger: store, runIDs: runIDs, verdicts: gate.verdicts)
        recorder.group = PushRecordGroup(ledger: store)
        let executor = Executor(state: recorder, sink: sink, cancellation: cancellation, uploadAhead: uploadAhead)
        // Items whose source could not be read or reached fail on their own; the others go on.
        var outcomes = prepared.failures.map { failure in
            executor.fail(failure.failed.target, registryKey: failure.failed.registryKey, error: failure.failed.error.description)
        }
        let imagesAtOnce = request.images ?? request.jobs.map(\.defaults.images).max() ?? 2
        outcomes += gate.rejections.map { reject($0, runIDs: runIDs) }
        let pushed = executor.run(pushes, images: imagesAtOnce)
        outcomes += pushed
        rateLimits.save()
        // `sign:`: each image pushed (or already there) gets its signature at the target.
        var byKey: [String: PushOutcome] = [:]
        for (push, outcome) in zip(pushes, pushed) { byKey[push.target.pushKey] = outcome }
        // Pushes whose signing failed, by the status the executor gave them.
        var signingFailures: [PushOutcome.Status] = []
        for signing in gate.signings {
            guard let outcome = byKey[signing.push.target.pushKey], outcome.status == .pushed || outcome.status == .unchanged,
                !cancellation.isCancelled
            else { continue }
            if !sign(signing, keys: keys, runIDs: runIDs) { signingFailures.append(outcome.status) }
        }

        // Docker-archive layers compressed for this run: remember diffID → digest for the next one.
        for loaded in prepared.localSources {
            for blob in loaded.graph.blobs {
                guard let diffID = loaded.graph.diffIDs[blob.digest], diffID != blob.digest else { continue }
                try? store.recordDiffID(diffID, compressed: blob, settings: settings)
            }
        }
        // Engine images exported in this run: the manifest each became, so that the next run
        // decides them from the engine's metadata alone (docs/image-sources.md "docker-daemon").
        for (id, root) in prepared.engineImages {
            try? store.recordDiffID(id, compressed: root, settings: RunPreparation.engineManifestSettings(compression))
        }

        var summary = RunSummary(runID: firstRun)
        for outcome in outcomes {
            switch outcome.status {
            case .pushed: summary.pushed += 1
            case .unchanged: summary.unchanged += 1
            case .failed: summary.failed += 1
            case .interrupted: summary.interruptedPushes += 1
            }
            summary.blobs = summary.blobs + outcome.counts
        }
        // A push whose signing failed counts as failed (its rows say so too).
        for status in signingFailures {
            summary.failed += 1
            if status == .pushed { summary.pushed -= 1 } else { summary.unchanged -= 1 }
        }
        summary.interrupted = cancellation.isCancelled
        summary.exitCode = (summary.interrupted ? ExitStatus.interrupted : summary.failed > 0 ? .failed : .success).rawValue
        if summary.failed > 0 { summary.error = "\(summary.failed) push\(summary.failed == 1 ? "" : "es") failed" }
        return summary
    }

    /// Records and reports an image its `verify:` policy refused: rows with status `rejected`
    /// (one per tag), a failed push in the output, exit 1.
    private func reject(_ rejection: SignatureGate.Rejection, runIDs: [String: RunID]) -> PushOutcome {
        let now = Date()
        let push = rejection.push
        let error = "rejected: " + rejection.verdict.text
        sink.emit(.pushStart(push.target))
        if let runID = runIDs[push.target.job] ?? runIDs.values.min() {
            let rows = (push.target.tags.isEmpty ? [""] : push.target.tags).map { tag in
                var record = PushRecord(
                    runID: runID, planItemID: push.target.itemID, source: push.target.source, sourceDigest: push.image.root.digest,
                    registryName: push.target.registry, registryHost: push.registryKey, endpoint: "",
                    repository: push.target.repository, tag: tag, pushedDigest: nil, mediaType: push.image.root.mediaType,
                    size: push.image.root.size, status: .rejected, attempts: 0, error: error, started: now, ended: now)
                record.verifiedKeys = rejection.verdict.keyIDs
                record.verdict = rejection.verdict.text
                return record
            }
            do { try store.recordPushes(rows) } catch { notice("error: recording the rejection of \(push.target.source): \(error)") }
        }
        let outcome = PushOutcome(status: .failed, digest: push.image.root.digest, endpoint: nil, error: error, counts: BlobCounts())
        sink.emit(.pushEnd(push.target, outcome))
        return outcome
    }

    /// Signs one pushed image at its target and records what was written; false when it failed.
    private func sign(_ signing: SignatureGate.Signing, keys: SignatureKeys, runIDs: [String: RunID]) -> Bool {
        let push = signing.push
        let digest = push.image.root.digest
        let name = "\(SignatureWriter.identity(of: push))@\(digest)"
        var written: [Digest] = []
        var failure: String?
        if let key = keys.signing[signing.spec.key] {
            do throws(SigningStageError) {
                if let manifest = try SignatureWriter(key: key).sign(push, carrying: signing.carried) {
                    written = [manifest]
                    sink.emit(.notice("signed \(name): \(SignatureManifest.tag(for: digest)) is \(manifest)"))
                }
            } catch {
                failure = "signing \(name): \(error)"
            }
        } else {
            failure = "signing \(name): the key \(signing.spec.key) was not loaded"
        }
        if let failure { sink.emit(.notice("error: " + failure)) }
        if let runID = runIDs[push.target.job] ?? runIDs.values.min(), failure != nil || !written.isEmpty {
            do {
                try store.recordSigning(
                    SigningRecord(
                        runID: runID, planItemID: push.target.itemID, registryHost: push.registryKey,
                        repository: push.target.repository, pushedDigest: digest, signatures: written, error: failure))
            } catch {
                notice("error: recording the signature of \(name): \(error)")
            }
        }
        return failure == nil
    }
}
