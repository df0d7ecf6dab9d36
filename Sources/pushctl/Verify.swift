import ArgumentParser
import Foundation
import JobFile
import OCI
import Planner
import Pusher
import Registry
import Run
import Curl
import State

/// `pushctl verify FILE...`: drift check (docs/cli.md "Commands"). For every tag pushctl last pushed for
/// these jobs, one `HEAD` on the registry; tags that now point elsewhere or are gone are drift
/// (exit 4). The check is recorded as a run of kind `verify`.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the tags pushctl pushed for these jobs still point to what it pushed.",
        discussion: "Exit codes: 0 no drift, 4 drift found, 1 a registry could not be asked, 2 invalid input.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Job files whose pushes to verify.", valueName: "path"), completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
    }

    /// The verdict for one tag.
    struct Check: Encodable {
        /// `notInJob`: the push went to a registry the job no longer targets (removed, or its `url`
        /// now names another host), so this job's registries cannot speak for it.
        enum Status: String, Encodable { case ok, changed, gone, error, notInJob = "not-in-job" }
        var job: String
        var registry: String
        var host: String
        var repository: String
        var tag: String
        var expected: String
        var current: String?
        var status: Status
        var pushedAt: Date
        var run: Int64
        var endpoint: String?
        var error: String?
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let (jobs, store) = try JobLoading.jobsAndExistingState(
            files, statePath: global.statePath(environment: environment),
            whenMissing: "nothing has been applied with it yet")

        var checks: [Check] = []
        let registries = RunRegistries(environment: environment, cancellation: CancellationFlag()) { notice in
            StandardError.write("note: \(notice)")
        }
        for job in jobs {
            let records: [PushRecord]
            do { records = try store.lastSuccessfulPushes(job: job.name) } catch { throw CommandFailure(error).reported() }
            for record in records {
                var check = Check(
                    job: job.name, registry: record.registryName, host: record.registryHost, repository: record.repository,
                    tag: record.tag, expected: record.pushedDigest?.string ?? "", current: nil, status: .error,
                    pushedAt: record.ended, run: record.runID.rawValue)
                guard let registry = job.registry(named: record.registryName) else {
                    check.status = .notInJob
                    check.error = "registry \(record.registryName) is no longer in \(job.filePath)"
                    checks.append(check)
                    continue
                }
                guard registry.url.hostPort == record.registryHost else {
                    check.status = .notInJob
                    check.error =
                        "registry \(record.registryName) now has url \(registry.url.string); this push went to \(record.registryHost)"
                    checks.append(check)
                    continue
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
                checks.append(check)
            }
        }

        let drift = checks.contains { $0.status == .changed || $0.status == .gone }
        let unreachable = checks.contains { $0.status == .error }
        let exitCode: Int32 = drift ? 4 : unreachable ? 1 : 0
        for job in jobs {
            do {
                let run = try store.beginRun(
                    job: job.name, file: job.filePath, fileDigest: job.fileDigest, kind: .verify,
                    pushctlVersion: PushctlVersion.current)
                try store.recordVerifyChecks(
                    checks.filter { $0.job == job.name }.map { check in
                        VerifyCheckRecord(
                            registryName: check.registry, host: check.host, endpoint: check.endpoint,
                            repository: check.repository, tag: check.tag, expected: check.expected,
                            current: check.current, status: check.status.rawValue, error: check.error,
                            pushedInRun: check.run)
                    }, run: run)
                try store.finishRun(run, status: drift ? .drift : unreachable ? .failed : .verificationOK, exitCode: exitCode)
            } catch {
                StandardError.write("error: recording the verification run: \(error)")
            }
        }

        switch global.output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            struct Document: Encodable {
                var schema = "pushctl-verify-v1"
                var drift: Bool
                var exitCode: Int32
                var checks: [Check]
            }
            print(String(decoding: try encoder.encode(Document(drift: drift, exitCode: exitCode, checks: checks)), as: UTF8.self))
        case .text:
            for check in checks {
                let target = "\(check.host)/\(check.repository):\(check.tag)"
                switch check.status {
                case .ok: print("ok       \(target) \(check.expected)")
                case .changed: print("CHANGED  \(target) pushed \(check.expected), now \(check.current ?? "?")")
                case .gone: print("GONE     \(target) pushed \(check.expected), the tag no longer exists")
                case .error: print("ERROR    \(target): \(check.error ?? "unknown error")")
                case .notInJob: print("ELSEWHERE \(target): not checked: \(check.error ?? "")")
                }
            }
            let counts = Dictionary(grouping: checks, by: \.status).mapValues(\.count)
            print(
                "Verified \(checks.count) tag\(checks.count == 1 ? "" : "s"): \(counts[.ok] ?? 0) ok, \(counts[.changed] ?? 0) changed, \(counts[.gone] ?? 0) gone, \((counts[.error] ?? 0) + (counts[.notInJob] ?? 0)) not checked"
            )
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}
