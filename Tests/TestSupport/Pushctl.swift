import Foundation

/// The package root, found from this file's path (Tests/TestSupport/Pushctl.swift).
public let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The built pushctl: `$PUSHCTL_BIN` (`scripts/sanitize` sets it), else the one next to the test
/// bundle, else `<package root>/.build/debug/pushctl`. Where none is there, the last candidate
/// (running it then fails naming that path).
public var pushctlBinary: String {
    let candidates = PushctlBinary.candidates
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
}

/// The one pushctl binary locator and its runs with stdin empty.
public enum PushctlBinary {
    public static var packageRoot: String { TestSupport.packageRoot }

    /// Where pushctl may be, in order.
    static var candidates: [String] {
        var candidates = [String]()
        if let env = ProcessInfo.processInfo.environment["PUSHCTL_BIN"], !env.isEmpty { candidates.append(env) }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // The runner is .build/<triple>/debug/pushctlPackageTests.xctest (a file on Linux, a bundle on macOS).
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent("pushctl").path)
        candidates.append(
            runner.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("pushctl").path)
        candidates.append(packageRoot + "/.build/debug/pushctl")
        return candidates
    }

    /// The binary's path; throws naming every place searched when there is none.
    public static func path() throws -> String {
        let candidates = candidates
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BinaryNotFound(searched: candidates)
        }
        return found
    }

    public struct BinaryNotFound: Error, CustomStringConvertible {
        public var searched: [String]
        public var description: String {
            "pushctl binary not found (build it with `swift build`, or set PUSHCTL_BIN); searched: \(searched)"
        }
    }

    public typealias Result = ProcessResult

    /// Runs pushctl with `arguments`, stdin empty, `environment` added to this process's own.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        try runProcess(try path(), arguments, addingEnvironment: environment ?? [:])
    }

    /// Runs pushctl inside a pseudo-terminal (util-linux `script`), so stdout is a terminal.
    public static func runOnTerminal(_ arguments: [String]) throws -> Result {
        let command = ([try path()] + arguments).map(shellQuote).joined(separator: " ")
        var result = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], addingEnvironment: ["TERM": "dumb"])
        result.stdout = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        return result
    }

    public static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
