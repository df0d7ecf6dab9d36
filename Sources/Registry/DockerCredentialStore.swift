import Foundation

/// Credentials from the user's Docker (and podman/skopeo) configuration, as `docker push` finds
/// them (jobfile-v1.md, "Credentials when `auth` is absent"):
/// `REGISTRY_AUTH_FILE` first when set, then `$DOCKER_CONFIG/config.json` (default
/// `~/.docker/config.json`); in each file `credHelpers[host]`, then `credsStore`, then
/// `auths[host]` (`auth` = base64 `user:password`, or `identitytoken`). Helpers run as
/// `docker-credential-NAME get` with the server on stdin. Docker Hub is keyed
/// `https://index.docker.io/v1/`.
public struct DockerCredentialStore: CredentialProvider {
    /// The environment to read (`REGISTRY_AUTH_FILE`, `DOCKER_CONFIG`, `HOME`, `PATH`): passed in
    /// so tests need not touch the process environment.
    public let environment: [String: String]

    public static let dockerHubServer = "https://index.docker.io/v1/"

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Config files in lookup order (existing or not).
    public var configFiles: [String] {
        var files: [String] = []
        if let authFile = environment["REGISTRY_AUTH_FILE"], !authFile.isEmpty { files.append(authFile) }
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty {
            files.append("\(dir)/config.json")
        } else if let home = environment["HOME"] ?? Optional(NSHomeDirectory()) {
            files.append("\(home)/.docker/config.json")
        }
        return files
    }

    public func credentials(for registryHost: String) throws(CredentialError) -> Credentials {
        let host = Self.normalize(registryHost)
        for path in configFiles where FileManager.default.fileExists(atPath: path) {
            if let found = try lookup(host: host, in: path) { return found }
        }
        return .none
    }

    private struct ConfigFile: Decodable {
        struct AuthEntry: Decodable {
            var auth: String?
            var username: String?
            var password: String?
            var identitytoken: String?
            var registrytoken: String?
        }
        var auths: [String: AuthEntry]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    private func lookup(host: String, in path: String) throws(CredentialError) -> Credentials? {
        let config: ConfigFile
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            config = try JSONDecoder().decode(ConfigFile.self, from: data)
        } catch {
            throw .unreadableConfig(path: path, message: String(describing: error))
        }
        let server = Self.serverKey(host)
        if let helper = config.credHelpers?.first(where: { Self.normalize($0.key) == host })?.value, !helper.isEmpty,
           let found = try runHelper(helper, server: server) {
            return found
        }
        if let store = config.credsStore, !store.isEmpty, let found = try runHelper(store, server: server) {
            return found
        }
        guard let entry = config.auths?.first(where: { Self.normalize($0.key) == host })?.value else { return nil }
        if let token = entry.identitytoken, !token.isEmpty { return .identityToken(token) }
        if let token = entry.registrytoken, !token.isEmpty { return .bearer(token) }
        if let auth = entry.auth, !auth.isEmpty {
            guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else {
                throw .invalidAuthEntry(path: path, server: host, message: "\"auth\" is not base64 of user:password")
            }
            return .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if let user = entry.username, let password = entry.password { return .basic(username: user, password: password) }
        return nil
    }

    private struct HelperAnswer: Decodable {
        var Username: String?
        var Secret: String?
    }

    /// Runs `docker-credential-NAME get`; nil when the helper has no credentials for the server.
    private func runHelper(_ name: String, server: String) throws(CredentialError) -> Credentials? {
        let executable = "docker-credential-\(name)"
        guard let path = findExecutable(executable) else {
            throw .helperFailed(helper: name, server: server, message: "\(executable) not found in PATH")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["get"]
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw .helperFailed(helper: name, server: server, message: String(describing: error))
        }
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let outText = String(decoding: out, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            // The helper protocol reports a missing entry as this message (on stdout).
            let message = (outText + String(decoding: err, as: UTF8.self)).trimmingCharacters(in: .whitespacesAndNewlines)
            if message.lowercased().contains("credentials not found") { return nil }
            // Never echo helper output beyond its first line: it should not, but might, hold secrets.
            throw .helperFailed(helper: name, server: server,
                                message: "exit status \(process.terminationStatus): \(message.split(separator: "\n").first ?? "")")
        }
        guard let answer = try? JSONDecoder().decode(HelperAnswer.self, from: out), let secret = answer.Secret else {
            throw .helperFailed(helper: name, server: server, message: "output is not a credentials JSON object")
        }
        let user = answer.Username ?? ""
        // docker stores identity tokens with the user name "<token>".
        if user == "<token>" { return .identityToken(secret) }
        return .basic(username: user, password: secret)
    }

    private func findExecutable(_ name: String) -> String? {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `https://host:port/v1/` → `host:port`; Docker Hub's names → `index.docker.io`.
    static func normalize(_ key: String) -> String {
        var host = Substring(key)
        if let r = host.range(of: "://") { host = host[r.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        let lowered = host.lowercased()
        if ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"].contains(lowered) {
            return "index.docker.io"
        }
        return lowered
    }

    /// The server name handed to helpers: Docker Hub's legacy key, otherwise the host.
    static func serverKey(_ normalizedHost: String) -> String {
        normalizedHost == "index.docker.io" ? dockerHubServer : normalizedHost
    }
}
