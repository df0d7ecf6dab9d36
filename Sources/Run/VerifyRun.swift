import Threading
import Foundation
import JobFile
import OCI
import Planner
import Registry
import Signing
import State

/// `pushctl verify` (docs/cli.md "verify"): for every tag pushctl last pushed for the jobs, one
/// `HEAD` on the registry; a tag that now points elsewhere or is gone is drift. The check is
/// recorded as a run of kind `verify`, with its findings.
public struct VerifyRun {
    /// The verdict for one tag.
    public struct Check: Encodable, Sendable {
        /// `notInJob`: the push went to a registry the job no longer targets (removed, or its `url`
        /// now names another host), so this job's registries cannot speak for it.
        /// `unsigned`: the tag is in place, but its image's signatures at the target no longer
        /// satisfy the job's `verify:` policy (gone, or not valid): drift too.
        public enum Status: String, Encodable, Sendable { case ok, changed, gone, unsigned, error, notInJob = "not-in-job" }
        public var job: String
        public var registry: String
        public var host: String
        public var repository: String
        public var tag: String
        public var expected: String
        public var current: String?
        public var status: Status
        public var pushedAt: Date
        public var run: Int64
        public var endpoint: String?
        public var error: String?
    }

    public struct Report: Sendable {
        public var checks: [Check]
        public var drift: Bool { checks.contains { $0.status == .changed || $0.status == .gone || $0.status == .unsigned } }
        /// Drift (4) before a registry that could not be asked (1).
        public var status: ExitStatus {
            drift ? .drift : checks.contains { $0.status == .error } ? .failed : .success
        }
    }

    public let ledger: any Ledger
    public let environment: [String: String]
    public let notice: @Sendable (String) -> Void

    public init(ledger: any Ledger, environment: [String: String], notice: @escaping @Sendable (String) -> Void) {
        self.ledger = ledger
        self.environment = environment
        self.notice = notice
    }

