import Foundation

/// What a program run to completion printed, and how it exited.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Standard output as bytes, exactly as written (`stdout` is its UTF-8 reading).
    public var stdoutBytes: [UInt8]

    public init(status: Int32, stdout: String, stderr: String, stdoutBytes: [UInt8]? = nil) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutBytes = stdoutBytes ?? Array(stdout.utf8)
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
    let tmp = try Scratch(prefix: "pushctl-process")
    let out = tmp.sub("out"), err = tmp.sub("err"), input = tmp.sub("in")
    _ = try tmp.write("out", "")
    _ = try tmp.write("err", "")
    _ = try tmp.write("in", stdin ?? "")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var childEnvironment = environment ?? ProcessInfo.processInfo.environment
    childEnvironment.merge(addingEnvironment) { $1 }
    if environment != nil || !addingEnvironment.isEmpty { process.environment = childEnvironment }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
    try process.run()
    process.waitUntilExit()
    let outBytes = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))) ?? []
    return withExtendedLifetime(tmp) {
        ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: outBytes, as: UTF8.self),
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "",
            stdoutBytes: outBytes)
    }
}

/// External tools for tests (skopeo, umoci, openssl, htpasswd, sqlite3…), found in the usual
/// Debian places.
public enum TestTools {
    /// The tool's path, or `HarnessError.missingTool` naming the Debian package's binary.
    public static func path(_ tool: String) throws -> String {
        let candidates = ["/usr/bin/\(tool)", "/bin/\(tool)", "/usr/sbin/\(tool)", "/usr/local/bin/\(tool)"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError.missingTool("/usr/bin/\(tool)")
        }
        return found
    }

    /// Runs a tool to completion and returns its stdout; throws with its stderr when it fails.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil) throws
        -> String
    {
        try runChecked(path(tool), arguments, stdin: stdin, environment: environment)
    }

    /// Runs `executable` (a path) to completion and returns its stdout; throws
    /// `HarnessError.missingTool` when it is not there and `.toolFailed` with its stderr when it fails.
    @discardableResult
    public static func runChecked(
        _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil
    ) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw HarnessError.missingTool(executable) }
        let result = try runProcess(executable, arguments, stdin: stdin, environment: environment)
        guard result.status == 0 else {
            throw HarnessError.toolFailed(
                "\(executable) \(arguments.joined(separator: " "))", status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }
}

public enum HarnessError: Error, CustomStringConvertible {
    case missingTool(String)
    case toolFailed(String, status: Int32, stderr: String)
    case registryDidNotStart(String)

    public var description: String {
        switch self {
        case .missingTool(let path):
            "test tool \(path) is not installed (CI installs docker-registry, apache2-utils and openssl)"
        case .toolFailed(let command, let status, let stderr):
            "\(command) failed with status \(status): \(stderr)"
        case .registryDidNotStart(let why):
            "docker-registry did not start: \(why)"
        }
    }
}
