#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Threading

/// A real registry for integration tests: Debian's `/usr/bin/docker-registry serve CONFIG`
/// (distribution 2.8) on a free loopback port, with its own temporary storage and config.
/// `stop()` (or deinit) kills it and removes its files.
///
/// `@unchecked Sendable`: immutable after start; `process` is only touched by `stop()`, which is
/// idempotent under `stopped`.
public final class RegistryServer: @unchecked Sendable {
    public enum Variant: Sendable, Equatable {
        /// Plain http, no authentication.
        case plain
        /// https with a CA and server certificate made by openssl.
        case tls
        /// htpasswd Basic authentication (distribution 2.8 allows it over plain http).
        case basicAuth
        /// htpasswd Basic authentication over https.
        case basicAuthTLS
        /// Bearer tokens from a `TokenIssuer` (plain http registry and issuer).
        case tokenAuth
        /// https that requires a client certificate signed by the test CA.
        case mutualTLS
    }

    public static let binary = "/usr/bin/docker-registry"
    public static let htpasswd = "/usr/bin/htpasswd"

    public let variant: Variant
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    public let baseURL: String
    public let port: UInt16
    /// `127.0.0.1:PORT`, as credentials and error messages name the registry.
    public var host: String { "127.0.0.1:\(port)" }
    /// The CA that signed the server certificate (TLS variants).
    public let caPath: String?
    /// A client certificate and key the registry accepts (TLS variants).
    public let clientCertificate: String?
    public let clientKey: String?
    /// Valid credentials (auth variants).
    public let username: String?
    public let password: String?
    /// A valid identity (refresh) token (token variant).
    public let identityToken: String?
    public let tokenIssuer: TokenIssuer?
    /// The temporary directory holding config, storage, certificates and logs.
    public let directory: String

    private let process: Process
    private let stdoutPath: String
    private let stopped = LockedValue(false)

    /// Where the registry sends its event notifications (distribution's `notifications.endpoints`):
    /// a URL and the bearer token it authenticates with. Pull events and blob events are not sent
    /// (`ignore`), as a mirror's hook has no use for them.
    public struct Notifications: Sendable {
        public var url: String
        public var token: String
        public init(url: String, token: String) {
            self.url = url
            self.token = token
        }
    }

    /// Starts a registry; retries on a port taken between probing and binding.
    public static func start(_ variant: Variant = .plain, notifications: Notifications? = nil) throws -> RegistryServer {
        var lastError: Error = HarnessError.registryDidNotStart("no attempt made")
        for _ in 0..<5 {
            do { return try RegistryServer(variant: variant, notifications: notifications) } catch HarnessError.registryDidNotStart(let why)
                where why.contains("address already in use")
            {
                lastError = HarnessError.registryDidNotStart(why)
            }
        }
        throw lastError
    }

