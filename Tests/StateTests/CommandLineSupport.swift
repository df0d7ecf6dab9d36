import Foundation
import RegistryHarness
import Testing

/// Runs the built `pushctl` binary: `$PUSHCTL_BIN`, else the one next to the test bundle, else
/// `<package root>/.build/debug/pushctl`.
enum PushctlBinary {
    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static func path() throws -> String {
        var candidates = [String]()
        if let env = ProcessInfo.processInfo.environment["PUSHCTL_BIN"], !env.isEmpty { candidates.append(env) }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // The runner is .build/<triple>/debug/pushctlPackageTests.xctest (a file on Linux, a bundle on macOS).
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent("pushctl").path)
        candidates.append(
            runner.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("pushctl").path)
        candidates.append(packageRoot + "/.build/debug/pushctl")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BinaryNotFound(searched: candidates)
        }
        return found
    }

    struct BinaryNotFound: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "pushctl binary not found (build it with `swift build`, or set PUSHCTL_BIN); searched: \(searched)" }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs pushctl with `arguments`, stdin empty, and returns exit status and output.
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        try runProcess(try path(), arguments, environment: environment)
    }

    /// Runs pushctl inside a pseudo-terminal (util-linux `script`), so stdout is a terminal.
    static func runOnTerminal(_ arguments: [String]) throws -> Result {
        let command = ([try path()] + arguments).map(shellQuote).joined(separator: " ")
        var result = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["TERM": "dumb"])
        result.stdout = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        return result
    }

    /// The suites' one process runner (RegistryHarness), with `environment` added to this
    /// process's own.
    static func runProcess(
        _ executable: String, _ arguments: [String], stdin: String? = nil,
        environment: [String: String]? = nil
    ) throws -> Result {
        let result = try RegistryHarness.runProcess(executable, arguments, stdin: stdin, addingEnvironment: environment ?? [:])
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Validates a JSON document against one of the schemas in `schemas/` with Debian's
/// python3-jsonschema (2020-12 draft; the schemas reference each other by `$id`).
enum SchemaValidator {
    static let script = """
        import json, pathlib, sys
        from jsonschema import Draft202012Validator
        schemas = {p.name: json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob("*.schema.json")}
        schema = schemas[sys.argv[2]]
        Draft202012Validator.check_schema(schema)
        try:  # jsonschema >= 4.18
            from referencing import Registry, Resource
            registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
            validator = Draft202012Validator(schema, registry=registry)
        except ImportError:  # Debian 12's jsonschema 4.10
            from jsonschema import RefResolver
            resolver = RefResolver.from_schema(schema, store={s["$id"]: s for s in schemas.values()})
            validator = Draft202012Validator(schema, resolver=resolver)
        errors = list(validator.iter_errors(json.load(sys.stdin)))
        for e in errors:
            print(f"{list(e.absolute_path)}: {e.message}", file=sys.stderr)
        sys.exit(1 if errors else 0)
        """

    /// Nil when valid, else the validator's complaints.
    static func problems(_ document: String, schema: String) throws -> String? {
        let result = try PushctlBinary.runProcess(
            "/usr/bin/python3", ["-c", script, PushctlBinary.packageRoot + "/schemas", schema],
            stdin: document)
        return result.status == 0 ? nil : "exit \(result.status): \(result.stderr)"
    }
}
