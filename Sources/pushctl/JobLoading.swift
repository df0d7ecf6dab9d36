import Foundation
import JobFile

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
}