    private init(variant: Variant, notifications: Notifications?) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { throw HarnessError.missingTool(Self.binary) }
        self.variant = variant
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushctl-registry-\(UUID().uuidString)").path
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory + "/storage", withIntermediateDirectories: true)
        var cleanup = true
        defer { if cleanup { try? FileManager.default.removeItem(atPath: directory) } }

        port = try Sockets.freePort()
        let useTLS = variant == .tls || variant == .basicAuthTLS || variant == .mutualTLS
        var config = """
            version: 0.1
            log:
              level: info
              formatter: text
            storage:
              filesystem:
                rootdirectory: \(directory)/storage
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: pushctl-test-secret

            """
        if useTLS {
            let certificates = try TestCertificates.make(in: directory)
            caPath = certificates.caCertificate
            clientCertificate = certificates.clientCertificate
            clientKey = certificates.clientKey
            config += """
                  tls:
                    certificate: \(certificates.serverCertificate)
                    key: \(certificates.serverKey)

                """
            if variant == .mutualTLS {
                config += """
                        clientcas:
                          - \(certificates.caCertificate)

                    """
            }
        } else {
            caPath = nil
            clientCertificate = nil
            clientKey = nil
        }
        switch variant {
        case .basicAuth, .basicAuthTLS:
            let user = "pushctl-user", secret = "pw-\(UUID().uuidString.prefix(8))"
            guard FileManager.default.isExecutableFile(atPath: Self.htpasswd) else { throw HarnessError.missingTool(Self.htpasswd) }
            let line = try TestTools.runChecked(Self.htpasswd, ["-Bbn", user, secret])
            try line.write(toFile: "\(directory)/htpasswd", atomically: true, encoding: .utf8)
            username = user
            password = secret
            identityToken = nil
            tokenIssuer = nil
            config += """
                auth:
                  htpasswd:
                    realm: pushctl-test
                    path: \(directory)/htpasswd

                """
        case .tokenAuth:
            let user = "pushctl-user", secret = "pw-\(UUID().uuidString.prefix(8))"
            let refresh = "refresh-\(UUID().uuidString)"
            let issuer = try TokenIssuer(directory: directory, users: [user: secret], identityTokens: [refresh: user])
            username = user
            password = secret
            identityToken = refresh
            tokenIssuer = issuer
            config += """
                auth:
                  token:
                    realm: \(issuer.realm)
                    service: \(TokenIssuer.service)
                    issuer: \(TokenIssuer.issuer)
                    rootcertbundle: \(issuer.certificatePath)

                """
        case .plain, .tls, .mutualTLS:
            username = nil
            password = nil
            identityToken = nil
            tokenIssuer = nil
        }
        if let notifications {
            // Delivery retried every second on failure (a stopped hook gets its events later).
            config += """
                notifications:
                  endpoints:
                    - name: pushctl
                      url: \(notifications.url)
                      headers:
                        Authorization: [Bearer \(notifications.token)]
                      timeout: 2s
                      threshold: 3
                      backoff: 1s
                      ignore:
                        mediatypes: [application/octet-stream]
                        actions: [pull]

                """
        }
        try config.write(toFile: "\(directory)/config.yml", atomically: true, encoding: .utf8)
        baseURL = "\(useTLS ? "https" : "http")://127.0.0.1:\(port)"

        // The access log (one combined-format line per request) goes to stdout, the rest to stderr.
        stdoutPath = "\(directory)/stdout.log"
        let stderrPath = "\(directory)/stderr.log"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "\(directory)/config.yml"]
        let stdoutHandle = FileHandle(forWritingAtPath: stdoutPath)
        let stderrHandle = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        ChildProcesses.register(process.processIdentifier)
        // The child has its own copies now.
        try? stdoutHandle?.close()
        try? stderrHandle?.close()

        // Ready when it logs that it listens and a connection succeeds; fail fast if it exits.
        let deadline = Date().addingTimeInterval(20)
        while true {
            if !process.isRunning {
                ChildProcesses.unregister(process.processIdentifier)
                let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                tokenIssuer?.stop()
                throw HarnessError.registryDidNotStart(String(log.suffix(2000)))
            }
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            if log.contains("listening on"), Self.answersV2(port: port, tls: useTLS) { break }
            if Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                ChildProcesses.unregister(process.processIdentifier)
                tokenIssuer?.stop()
                throw HarnessError.registryDidNotStart("not listening after 20 s: \(log.suffix(2000))")
            }
            usleep(20_000)
        }
        cleanup = false
    }

    /// The readiness probe's User-Agent; its requests are left out of `accessLog()`.
    static let probeAgent = "pushctl-harness-probe"

    /// Whether `/v2/` answers with an HTTP status (plain http), or the port accepts connections
    /// (https: the handshake is the client's business).
    private static func answersV2(port: UInt16, tls: Bool) -> Bool {
        guard let fd = try? Sockets.connect(port: port) else { return false }
        defer { close(fd) }
        if tls { return true }
        guard
            Sockets.writeAll(
                fd, Array("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: \(probeAgent)\r\nConnection: close\r\n\r\n".utf8)),
            let answer = Sockets.readSome(fd)
        else { return false }
        return String(decoding: answer.prefix(12), as: UTF8.self).hasPrefix("HTTP/1.1 ")
    }

    /// Kills the registry (and token issuer) and removes its files. Safe to call twice.
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        ChildProcesses.unregister(process.processIdentifier)
        tokenIssuer?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    // MARK: - Access log

    /// One request as the registry logged it.
    public struct AccessLogEntry: Sendable, Equatable {
        public let method: String
        /// Path and query as requested.
        public let uri: String
        public let status: Int
        public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
    }

    /// Requests the registry has logged so far (it writes each line when the response completes).
    public func accessLog() -> [AccessLogEntry] {
        let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.contains(Self.probeAgent) }.compactMap { line in
            // 127.0.0.1 - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "agent"
            let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { return nil }
            let request = parts[1].split(separator: " ")
            let status = parts[2].split(separator: " ").first.flatMap { Int($0) }
            guard request.count >= 2, let status else { return nil }
            return AccessLogEntry(method: String(request[0]), uri: String(request[1]), status: status)
        }
    }

    /// Number of logged requests with this method (any when nil) whose path contains `pathContains`.
    public func requestCount(method: String? = nil, pathContains: String = "") -> Int {
        accessLog().filter { (method == nil || $0.method == method) && (pathContains.isEmpty || $0.uri.contains(pathContains)) }.count
    }
}
