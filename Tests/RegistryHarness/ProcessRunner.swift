import Foundation

/// What a program run to completion printed, and how it exited.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

public enum ProcessRunnerError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self {
        case .missing(let path): "required tool not found or not executable: \(path) (build pushctl / install the Debian package)"
        }
    }
}

/// The one process runner of the test suites: runs a program to completion with its output
/// captured in temporary files (no pipe-buffer stalls, however much it prints) and `stdin` fed
/// from a file. `environment` replaces the child's environment when given; `addingEnvironment`
/// is merged into this process's own.
public func runProcess(
    _ executable: String, _ arguments: [String], stdin: String? = nil,
    environment: [String: String]? = nil, addingEnvironment: [String: String] = [:],
    directory: String? = nil
) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: executable) else { throw ProcessRunnerError.missing(executable) }
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("pushctl-process-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let out = tmp.appendingPathComponent("out"), err = tmp.appendingPathComponent("err"), input = tmp.appendingPathComponent("in")
    try Data().write(to: out)
    try Data().write(to: err)
    try Data((stdin ?? "").utf8).write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var childEnvironment = environment ?? ProcessInfo.processInfo.environment
    childEnvironment.merge(addingEnvironment) { $1 }
    if environment != nil || !addingEnvironment.isEmpty { process.environment = childEnvironment }
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = try FileHandle(forReadingFrom: input)
    try process.run()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}
