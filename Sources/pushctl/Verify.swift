import ArgumentParser
import Foundation
import JobFile
import Run
import State

/// `pushctl verify FILE...`: drift check (docs/cli.md "Commands"). For every tag pushctl last pushed for
/// these jobs, one `HEAD` on the registry; tags that now point elsewhere or are gone are drift
/// (exit 4). The check is recorded as a run of kind `verify`.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        _superCommandName: Pushctl.name,
        abstract: "Check that the tags pushctl pushed for these jobs still point to what it pushed.",
        discussion: "Exit codes: 0 no drift, 4 drift found, 1 a registry could not be asked, 2 invalid input.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Job files whose pushes to verify.", valueName: "path"), completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
    }

    func run() throws {
        let (jobs, failed) = JobLoading.loadAll(files)
        if !failed.isEmpty { throw ExitCode(ExitStatus.invalidInput) }
        let report: VerifyRun.Report
        do {
            let ledger = try global.state.openSingle()
            report = try VerifyRun(ledger: ledger, environment: ProcessInfo.processInfo.environment) { StandardError.write($0) }.run(jobs)
        } catch let failure as CommandFailure {
            throw failure.reported()
        } catch let error as StateError {
            throw CommandFailure(error).reported()
        }
        let checks = report.checks
        let drift = report.drift
        let exitCode = report.status.rawValue

        switch global.output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            struct Document: Encodable {
                var schema = "pushctl-verify-v1"
                var drift: Bool
                var exitCode: Int32
                var checks: [VerifyRun.Check]
            }
            print(String(decoding: try encoder.encode(Document(drift: drift, exitCode: exitCode, checks: checks)), as: UTF8.self))
        case .text:
            for check in checks {
                let target = "\(check.host)/\(check.repository):\(check.tag)"
                switch check.status {
                case .ok: print("ok       \(target) \(check.expected)")
                case .changed: print("CHANGED  \(target) pushed \(check.expected), now \(check.current ?? "?")")
                case .gone: print("GONE     \(target) pushed \(check.expected), the tag no longer exists")
                case .unsigned: print("UNSIGNED \(target) \(check.expected): \(check.error ?? "")")
                case .error: print("ERROR    \(target): \(check.error ?? "unknown error")")
                case .notInJob: print("ELSEWHERE \(target): not checked: \(check.error ?? "")")
                }
            }
            let counts = Dictionary(grouping: checks, by: \.status).mapValues(\.count)
            print(
                "Verified \(checks.count) tag\(checks.count == 1 ? "" : "s"): \(counts[.ok] ?? 0) ok, \(counts[.changed] ?? 0) changed, \(counts[.gone] ?? 0) gone, \((counts[.unsigned] ?? 0) > 0 ? "\(counts[.unsigned] ?? 0) unsigned, " : "")\((counts[.error] ?? 0) + (counts[.notInJob] ?? 0)) not checked"
            )
        }
        if report.status != .success { throw ExitCode(report.status) }
    }
}
