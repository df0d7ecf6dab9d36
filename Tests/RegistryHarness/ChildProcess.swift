#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Locking

/// Child processes started by the harness. Each is killed by its owner's `stop()`/deinit; the
/// process-wide list also kills leftovers when the test process exits, so a failing or crashing
/// test never leaves a registry running.
enum ChildProcesses {
    private static let live = LockedValue<Set<Int32>>([])
    private static let installed = LockedValue(false)

    static func register(_ pid: Int32) {
        installAtExit()
        live.withLock { _ = $0.insert(pid) }
    }

    static func unregister(_ pid: Int32) {
        live.withLock { _ = $0.remove(pid) }
    }

    private static func installAtExit() {
        let first = installed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        atexit {
            for pid in ChildProcesses.live.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }

    /// Runs a tool to completion; throws with its stderr when it fails.
    @discardableResult
    static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil,
        environment: [String: String]? = nil
    ) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw HarnessError.missingTool(executable)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError.toolFailed(
                "\(executable) \(arguments.joined(separator: " "))",
                status: process.terminationStatus,
                stderr: String(decoding: errData, as: UTF8.self))
        }
        return String(decoding: outData, as: UTF8.self)
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
