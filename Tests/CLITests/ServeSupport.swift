import Foundation
import RegistryHarness
import TestSupport
import Testing

/// A `pushctl serve` process started by a test: its log (stderr) in a file, its port read from
/// the log's `listening on` line, killed with SIGKILL when the test lets go of it.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let logPath: String
    private(set) var port = 0
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts `pushctl serve ARGUMENTS` (which name `--listen`, usually `127.0.0.1:0`) and waits
    /// until it listens, or throws with its log when it exits or does not listen within 60 s.
    init(_ arguments: [String], workspace: Scratch, logName: String = "serve.log", environment: [String: String]? = nil) throws {
        logPath = workspace.sub(logName)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: pushctlBinary)
        process.arguments = ["serve"] + arguments
        process.environment = environment ?? workspace.environment
        let out = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = out
        let log = FileHandle(forWritingAtPath: logPath)
        log?.seekToEndOfFile()
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The child has its own copies now.
        try? out?.close()
        try? log?.close()
        let deadline = Date().addingTimeInterval(60 * testTimeScale)
        while true {
            if let line = self.log.split(separator: "\n").first(where: { $0.contains("serve: listening on http://") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                self.port = port
                return
            }
            guard process.isRunning, Date() < deadline else {
                kill()
                throw HarnessError.registryDidNotStart("pushctl serve did not listen: \(self.log)")
            }
            usleep(50_000)
        }
    }

    deinit { kill() }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` (true) or `seconds` passed (false).
    @discardableResult
    func waitForLog(_ text: String, count: Int = 1, seconds: Double = 60) -> Bool {
        poll(seconds: seconds) { self.log.components(separatedBy: text).count - 1 >= count }
    }

    func signal(_ number: Int32) { if process.isRunning { Glibc.kill(process.processIdentifier, number) } }

    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The exit status, once it exited within `seconds`.
    func exitStatus(within seconds: Double = 60) -> Int32? {
        poll(seconds: seconds) { !self.process.isRunning } ? process.terminationStatus : nil
    }

    /// An HTTP request with curl: (status, body).
    func request(
        _ method: String, _ path: String, headers: [String] = [], body: String? = nil
    ) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-X", method, "-w", "\n%{http_code}", "--max-time", "30"]
        for header in headers { arguments += ["-H", header] }
        if body != nil { arguments += ["--data-binary", "@-"] }
        arguments.append(baseURL + path)
        let result = try run("/usr/bin/curl", arguments, stdin: body)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }
}

/// Polls `condition` every 100 ms until it holds (true) or `seconds` (scaled) passed (false).
func poll(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds * testTimeScale)
    while Date() < deadline {
        if try condition() { return true }
        usleep(100_000)
    }
    return try condition()
}

/// Runs as `history --output json` reads them: (id, kind, status) of every run, newest first.
func historyRuns(_ workspace: Scratch, state: String) throws -> [(id: Int, kind: String, status: String, job: String)] {
    let result = try run(
        pushctlBinary, ["history", "--state", state, "--output", "json", "--limit", "1000"], environment: workspace.environment)
    guard result.status == 0 else { return [] }
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    var seen = Set<Int>()
    var runs: [(Int, String, String, String)] = []
    for entry in (object?["entries"] as? [[String: Any]]) ?? [] {
        guard let run = entry["run"] as? [String: Any], let id = run["id"] as? Int, seen.insert(id).inserted else { continue }
        runs.append((id, run["kind"] as? String ?? "", run["status"] as? String ?? "", run["job"] as? String ?? ""))
    }
    return runs
}
