import ArgumentParser
import Foundation
import Run
import State

/// `pushctl state …`: whole-ledger operations (docs/cli.md "state copy").
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        _superCommandName: Pushctl.name,
        abstract: "Whole-ledger operations.",
        subcommands: [StateCopyCommand.self])
}

/// `pushctl state copy FROM TO`: copies a ledger between SQLite files and PostgreSQL databases.
struct StateCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole ledger into another (SQLite file or postgres:// URL, either way).",
        discussion: """
            Runs, pushes, verify findings, blob locations, diffID mappings and rate limits of FROM are \
            merged into TO (created when missing) in one transaction. Copying again adds nothing, and \
            several ledgers (one per shard runner) can be copied into one. Exit 2 when FROM is missing \
            or either ledger cannot be opened.
            """)

    @Argument(help: ArgumentHelp("The ledger to copy: a SQLite file or a postgres:// URL.", valueName: "from"))
    var from: String

    @Argument(help: ArgumentHelp("The ledger to copy into: a SQLite file or a postgres:// URL.", valueName: "to"))
    var to: String

    func run() throws {
        try reportingFailures { () throws(CommandFailure) in
            let environment = ProcessInfo.processInfo.environment
            let source = LedgerLocation.resolve(from, environment: environment)
            let target = LedgerLocation.resolve(to, environment: environment)
            let result: LedgerCopy.Result
            do throws(LedgerOpenError) {
                result = try StateCopy.run(from: source, to: target)
            } catch {
                switch error {
                case .missing: throw .invalidInput("\(error) (nothing to copy)")
                case .state(let error): throw CommandFailure(error)
                }
            }
            writeOut(
                "Copied \(source) into \(target): \(result.runsAdded) runs and \(result.pushesAdded) pushes added, "
                    + "\(result.runsUpdated) runs updated, \(result.checksAdded) verify findings, "
                    + "\(result.blobLocations) blob locations, \(result.diffIDMappings) diffID mappings, \(result.rateLimits) rate limits merged.\n"
            )
        }
    }
}