    public func run(_ jobs: [Job]) throws(StateError) -> Report {
        let registries = RunRegistries(environment: environment, cancellation: CancellationFlag()) { [notice] in notice("note: \($0)") }
        var checks: [Check] = []
        // `verify:` policies are checked again at the target (public keys only).
        let keys: Result<SignatureKeys, SignatureKeyError>
        do throws(SignatureKeyError) {
            keys = .success(try SignatureKeys.load(jobs, environment: environment, signing: false))
        } catch {
            keys = .failure(error)
        }
        for job in jobs {
            let items = Dictionary(Planner.plan(job).items.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let records = try ledger.lastSuccessfulPushes(job: job.name)
            // One `HEAD` per tag, up to the job's `concurrency` at once (as `apply`'s tag checks);
            // the checks keep the ledger's order.
            let found = LockedValue<[Int: Check]>([:])
            forEachConcurrently(Array(records.enumerated()), width: job.defaults.concurrency) { index, record in
                var check = Self.check(record, of: job, registries: registries)
                // Not the `.sig` tags themselves: they are checked as their image's signatures.
                if check.status == .ok, record.subjectDigest == nil, let item = items[record.planItemID],
                    let entry = job.images.first(where: { $0.index == item.imageIndex }), let policy = job.verify(of: entry),
                    let registry = job.registry(named: record.registryName), let digest = record.pushedDigest
                {
                    Self.checkSignatures(
                        &check, digest: digest, policy: policy, source: item.source.spec, keys: keys, registry: registry, job: job,
                        registries: registries)
                }
                found.withLock { $0[index] = check }
            }
            checks += found.withLock { all in records.indices.map { all[$0]! } }
        }
        let report = Report(checks: checks)
        record(report, jobs: jobs)
        return report
    }

    private static func check(_ record: PushRecord, of job: Job, registries: RunRegistries) -> Check {
        var check = Check(
            job: job.name, registry: record.registryName, host: record.registryHost, repository: record.repository,
            tag: record.tag, expected: record.pushedDigest?.string ?? "", current: nil, status: .error,
            pushedAt: record.ended, run: record.runID.rawValue)
        guard let registry = job.registry(named: record.registryName) else {
            check.status = .notInJob
            check.error = "registry \(record.registryName) is no longer in \(job.filePath)"
            return check
        }
        guard registry.url.hostPort == record.registryHost else {
            check.status = .notInJob
            check.error = "registry \(record.registryName) now has url \(registry.url.string); this push went to \(record.registryHost)"
            return check
        }
        do {
            let connection = try registries.connection(to: registry, of: job)
            let (current, endpoint) = try connection.endpoints.perform { client, _ throws(RegistryError) in
                try client.manifestDescriptor(record.repository, reference: record.tag)?.digest
            }
            // The host actually asked (a mirror when the registry's url could not be reached).
            check.host = endpoint.host
            check.endpoint = endpoint.url
            check.current = current?.string
            check.status = current == nil ? .gone : current == record.pushedDigest ? .ok : .changed
        } catch {
            check.error = "\(error)"
        }
        return check
    }

    /// The target's signatures of `digest` against the job's `verify:` policy (the identity rule
    /// as at the push: `match-source` names the source).
    private static func checkSignatures(
        _ check: inout Check, digest: Digest, policy: VerifySpec, source: SourceSpec, keys loaded: Result<SignatureKeys, SignatureKeyError>,
        registry: JobFile.Registry,
        job: Job, registries: RunRegistries
    ) {
        let tag = SignatureManifest.tag(for: digest)
        let keys: SignatureKeys
        switch loaded {
        case .success(let trusted): keys = trusted
        case .failure(let error):
            check.status = .error
            check.error = "signatures (\(tag)) not checked: \(error)"
            return
        }
        do {
            let connection = try registries.connection(to: registry, of: job)
            let (signatures, _) = try connection.endpoints.perform { client, _ throws(RegistryError) -> SourceSignatures in
                var found = SourceSignatures()
                do throws(RegistryError) {
                    let manifest = try client.getManifest(check.repository, reference: tag)
                    found.manifests = [manifest.digest]
                    for entry in (try? SignatureManifest.entries(manifest.bytes)) ?? [] {
                        found.layers.append(
                            (entry, try RegistrySignatureReader.fetchSmallBlob(client, check.repository, entry.descriptor.digest)))
                    }
                } catch {
                    if !error.isNotFound { throw error }
                }
                return found
            }
            var reference = ImageReference(domain: "", path: "")
            if case .registry(let ref) = source { reference = ref }
            let verdict = SignatureGate.judge(signatures, digest: digest, spec: policy, keys: keys, source: reference)
            if !verdict.satisfied {
                check.status = .unsigned
                check.error = "signatures (\(tag)): " + verdict.text
            }
        } catch {
            check.status = .error
            check.error = "signatures (\(tag)): \(error)"
        }
    }

    /// One verify run per job, with its findings.
    private func record(_ report: Report, jobs: [Job]) {
        let status: RunStatus = report.drift ? .drift : report.status == .failed ? .failed : .verificationOK
        for job in jobs {
            do {
                let run = try ledger.beginRun(
                    job: job.name, file: job.filePath, fileDigest: job.fileDigest, kind: .verify, pushctlVersion: PushctlVersion.current)
                try ledger.recordVerifyChecks(
                    report.checks.filter { $0.job == job.name }.map { check in
                        VerifyCheckRecord(
                            registryName: check.registry, host: check.host, endpoint: check.endpoint,
                            repository: check.repository, tag: check.tag, expected: check.expected,
                            current: check.current, status: check.status.rawValue, error: check.error,
                            pushedInRun: check.run)
                    }, run: run)
                try ledger.finishRun(run, status: status, exitCode: report.status.rawValue)
            } catch {
                notice("error: recording the verification run: \(error)")
            }
        }
    }
}
