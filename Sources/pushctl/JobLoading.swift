import Foundation
import JobFile
import State

/// Loads the job files named on the command line, printing every problem of every file to stderr as
/// `FILE:LINE:COLUMN: error: MESSAGE`. Returns the jobs only when all files are valid.
enum JobLoading {
    static func loadAll(_ paths: [String]) -> (jobs: [Job], failed: [String]) {
        let (jobs, failed, _) = loadAllWithProblems(paths)
        return (jobs, failed)
    }

    /// As `loadAll`, also returning the problems' text (for machine-readable error events).
    static func loadAllWithProblems(_ paths: [String]) -> (jobs: [Job], failed: [String], problems: [String]) {
        var problems: [String] = []
        let environment = ProcessInfo.processInfo.environment
        var jobs: [Job] = []
        var failed: [String] = []
        for path in paths {
            switch JobLoader.load(path: path, environment: environment) {
            case .success(let job):
                jobs.append(job)
            case .failure(let errors):
                StandardError.write(errors.description)
                problems.append(errors.description)
                failed.append(path)
            }
        }
        return (jobs, failed, problems)
    }

    /// The job files (exit 2 when any is invalid) and the existing state database of a command
    /// that reads what was pushed (`verify`, `prune`): a missing database is exit 2 with `why`.
    static func jobsAndExistingState(_ files: [String], statePath: String, whenMissing why: String) throws -> ([Job], StateStore) {
        let (jobs, failed) = loadAll(files)
        if !failed.isEmpty { throw PushctlExit.invalidInput }
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw CommandFailure.invalidInput("no state database at \(statePath) (\(why))").reported()
        }
        do { return (jobs, try StateStore.open(path: statePath)) } catch { throw CommandFailure(error).reported() }
    }
}
