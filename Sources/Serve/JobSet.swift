import Foundation
import JobFile
import Threading
import YAML

/// The jobs `serve` runs: loaded and validated at start, and again on SIGHUP; a reload with any
/// invalid file keeps the jobs loaded before (docs/serve.md "Signals").
final class JobSet: Sendable {
    let paths: [String]
    let environment: [String: String]
    private let current: LockedValue<[Job]>

    /// Loads every file; nil, with every problem, when any is invalid.
    static func load(_ paths: [String], environment: [String: String]) -> Result<[Job], JobFileErrors> {
        var jobs: [Job] = []
        var problems: [JobFileProblem] = []
        for path in paths {
            switch JobLoader.load(path: path, environment: environment) {
            case .success(let job): jobs.append(job)
            case .failure(let errors): problems += errors.problems
            }
        }
        // Two files with one job name would record their runs as one job.
        var seen: [String: String] = [:]
        for job in jobs {
            if let other = seen[job.name] {
                problems.append(
                    JobFileProblem(
                        location: Location(file: job.filePath, line: 1, column: 1),
                        message: "job name '\(job.name)' is also the name of the job in \(other); serve needs distinct names"))
            }
            seen[job.name] = job.filePath
        }
        return problems.isEmpty ? .success(jobs) : .failure(JobFileErrors(problems: problems))
    }

    init(paths: [String], environment: [String: String], jobs: [Job]) {
        self.paths = paths
        self.environment = environment
        current = LockedValue(jobs)
    }

    var jobs: [Job] { current.withLock { $0 } }

    /// Loads the files again: the new jobs when all are valid, else the errors (the old jobs stay).
    func reload() -> Result<[Job], JobFileErrors> {
        let result = Self.load(paths, environment: environment)
        if case .success(let jobs) = result { current.withLock { $0 = jobs } }
        return result
    }

    var schedules: [(name: String, schedule: CronSchedule)] {
        jobs.compactMap { job in job.schedule.map { (job.name, $0) } }
    }
}
