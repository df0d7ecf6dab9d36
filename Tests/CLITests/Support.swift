import Foundation
import TestSupport
import Testing

typealias ToolResult = ProcessResult
typealias ToolError = ProcessRunnerError

/// `runProcess` (TestSupport) with the package root as the default working directory.
func run(
    _ executable: String, _ arguments: [String], stdin: String? = nil,
    environment: [String: String]? = nil, directory: String = packageRoot
) throws -> ToolResult {
    try runProcess(executable, arguments, stdin: stdin, environment: environment, directory: directory)
}

func pushctl(_ arguments: String..., environment: [String: String]? = nil) throws -> ToolResult {
    try run(pushctlBinary, arguments, environment: environment)
}

/// Files in a directory of the package with the given extension, as paths relative to the root.
func packageFiles(in directory: String, ext: String = "yaml") throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/" + directory)
        .filter { $0.hasSuffix("." + ext) }.sorted().map { directory + "/" + $0 }
}

/// Wall-time bounds in tests are multiplied by this: 1 normally, more under the sanitizers
/// (`scripts/sanitize` sets `PUSHCTL_TEST_TIME_SCALE`), whose instrumented code runs slower.
let testTimeScale: Double = Double(ProcessInfo.processInfo.environment["PUSHCTL_TEST_TIME_SCALE"] ?? "") ?? 1
