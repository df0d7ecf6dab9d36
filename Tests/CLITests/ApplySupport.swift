import Foundation
import OCI
import RegistryHarness
import Testing

/// What `examples/quickstart.yaml` runs with against `registry`: its state and home in `scratch`.
func quickstartEnvironment(_ registry: RegistryServer, _ scratch: Scratch) -> [String: String] {
    ["QUICKSTART_REGISTRY": registry.baseURL, "PUSHCTL_STATE": scratch.state, "HOME": scratch.path]
}

/// One NDJSON event of `apply --output json`.
struct Event {
    let object: [String: Any]
    let line: String

    var name: String { object["event"] as? String ?? "" }
    var status: String? { object["status"] as? String }
    var item: String? { object["item"] as? String }
    var repository: String? { object["repository"] as? String }
    var host: String? { object["host"] as? String }
    var digest: String? { object["digest"] as? String }
    var tag: String? { object["tag"] as? String }
    func int(_ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }
}

struct ApplyResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Every stdout line parsed as JSON (json output only); a line that does not parse is
    /// recorded as an issue.
    var events: [Event] = []

    var runEnd: Event? { events.last { $0.name == "run-end" } }
    func pushEnds(repository: String? = nil) -> [Event] {
        events.filter { $0.name == "push-end" && (repository == nil || $0.repository == repository) }
    }
    func blobs(repository: String? = nil, status: String? = nil) -> [Event] {
        events.filter { $0.name == "blob" && (repository == nil || $0.repository == repository) && (status == nil || $0.status == status) }
    }
}

/// Parses NDJSON, recording an issue for each line that is not a JSON object with `event` and `time`.
func parseEvents(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Event] {
    text.split(separator: "\n").compactMap { line in
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            Issue.record("not a JSON object: \(line)", sourceLocation: sourceLocation)
            return nil
        }
        if !(object["event"] is String) || !(object["time"] is String) {
            Issue.record("event without `event` or `time`: \(line)", sourceLocation: sourceLocation)
        }
        return Event(object: object, line: String(line))
    }
}

/// `pushctl apply` of job files with a test's state and environment (`scratch.environment`
/// unless `environment` is given).
func apply(
    _ files: String..., scratch: Scratch, output: String = "json", arguments: [String] = [],
    environment: [String: String]? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> ApplyResult {
    let r = try run(
        pushctlBinary, ["apply", "--output", output, "--state", scratch.state] + arguments + files,
        environment: environment ?? scratch.environment, directory: scratch.path)
    var result = ApplyResult(status: r.status, stdout: r.stdout, stderr: r.stderr)
    if output == "json" { result.events = parseEvents(r.stdout, sourceLocation: sourceLocation) }
    return result
}

/// A pushctl command other than apply (history, show) with `--output json`, parsed.
func pushctlJSON(_ arguments: [String], scratch: Scratch) throws -> [String: Any] {
    let r = try run(
        pushctlBinary, arguments + ["--output", "json", "--state", scratch.state],
        environment: scratch.environment, directory: scratch.path)
    guard r.status == 0, let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] else {
        throw ApplyTestError.command("pushctl \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)\(r.stdout)")
    }
    return object
}

enum ApplyTestError: Error, CustomStringConvertible {
    case command(String)
    case timeout(String)
    var description: String {
        switch self {
        case .command(let text): text
        case .timeout(let text): "timed out: \(text)"
        }
    }
}

// MARK: - Reading back what was pushed

/// `skopeo inspect --raw` of a pushed tag: the exact manifest bytes the registry serves.
func pushedManifest(_ registry: RegistryServer, _ repository: String, _ tag: String) throws -> String {
    try TestTools.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/\(repository):\(tag)"])
}

/// The digest of a tag as the registry serves it (sha256 of the raw manifest bytes).
func pushedDigest(_ registry: RegistryServer, _ repository: String, _ tag: String) throws -> Digest {
    Digest.of(Array(try pushedManifest(registry, repository, tag).utf8))
}

/// What an OCI layout holds for one tag, after `skopeo copy --all` of it: the root digest and
/// every blob file (manifests, configs, layers).
struct CopiedImage: Equatable, CustomStringConvertible {
    var root: String
    var blobs: Set<String>
    var description: String { "root \(root), \(blobs.count) blobs" }
}

/// `skopeo copy --all SOURCE oci:DIR:tag`, then reads DIR.
func copyToLayout(_ source: String, into directory: String, tag: String, sourceTLS: Bool = false) throws -> CopiedImage {
    // --preserve-digests: skopeo would otherwise compress uncompressed layers on the way.
    var arguments = ["copy", "--all", "--preserve-digests", "--quiet"]
    if source.hasPrefix("docker://"), !sourceTLS { arguments.append("--src-tls-verify=false") }
    try TestTools.run("skopeo", arguments + [source, "oci:\(directory):\(tag)"])
    let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/index.json"))) as? [String: Any]
    let manifests = index?["manifests"] as? [[String: Any]] ?? []
    let root =
        manifests.first { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag }?["digest"] as? String
    let blobs = try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs/sha256")
    return CopiedImage(root: root ?? "(no \(tag) in \(directory)/index.json)", blobs: Set(blobs))
}

// MARK: - A pushctl running in the background

/// `pushctl apply` started in the background, its NDJSON output read while it runs.
final class RunningApply {
    let process = Process()
    /// Signalled once, when the process exits.
    private let exited = DispatchSemaphore(value: 0)
    private let outPath: String
    private let errPath: String

    /// `state` replaces the scratch folder's database (a postgres:// URL), `environment` its environment.
    init(_ arguments: [String], scratch: Scratch, state: String? = nil, environment: [String: String]? = nil) throws {
        let id = UUID().uuidString
        outPath = scratch.sub("apply-\(id).out")
        errPath = scratch.sub("apply-\(id).err")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        guard FileManager.default.isExecutableFile(atPath: pushctlBinary) else { throw ToolError.missing(pushctlBinary) }
        process.executableURL = URL(fileURLWithPath: pushctlBinary)
        process.arguments = ["apply", "--output", "json", "--state", state ?? scratch.state] + arguments
        process.environment = environment ?? scratch.environment
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        let exited = exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Complete lines written so far, parsed.
    var events: [Event] {
        let text = stdout
        guard let lastNewline = text.lastIndex(of: "\n") else { return [] }
        return parseEvents(String(text[...lastNewline]))
    }

    /// Polls the output until an event satisfies `condition`.
    @discardableResult
    func waitForEvent(timeout: TimeInterval = 60, _ what: String, _ condition: (Event) -> Bool) throws -> Event {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let event = events.first(where: condition) { return event }
            if !process.isRunning, let event = events.first(where: condition) { return event }
            if !process.isRunning {
                throw ApplyTestError.timeout("apply exited (\(process.terminationStatus)) before \(what): \(stdout)\(stderr)")
            }
            usleep(20_000)
        }
        throw ApplyTestError.timeout("\(what) within \(timeout) s: \(stdout)\(stderr)")
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit (at most `timeout` seconds, then kills it) and returns the status.
    func wait(timeout: TimeInterval = 60) -> Int32 {
        defer { exited.signal() }  // a later wait returns at once
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
