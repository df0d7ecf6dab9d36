import ArgumentParser
import Foundation
import Run
import State

/// `pushctl prune-history` (docs/state.md "`pushctl prune-history`"): removes old runs and their pushes in one
/// transaction and vacuums; blob locations and diffID mappings are kept (they serve mounts and skips).
struct PruneHistory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune-history",
        _superCommandName: Pushctl.name,
        abstract: "Remove old runs and their pushes from the state database.",
        discussion: """
            --older-than removes runs that started before a duration ago (90d) or a date; --keep-runs N \
            removes all but the newest N runs. With both, a run is kept if either keeps it. Runs still \
            running are never removed. Blob locations and diffID mappings are kept.
            """)

    @OptionGroup var state: StateOption

    @Option(
        name: .customLong("older-than"),
        help: ArgumentHelp("Remove runs older than this (90d, 12w, 2026-01-01).", valueName: "duration|date"))
    var olderThan: String?

    @Option(name: .customLong("keep-runs"), help: ArgumentHelp("Keep only the newest N runs.", valueName: "n"))
    var keepRuns: Int?

    func run() throws {
        try reportingFailures { () throws(CommandFailure) in
            guard olderThan != nil || keepRuns != nil else {
                throw .invalidInput("prune-history needs --older-than DURATION or --keep-runs N")
            }
            var cutoff: Date?
            if let olderThan {
                guard let date = TimeArgument.parse(olderThan) else {
                    throw .invalidInput("invalid --older-than \"\(olderThan)\": expected a duration (90d, 12w) or a date (2026-01-01)")
                }
                cutoff = date
            }
            if let keepRuns, keepRuns < 0 { throw .invalidInput("invalid --keep-runs \(keepRuns): expected 0 or more") }
            let store = try state.openSingle()
            let result: PruneResult
            do throws(StateError) { result = try store.prune(olderThan: cutoff, keepRuns: keepRuns) } catch { throw CommandFailure(error) }
            writeOut(
                "Removed \(result.runsRemoved) run\(result.runsRemoved == 1 ? "" : "s") and \(result.pushesRemoved) push\(result.pushesRemoved == 1 ? "" : "es") from \(store.location); blob locations kept.\n"
            )
        }
    }
}
