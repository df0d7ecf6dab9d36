import Foundation
import ArgumentParser
import JobFile
import Run

/// `pushctl validate FILE...`: loads and checks job files; no network (docs/cli.md "Commands").
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        _superCommandName: Pushctl.name,
        abstract: "Check job files and report every problem with its file, line and column.",
        discussion: "Prints 'FILE: ok' for each valid file. Exits 2 when any file is invalid.")

    @Argument(
        help: ArgumentHelp("Job files to check." + " (`-` reads one from standard input).", valueName: "path"),
        completion: .file(extensions: ["yaml", "yml"]))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one job file") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var invalid = 0
        for path in files {
            let loaded: Result<Job, JobFileErrors>
            if path == "-" {
                // Named as if it sat in the current folder, so relative source paths resolve there.
                let bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
                loaded = JobLoader.load(bytes: bytes, path: FileManager.default.currentDirectoryPath + "/<stdin>", environment: environment)
            } else {
                loaded = JobLoader.load(path: path, environment: environment)
            }
            switch loaded {
            case .success:
                print("\(path): ok")
            case .failure(let errors):
                StandardError.write(errors.description)
                invalid += 1
            }
        }
        if invalid > 0 {
            StandardError.write("\(invalid) of \(files.count) job file\(files.count == 1 ? "" : "s") invalid")
            throw ExitCode(ExitStatus.invalidInput)
        }
    }
}
