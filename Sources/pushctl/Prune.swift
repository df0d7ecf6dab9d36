import ArgumentParser
import Foundation
import JobFile
import Run
import State

/// `pushctl prune JOB... [--confirm]` (README "Pruning"): tags pushctl pushed into the jobs' target
/// repositories that the jobs no longer select, and that still hold what pushctl pushed. Listed
/// without `--confirm`; deleted (by digest, when no other tag shares it) and recorded with it.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        _superCommandName: Pushctl.name,
        abstract: "Delete tags pushctl pushed that the job files no longer select (only with --confirm).",
        discussion: """
            Only tags this state database says pushctl pushed, that still hold that digest (one HEAD
            each), and whose digest no other tag of the repository points at are deleted; moved,
            foreign and shared tags are kept and reported. Without --confirm nothing is deleted.
            Exit codes: 0 ok (also nothing to prune), 1 a deletion failed or a registry could not be
            asked, 2 invalid input, 3 an apply holds the state database's lock.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Delete the tags listed (default: only list them).")
    var confirm = false

    @Argument(
        help: ArgumentHelp("Job files whose target repositories to prune.", valueName: "path"),
        completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let (jobs, failed) = JobLoading.loadAll(files)
        if !failed.isEmpty { throw ExitCode(ExitStatus.invalidInput) }
        // The apply lock: deleting while an apply pushes the same repositories could delete what it just put.
        let (store, lock) = try global.state.openLocked(
            creating: false, scope: ApplyLockScope(jobs: jobs.map(\.name), wholeJobSet: true),
            whenMissing: "pushctl has pushed nothing with it, so there is nothing of its own to prune")
        defer { lock.release() }

        let report: PruneRun.Report
        do {
            report = try PruneRun(store: store, environment: environment) {
                StandardError.write($0)
            }.run(jobs, confirm: confirm)
        } catch {
            switch error {
            case .state(let error): throw CommandFailure(error).reported()
            case .libcurlMissing(let message): throw CommandFailure.libraryMissing(message).reported()
            }
        }

        switch global.output {
        case .json:
            struct Document: Encodable {
                var schema = "pushctl-prune-v1"
                var confirm: Bool
                var exitCode: Int32
                var tags: [PruneRun.Entry]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(
                String(
                    decoding: try encoder.encode(Document(confirm: confirm, exitCode: report.status.rawValue, tags: report.entries)),
                    as: UTF8.self))
        case .text:
            for entry in report.entries {
                let target = "\(entry.host)/\(entry.repository):\(entry.tag)"
                let label = entry.action.rawValue.uppercased().padding(toLength: 13, withPad: " ", startingAt: 0)
                print("\(label)\(target) \(entry.recorded ?? "")\(entry.message.map { "  (\($0))" } ?? "")")
            }
            let counts = Dictionary(grouping: report.entries, by: \.action).mapValues(\.count)
            let done = confirm ? "\(counts[.deleted] ?? 0) deleted" : "\(counts[.wouldDelete] ?? 0) to delete (run again with --confirm)"
            let kept = (counts[.moved] ?? 0) + (counts[.shared] ?? 0) + (counts[.foreign] ?? 0) + (counts[.undecided] ?? 0)
            print("Prune: \(done), \(kept) kept, \(counts[.gone] ?? 0) already gone, \(counts[.failed] ?? 0) failed")
        }
        if report.status != .success { throw ExitCode(report.status) }
    }
}
