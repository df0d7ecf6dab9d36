import Curl
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
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
}

/// How a run that could not go on ended before its pushes (the run is recorded all the same).
public enum ApplyStop: Error, Equatable, CustomStringConvertible {
    /// A source registry's rate limit leaves too little for this run (exit 1).
    case rateLimited(String)
    /// `apply --plan`: a source digest or a selected tag set moved since the plan (exit 2).
    case planMoved(SavedPlanError)
    case interrupted

    public var description: String {
        switch self {
        case .rateLimited(let message): message
        case .planMoved(let error): error.description
        case .interrupted: "interrupted"
        }
    }

    var exitCode: Int32 {
        switch self {
        case .rateLimited: 1
        case .planMoved: 2
        case .interrupted: 130
        }
    }

    public static func == (a: ApplyStop, b: ApplyStop) -> Bool { a.description == b.description }
}

/// One `apply`: everything between the validated jobs and the rendered events (docs/run.md).
///
/// The caller holds the state database's lock. The run is recorded first, so every run — one
/// that fails before its first push too — has its row with status, exit code and error; then
/// preparation (an item whose source cannot be read fails on its own), the rate-limit gate, the
/// executor, and the end of the run.
public struct ApplyRun {
    public let store: any Ledger
    public let sink: any PushEventSink
    public let cancellation: CancellationFlag
    /// Says what the user should know that is not an event (fallbacks, waits, lock notes).
    public let notice: @Sendable (String) -> Void

    public init(store: any Ledger, sink: any PushEventSink, cancellation: CancellationFlag, notice: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.sink = sink
        self.cancellation = cancellation
        self.notice = notice
    }

    /// Runs the request; returns the summary (its exit code says how it went).
    public func run(_ request: ApplyRequest) throws(StateError) -> RunSummary {
        let started = Date()
        var runIDs: [String: RunID] = [:]
        for job in request.jobs where runIDs[job.name] == nil {
            runIDs[job.name] = try store.beginRun(
                job: job.name, file: job.filePath, fileDigest: job.fileDigest,
                kind: .apply, pushctlVersion: PushctlVersion.current, started: started)
        }
        let firstRun = runIDs.values.min()?.rawValue ?? 0
        var summary = RunSummary(runID: firstRun)
        do {
            summary = try execute(request, runIDs: runIDs, started: started)
        } catch {
            summary.exitCode = error.exitCode
            summary.interrupted = error == .interrupted
            summary.error = error.description
            // Why the run stopped before its pushes, said by the renderer (stderr, or an `error`
            // event in json output) before the summary.
            if error != .interrupted { sink.emit(.error(message: error.description, exitCode: error.exitCode)) }
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

        let rateLimits = SourceRateLimitCheck(store: store, cancellation: cancellation, notice: notice)
        try rateLimits.checkRemembered(request.work)
        let registries = RunRegistries(
            environment: request.environment, cancellation: cancellation, retries: request.retries,
            rateLimits: rateLimits.book
        ) { [notice] fallback in notice("note: \(fallback)") }
        let prepared = RunPreparation.prepare(
            request.work, registries: registries, concurrencyOverride: request.concurrency,
            state: store, sourceOptions: sourceOptions, shard: request.shard)
        // An interrupt during preparation (reading sources, tag lists, tokens) ends the run as
        // interrupted, not as items whose sources "failed".
        if cancellation.isCancelled { throw .interrupted }
        if let (plan, path) = request.savedPlan {
            // Executes exactly the saved plan: anything that moved stops the run before a push.
            var problems = plan.drift(pushes: prepared.pushes, failedItems: Set(prepared.failures.map(\.item.id)))
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
                    items: pushes.count + prepared.failures.count, startedAt: started)))
        let recorder = LedgerPushState(ledger: store, runIDs: runIDs)
        let executor = Executor(state: recorder, sink: sink, cancellation: cancellation)
        // Items whose source could not be read or reached fail on their own; the others go on.
        var outcomes = prepared.failures.map { failure in
            executor.fail(failure.failed.target, registryKey: failure.failed.registryKey, error: failure.failed.error.description)
        }
        let imagesAtOnce = request.images ?? request.jobs.map(\.defaults.images).max() ?? 2
        outcomes += executor.run(pushes, images: imagesAtOnce)
        rateLimits.save()

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
        summary.interrupted = cancellation.isCancelled
        summary.exitCode = summary.interrupted ? 130 : summary.failed > 0 ? 1 : 0
        if summary.failed > 0 { summary.error = "\(summary.failed) push\(summary.failed == 1 ? "" : "es") failed" }
        return summary
    }
}
