#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading

/// Servers killed (with their children) and removed when the test process exits: those kept for
/// the whole process (a `static let`), whose deinit never runs.
enum PostgresServersAtExit {
    private static let servers = LockedValue<[PostgresServer]>([])
    private static let installed = LockedValue(false)

    static func add(_ server: PostgresServer) {
        let first = installed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        servers.withLock { $0.append(server) }
        guard first else { return }
        atexit {
            for server in PostgresServersAtExit.servers.withLock({ $0 }) {
                server.kill()
                try? FileManager.default.removeItem(atPath: server.folder)
            }
        }
    }
}

/// A real PostgreSQL 15 server (Debian's `postgresql`) for the ledger tests: `initdb` into a
/// temporary folder and `postgres` on a free loopback port, both as the unprivileged user
/// `nobody` (PostgreSQL refuses to run as root, and the tests and CI run as root), with
/// password authentication (scram-sha-256) for every connection, TCP and socket alike.
///
/// `url(database:)` names a database the test created (`createDatabase`); the password of the
/// test role `pushctl` is `password`, given to pushctl through PGPASSWORD only.
public final class PostgresServer: @unchecked Sendable {  // `process` is only used under `lock`
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let role = "pushctl"
    public let password = "pg-\(UUID().uuidString.prefix(12))"
    public let port: UInt16
    public let folder: String
    private let lock = Lock()
    private var process: Process?
    private let nobody: (uid: UInt32, gid: UInt32) = (65534, 65534)

    public init() throws {
        folder = try temporaryDirectory("postgres", prefix: "pushctl-pg")
        chmod(folder, 0o755)
        let data = folder + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        chown(data, nobody.uid, nobody.gid)
        chmod(data, 0o700)
        let passwordFile = folder + "/superuser-password"
        try "superuser-\(password)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chown(passwordFile, nobody.uid, nobody.gid)
        try Self.runAsNobody(
            "initdb",
            ["-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile=" + passwordFile, "--encoding=UTF8", "--locale=C.UTF-8"])
        port = try Sockets.freePort()
        try start()
        try psql("CREATE ROLE \(Self.role) LOGIN PASSWORD '\(password)'")
    }

    /// Kills the server and removes its folder when the test process exits: for a server kept
    /// for the whole process (a `static let`), whose deinit never runs.
    public func stopAtExit() {
        PostgresServersAtExit.add(self)
    }

    /// SIGKILL, then the data folder goes (tens of MB per server).
    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// `postgres://pushctl@127.0.0.1:PORT/NAME?sslmode=disable` (no password: PGPASSWORD has it).
    public func url(database: String) -> String {
        "postgres://\(Self.role)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// The environment pushctl needs to log in: `base` plus PGPASSWORD.
    public func environment(_ base: [String: String]) -> [String: String] {
        var environment = base
        environment["PGPASSWORD"] = password
        environment["PGPASSFILE"] = "/nonexistent"
        return environment
    }

    /// Creates an empty database owned by the test role and returns its URL.
    public func createDatabase(_ name: String = "ledger_" + UUID().uuidString.prefix(8).lowercased()) throws -> String {
        try psql("CREATE DATABASE \(name) OWNER \(Self.role)")
        return url(database: name)
    }

    /// Runs SQL as the superuser over the socket; returns psql's unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try TestTools.runChecked(
            "/usr/bin/psql",
            [
                "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-c",
                sql
            ],
            environment: ["PGPASSWORD": "superuser-\(password)", "PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "5"])
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        try lock.withLock { () throws in
            guard process == nil else { return }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = [
                "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)", "--clear-groups", Self.binaries + "/postgres",
                "-D", folder + "/data", "-p", String(port), "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=" + folder + "/data", "-c", "fsync=off", "-c", "max_connections=200"
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: try touch(folder + "/server.log")))
            try process.run()
            ChildProcesses.register(process.processIdentifier)
            self.process = process
        }
        let deadline = Date().addingTimeInterval(30)
        while true {
            let ready = try runProcess(
                Self.binaries + "/pg_isready", ["-h", "127.0.0.1", "-p", String(port), "-t", "1"])
            if ready.status == 0 { return }
            guard Date() < deadline else {
                let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
                throw HarnessError.toolFailed("postgres", status: ready.status, stderr: log)
            }
            usleep(100_000)
        }
    }

    /// A clean, fast shutdown (SIGINT: clients are disconnected, nothing is lost), as a server
    /// restart does; `start()` brings it back on the same port with the same data.
    public func stop() { end(SIGINT) }

    /// Cleanup: SIGKILL, as every test server is stopped.
    public func kill() { end(SIGKILL) }

    private func end(_ signal: Int32) {
        lock.withLock {
            guard let process else { return }
            // SIGKILL gives the postmaster no time to stop its children, which run in sessions of
            // their own (setsid): they are killed with it, found by their parent pid.
            let children = signal == SIGKILL ? Self.children(of: process.processIdentifier) : []
            Glibc.kill(process.processIdentifier, signal)
            for child in children { Glibc.kill(child, SIGKILL) }
            process.waitUntilExit()
            ChildProcesses.unregister(process.processIdentifier)
            self.process = nil
        }
    }

    /// The processes whose parent is `pid` (from /proc/PID/stat's fourth field).
    private static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? child : nil
        }
    }

    private func touch(_ path: String) throws -> String {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        chown(path, nobody.uid, nobody.gid)
        return path
    }

    private static func runAsNobody(_ tool: String, _ arguments: [String]) throws {
        try TestTools.runChecked(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binaries + "/" + tool] + arguments,
            environment: ["PATH": "/usr/bin:/bin", "HOME": "/tmp", "LC_ALL": "C.UTF-8"])
    }
}
