import Foundation
import RegistryHarness
import Testing

/// The package root, found from this file's path (Tests/CLITests/Support.swift).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The built pushctl: `$PUSHCTL_BIN`, else `<package root>/.build/debug/pushctl`.
var pushctlBinary: String {
    ProcessInfo.processInfo.environment["PUSHCTL_BIN"] ?? packageRoot + "/.build/debug/pushctl"
}

typealias ToolResult = ProcessResult
typealias ToolError = ProcessRunnerError

/// `runProcess` (RegistryHarness) with the package root as the default working directory.
func run(
    _ executable: String, _ arguments: [String], stdin: String? = nil,
    environment: [String: String]? = nil, directory: String = packageRoot
) throws -> ToolResult {
    try runProcess(executable, arguments, stdin: stdin, environment: environment, directory: directory)
}

func pushctl(_ arguments: String..., environment: [String: String]? = nil) throws -> ToolResult {
    try run(pushctlBinary, arguments, environment: environment)
}

/// Debian's python3 with python3-jsonschema and python3-yaml (an independent YAML reader, so the
/// schema checks do not go through pushctl's own YAML code).
let python = "/usr/bin/python3"

/// Validates each YAML or JSON file against a schema; prints `ok PATH` or `invalid PATH: reason` per file.
let validateScript = """
    import json, sys
    try:
        import yaml, jsonschema
    except ImportError as e:
        sys.exit('missing Debian package for the schema tests (apt-get install python3-yaml python3-jsonschema): %s' % e)
    schema = json.load(open(sys.argv[1]))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        with open(path) as f:
            doc = json.load(f) if path.endswith('.json') else yaml.safe_load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        print(('ok ' + path) if not errors else ('invalid ' + path + ': ' + errors[0].message))
    """

/// Files in a directory of the package with the given extension, as paths relative to the root.
func packageFiles(in directory: String, ext: String = "yaml") throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/" + directory)
        .filter { $0.hasSuffix("." + ext) }.sorted().map { directory + "/" + $0 }
}

/// Wall-time bounds in tests are multiplied by this: 1 normally, more under the sanitizers
/// (`scripts/sanitize` sets `PUSHCTL_TEST_TIME_SCALE`), whose instrumented code runs slower.
let testTimeScale: Double = Double(ProcessInfo.processInfo.environment["PUSHCTL_TEST_TIME_SCALE"] ?? "") ?? 1
