import Curl
import Foundation
import JobFile
import OCI
import Registry
import State

/// `pushctl verify` (docs/cli.md "verify"): for every tag pushctl last pushed for the jobs, one
/// `HEAD` on the registry; a tag that now points elsewhere or is gone is drift. The check is
/// recorded as a run of kind `verify`, with its findings.
public struct VerifyRun {
    /// The verdict for one tag.
    public struct Check: Encodable, Sendable {
        /// `notInJob`: the push went to a registry the job no longer targets (removed, or its `url`
        /// now names another host), so this job's registries cannot speak for it.
        public enum Status: String, Encodable, Sendable { case ok, changed, gone, error, notInJob = "not-in-job" }
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
        public var drift: Bool { checks.contains { $0.status == .changed || $0.status == .gone } }
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
        for job in jobs {
            for record in try ledger.lastSuccessfulPushes(job: job.name) {
                checks.append(check(record, of: job, registries: registries))
            }
        }
        let report = Report(checks: checks)
        record(report, jobs: jobs)
        return report
    }

    private func check(_ record: PushRecord, of job: Job, registries: RunRegistries) -> Check {
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
