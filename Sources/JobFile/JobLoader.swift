import Foundation
import OCI
import YAML

/// Loads job files: reads the bytes, parses YAML, decodes and checks every rule of
/// docs/jobfile.md, and reports every problem with its location.
public enum JobLoader {
    /// Loads the job file at `path`. `environment` supplies `${VAR}` values (pass
    /// `ProcessInfo.processInfo.environment` in the CLI, a literal dictionary in tests).
    public static func load(path: String, environment: [String: String]) -> Result<Job, JobFileErrors> {
        // Read one byte past the limit at most: a huge file is reported, not loaded.
        guard let bytes = YAMLParser.readFile(path, limit: YAMLParser.Limits().maxBytes) else {
            let reason = String(cString: strerror(errno))
            return .failure(
                JobFileErrors(problems: [
                    JobFileProblem(
                        location: Location(file: path, line: 1, column: 1),
                        message: "cannot read job file: \(reason)")
                ]))
        }
        return load(bytes: bytes, path: path, environment: environment)
    }

    /// Loads a job from bytes already read; `path` names the file in messages and anchors relative paths.
    public static func load(bytes: [UInt8], path: String, environment: [String: String]) -> Result<Job, JobFileErrors> {
        let start = Location(file: path, line: 1, column: 1)
        // Before the UTF-8 check: a file cut off at the limit may end inside a character.
        let limit = YAMLParser.Limits().maxBytes
        if bytes.count > limit {
            let error = YAMLError.tooLarge(file: path, size: bytes.count, limit: limit)
            return .failure(JobFileErrors(problems: [JobFileProblem(location: error.location, message: error.message)]))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(JobFileErrors(problems: [JobFileProblem(location: start, message: "the job file is not valid UTF-8")]))
        }
        let root: Node?
        do {
            root = try YAMLParser.parse(text, file: path)
        } catch {
            return .failure(JobFileErrors(problems: [JobFileProblem(location: error.location, message: error.message)]))
        }
        guard let root else {
            return .failure(JobFileErrors(problems: [JobFileProblem(location: start, message: "the job file is empty")]))
        }
        var decoder = JobDecoder(
            context: DecodingContext(environment: environment),
            directory: absoluteDirectory(of: path))
        let decoded = decoder.decode(root)
        guard decoder.context.problems.isEmpty, var job = decoded else {
            return .failure(JobFileErrors(problems: decoder.context.problems))
        }
        job.filePath = path
        job.fileDigest = Digest.of(bytes)
        return .success(job)
    }

    /// The absolute directory holding `path` (relative paths are taken from the working directory).
    static func absoluteDirectory(of path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let resolved = SourceSpec.resolve(absolute, in: "/")
        guard let slash = resolved.lastIndex(of: "/"), slash != resolved.startIndex else { return "/" }
        return String(resolved[..<slash])
    }
}
