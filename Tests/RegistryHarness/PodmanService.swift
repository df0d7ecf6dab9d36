#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading

/// A real container engine API for tests: Debian's podman running `podman system service` (its
/// Docker-compatible Engine API) in a temporary root with the vfs storage driver, listening on a
/// unix socket and optionally on a loopback TCP port too (so a `FaultProxy` can sit in front of it
/// and count or break requests). Images are put into its store with `load(archive:)`.
public final class PodmanService: @unchecked Sendable {
    public static let binary = "/usr/bin/podman"

    public let directory: String
    /// `unix://…/engine.sock`, for `DOCKER_HOST`.
    public let socketPath: String
    public var dockerHost: String { "unix://\(socketPath)" }
    /// The loopback TCP port of the second listener, when asked for.
    public let tcpPort: UInt16?
    private var processes: [Process] = []
    private let stopped = LockedValue(false)

    /// The podman command line with this service's store.
    var podman: [String] {
        [
            "--root", directory + "/root", "--runroot", directory + "/run", "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", directory + "/tmp"
        ]
    }

    public static func start(tcp: Bool = false) throws -> PodmanService {
        try PodmanService(tcp: tcp)
    }

    private init(tcp: Bool) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { throw HarnessError.missingTool(Self.binary) }
        // A short path: unix socket paths are limited to 108 bytes.
        directory = try Self.makeDirectory()
        for sub in ["root", "run", "tmp"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        socketPath = directory + "/engine.sock"
        tcpPort = tcp ? try Sockets.freePort() : nil
        try launch(["unix://" + socketPath])
        if let tcpPort { try launch(["tcp://127.0.0.1:\(tcpPort)"]) }
        let deadline = Date().addingTimeInterval(30)
        while !ready() {
            guard Date() < deadline, processes.allSatisfy(\.isRunning) else {
                let log = (try? String(contentsOfFile: directory + "/service.log", encoding: .utf8)) ?? ""
                stop()
                throw HarnessError.toolFailed("podman system service", status: -1, stderr: String(log.suffix(2000)))
            }
            usleep(50_000)
        }
    }

    private static func makeDirectory() throws -> String {
        var template = Array("/tmp/pushctl-podman.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw HarnessError.toolFailed("mkdtemp", status: errno, stderr: "") }
        return String(cString: made)
    }

    private func launch(_ listen: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = podman + ["system", "service", "--time", "0"] + listen
        let log =
            FileHandle(forWritingAtPath: directory + "/service.log")
            ?? {
                _ = FileManager.default.createFile(atPath: directory + "/service.log", contents: nil)
                return FileHandle(forWritingAtPath: directory + "/service.log")!
            }()
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        ChildProcesses.register(process.processIdentifier)
        processes.append(process)
    }

    /// Both listeners answer `/_ping`.
    private func ready() -> Bool {
        guard FileManager.default.fileExists(atPath: socketPath) else { return false }
        if let tcpPort {
            guard let fd = try? Sockets.connect(port: tcpPort) else { return false }
            defer { close(fd) }
            guard Sockets.writeAll(fd, Array("GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
                let answer = Sockets.readSome(fd)
            else { return false }
            return String(decoding: answer.prefix(12), as: UTF8.self).hasPrefix("HTTP/1.1 200")
        }
        return true
    }

    /// Loads a `docker save` archive into the store (`podman load`); returns what podman said.
    @discardableResult
    public func load(archive: String) throws -> String {
        try TestTools.runChecked(Self.binary, podman + ["load", "-q", "-i", archive])
    }

    /// Runs another podman command against this store (e.g. `tag`, `rmi`).
    @discardableResult
    public func podman(_ arguments: [String]) throws -> String {
        try TestTools.runChecked(Self.binary, podman + arguments)
    }

    /// Stops the service (the engine goes away) and removes its store. Safe to call twice.
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        for process in processes where process.isRunning {
            process.terminate()
            process.waitUntilExit()
            ChildProcesses.unregister(process.processIdentifier)
        }
        // vfs layers are plain folders, some read-only: make them writable, then remove.
        _ = try? TestTools.runChecked("/bin/chmod", ["-R", "u+w", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
