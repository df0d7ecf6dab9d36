import ArgumentParser
import Curl
import Foundation
import ImageSource
import JobFile
import Planner
import PushOutput
import Pusher
import Registry
import State

/// `pushctl apply FILE...`: executes the plans, pushes what is needed, records everything in the
/// state database (cli.md "Commands", "Exit codes", "Output").
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push what the job files say, and record it in the state database.",
        discussion: """
            Exit codes: 0 success (also when nothing needed pushing), 1 at least one push failed,
            2 invalid input, 3 another apply holds the state database's lock, 130 interrupted.
            """)

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case auto, tty, plain, text, json
    }

    @Option(name: .long, help: "auto (tty on a terminal, plain otherwise), tty, plain (or text), or json (NDJSON events).")
    var output: Output = .auto

    @Flag(name: [.short, .long], help: "Print only errors and the summary.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("State database path.", valueName: "path"))
    var state: String?

    @Option(name: .long, help: "Blob transfers at once within one image push (overrides the job's defaults).")
    var concurrency: Int?

    @Option(name: .long, help: "Image pushes at once (overrides the job's defaults).")
    var images: Int?

    @Option(name: .long, help: "Attempts per request for retryable failures (overrides the job's defaults).")
    var retries: Int?

    @Option(name: .long, help: ArgumentHelp("Push only the plan items of shard I of N (0-based I).", valueName: "I/N"))
    var shard: String?

    @Argument(help: "Job files to apply.", completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
        if let concurrency, !Defaults.concurrencyRange.contains(concurrency) { throw ValidationError("--concurrency must be in 1...64") }
        if let images, !Defaults.imagesRange.contains(images) { throw ValidationError("--images must be in 1...32") }
        if let retries, !Defaults.retriesRange.contains(retries) { throw ValidationError("--retries must be in 1...20") }
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let (jobs, failed) = JobLoading.loadAll(files)
        if !failed.isEmpty { throw PushctlExit.invalidInput }
        let shard = try self.shard.map { try Shard(parsing: $0) }
        // Items with a tag selector are sharded per selected tag during preparation instead.
        let work = jobs.map { job in
            (job: job, items: Planner.plan(job).items.filter { item in
                if case .selector = item.tags { return true }
                return shard.map { item.inShard($0.index, of: $0.count) } ?? true
            })
        }

        // The lock first: a second apply must fail at once (exit 3), before reading any source.
        let statePath = state ?? StateStore.defaultPath(environment: environment)
        let store: StateStore
        let lock: StateLock
        do {
            store = try StateStore.open(path: statePath)
            lock = try store.acquireApplyLock()
        } catch {
            throw CommandFailure(error).reported()
        }
        defer { lock.release() }
        if let previous = lock.tookOverFrom {
            StandardError.write("note: took over the lock of pid \(previous.pid) on \(previous.host), which is no longer running")
        }

        let compression = SourceOptions()
        let settings = "gzip-\(compression.gzipLevel)"
        var sourceOptions = compression
        sourceOptions.knownCompression = { diffID in try? store.compressedDigest(forDiffID: diffID, settings: settings) }
        let cancellation = CancellationFlag()
        let rateLimits = SourceRateLimits(store: store, cancellation: cancellation)
        try rateLimits.checkRemembered(work)
        let prepared = RunPreparation.prepare(
            work, concurrencyOverride: concurrency, state: store, sourceOptions: sourceOptions, environment: environment,
            registrySources: RegistrySourceSettings(retries: retries ?? jobs.map(\.defaults.retries).max() ?? 5,
                                                    cancellation: cancellation, rateLimits: rateLimits.book, shard: shard))
        if !prepared.failures.isEmpty {
            // Nothing is pushed when any source cannot be read: every problem is reported at once.
            rateLimits.save()
            for failure in prepared.failures { StandardError.write("error: \(failure.error)") }
            throw PushctlExit.invalidInput
        }
        try rateLimits.check(prepared)

        let sink = makeSink()
        let started = Date()
        var runIDs: [String: RunID] = [:]
        do {
            for job in jobs where runIDs[job.name] == nil {
                runIDs[job.name] = try store.beginRun(job: job.name, file: job.filePath, fileDigest: job.fileDigest,
                                                      kind: .apply, pushctlVersion: PushctlVersion.current, started: started)
            }
        } catch {
            throw CommandFailure(error).reported()
        }
        let firstRun = runIDs.values.min()?.rawValue ?? 0
        sink.emit(.runStart(RunInfo(runID: firstRun, jobs: jobs.map(\.name), items: prepared.jobs.count, startedAt: started)))

        let interrupts = InterruptHandler(cancellation: cancellation) { number in
            StandardError.write("\n\(number == SIGINT ? "interrupt" : "terminated"): stopping; finished pushes stay recorded (again to quit at once)")
        }
        let recorder = RunRecorder(store: store, runIDs: runIDs)
        let retriesByJob = Dictionary(jobs.map { ($0.name, retries ?? $0.defaults.retries) }, uniquingKeysWith: { a, _ in a })
        let executor = Executor(state: recorder, destinations: { endpoint, job, onRetry in
            let access = prepared.access[RunPreparation.accessKey(job: job.target.job, registry: job.target.registry)]!
            let planned = prepared.endpoints[job.target.itemID]?.first { $0.url == endpoint.url }
                ?? Endpoint(url: RegistryURL(scheme: endpoint.url.hasPrefix("https") ? .https : .http, host: endpoint.host),
                            onlyIfTLSHandshakeFails: endpoint.isHTTPTwin, skipTLSVerify: false, isMirror: false)
            var policy = RetryPolicy(attempts: retriesByJob[job.target.job] ?? 5) { event in
                onRetry(event.operation, event.delaySeconds, event.attempt)
            }
            // An endpoint that cannot be reached is abandoned at once for the next one
            // (jobfile-v1.md "Endpoint fallback order"); only the last one retries connecting.
            // http twins do not count: they are tried only after a failed TLS handshake.
            let rest = job.endpoints.drop { $0.url != endpoint.url || $0.isHTTPTwin != endpoint.isHTTPTwin }.dropFirst()
            policy.retriesConnectFailures = !rest.contains { !$0.isHTTPTwin }
            return RegistryDestination(client: access.client(for: planned, retryPolicy: policy, cancellation: cancellation))
        }, sink: sink, cancellation: cancellation)

        let imagesAtOnce = images ?? jobs.map(\.defaults.images).max() ?? 2
        let outcomes = executor.run(prepared.jobs, images: imagesAtOnce)
        interrupts.stop()
        rateLimits.save()

        // Docker-archive layers compressed for this run: remember diffID → digest for the next one.
        for loaded in prepared.sources.values {
            for blob in loaded.graph.blobs {
                guard let diffID = loaded.graph.diffIDs[blob.digest], diffID != blob.digest else { continue }
                try? store.recordDiffID(diffID, compressed: blob, settings: settings)
            }
        }

        var summary = RunSummary(runID: firstRun)
        for outcome in outcomes {
            switch outcome.status {
            case .pushed: summary.pushed += 1
            case .unchanged: summary.unchanged += 1
            case .failed: summary.failed += 1
            }
            summary.blobs = summary.blobs + outcome.counts
        }
        summary.interrupted = cancellation.isCancelled
        summary.duration = Date().timeIntervalSince(started)
        summary.exitCode = summary.interrupted ? 130 : summary.failed > 0 ? 1 : 0
        let status: RunStatus = summary.interrupted ? .interrupted : summary.failed > 0 ? .failed : .ok
        for id in runIDs.values {
            do { try store.finishRun(id, status: status, exitCode: summary.exitCode) } catch {
                StandardError.write("error: recording the end of run \(id): \(error)")
            }
        }
        sink.emit(.runEnd(summary))
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    private func makeSink() -> any PushEventSink {
        switch output {
        case .json: JSONRenderer()
        case .plain, .text: PlainRenderer(quiet: quiet)
        case .tty: TTYRenderer(quiet: quiet)
        case .auto: isatty(STDOUT_FILENO) == 1 ? TTYRenderer(quiet: quiet) : PlainRenderer(quiet: quiet)
        }
    }
}

/// Records pushes under the run of their job.
struct RunRecorder: PushState {
    let store: StateStore
    let runIDs: [String: RunID]

    private func recorder(_ job: String) -> StatePushRecorder {
        StatePushRecorder(store: store, runID: runIDs[job] ?? runIDs.values.min()!)
    }

    func lastPushedDigest(registry: String, repository: String, tag: String) throws -> OCI.Digest? {
        try store.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
    }
    func isBlobKnown(registry: String, repository: String, digest: OCI.Digest) throws -> Bool {
        try store.isBlobKnown(registryHost: registry, repository: repository, digest: digest)
    }
    func recordBlob(registry: String, repository: String, digest: OCI.Digest, identity: String) throws {
        try store.recordBlob(registryHost: registry, repository: repository, digest: digest, identity: identity)
    }
    func removeBlob(registry: String, repository: String, digest: OCI.Digest) throws {
        try store.removeBlob(registryHost: registry, repository: repository, digest: digest)
    }
    func mountCandidates(registry: String, digest: OCI.Digest, targetRepository: String, identity: String, limit: Int) throws -> [String] {
        try store.mountCandidates(registryHost: registry, digest: digest, targetRepository: targetRepository, identity: identity, limit: limit)
    }
    func recordPush(_ record: CompletedPush) throws {
        try recorder(record.target.job).recordPush(record)
    }
}

import OCI
