import ArgumentParser
import Foundation

/// Options shared by the commands that load jobs and print one document: `--output` and the
/// one `--state` (docs/cli.md "Common options").
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var state: StateOption
}

/// `--output` values of the commands that print one document or one line per event.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Writes to standard error (messages for people; standard output stays machine-readable).
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}
