import Foundation
import OCI

/// Credentials from the user's container tool configuration, found as podman/skopeo and docker
/// find them (docs/jobfile.md "Credentials when `auth` is absent"; containers-auth.json(5)).
///
/// Files are searched in this order (`searchPath`); the first one with an entry for the host wins:
///
/// 1. The primary containers auth file: `REGISTRY_AUTH_FILE` when set — containers-auth.json(5)
///    calls it "the explicit override" of the primary file, so it replaces rather than precedes
///    `$XDG_RUNTIME_DIR/containers/auth.json`; without it `$XDG_RUNTIME_DIR/containers/auth.json`,
///    or `/run/containers/UID/auth.json` when `XDG_RUNTIME_DIR` is unset (containers/image's
///    fallback, which the man page does not spell out).
/// 2. `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config/containers/auth.json`).
/// 3. The docker config: `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
///
/// The man page continues after the override file when it has no entry, and so does pushctl
/// (recent containers/image stops after a file given with `--authfile`; pushctl has no such
/// option, and the job file spec reads `REGISTRY_AUTH_FILE` "first"). Not read: the legacy
/// `~/.dockercfg` and the root-only `/etc/containers/auth.json`.
///
/// In a containers auth file, an entry is `credHelpers[host]` (a helper that knows nothing about
/// the host lets the search go on) or `auths[host]`; keys naming a namespace (`quay.io/team`)
/// are not used, because pushctl authenticates per registry, not per repository. The docker config
/// also has `credsStore` (docker's order: `credHelpers[host]`, `credsStore`, `auths[host]`).
/// `auth` is base64 `user:password`; `identitytoken` is a refresh token. Helpers run as
/// `docker-credential-NAME get` with the server on stdin. Docker Hub is keyed
/// `https://index.docker.io/v1/` (also `docker.io`, `index.docker.io`, `registry-1.docker.io`).
///
/// Errors name the file: `REGISTRY_AUTH_FILE` naming a file that does not exist (a typo there must
/// not silently push anonymously), a file that cannot be read, and JSON that does not parse (with
/// its line and column) or has the wrong shape (with the key path). A missing file elsewhere in
/// the search is simply skipped; an empty one holds no entries (as docker reads it).
public struct DockerCredentialStore: CredentialProvider {
    /// The environment to read (`REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`,
    /// `DOCKER_CONFIG`, `HOME`, `PATH`): passed in so tests need not touch the process environment.
    public let environment: [String: String]

    public static let dockerHubServer = "https://index.docker.io/v1/"

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// One file of the search.
    public struct CredentialFile: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// containers-auth.json(5): `auths`, `credHelpers`.
            case containersAuth
            /// docker's config.json: `auths`, `credHelpers`, `credsStore`.
            case dockerConfig
        }
        public var path: String
        public var kind: Kind
        /// The variable that names this file explicitly (`REGISTRY_AUTH_FILE`): then it must exist.
        public var namedBy: String?

        public var description: String { path + (namedBy.map { " (\($0))" } ?? "") }
    }

    /// The files in search order, existing or not.
    public var searchPath: [CredentialFile] {
        var files: [CredentialFile] = []
        let home = nonEmpty("HOME") ?? NSHomeDirectory()
        if let authFile = nonEmpty("REGISTRY_AUTH_FILE") {
            files.append(CredentialFile(path: authFile, kind: .containersAuth, namedBy: "REGISTRY_AUTH_FILE"))
        } else if let runtime = nonEmpty("XDG_RUNTIME_DIR") {
            files.append(CredentialFile(path: "\(runtime)/containers/auth.json", kind: .containersAuth))
        } else {
            files.append(CredentialFile(path: "/run/containers/\(getuid())/auth.json", kind: .containersAuth))
        }
        let configHome = nonEmpty("XDG_CONFIG_HOME") ?? "\(home)/.config"
        files.append(CredentialFile(path: "\(configHome)/containers/auth.json", kind: .containersAuth))
        if let dir = nonEmpty("DOCKER_CONFIG") {
            files.append(CredentialFile(path: "\(dir)/config.json", kind: .dockerConfig))
        } else {
            files.append(CredentialFile(path: "\(home)/.docker/config.json", kind: .dockerConfig))
        }
        return files
    }

    /// Config files in lookup order (existing or not).
    public var configFiles: [String] { searchPath.map(\.path) }

    private func nonEmpty(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    public func credentials(for registryHost: String) throws(CredentialError) -> Credentials {
        try credentialsAndFile(for: registryHost)?.credentials ?? .none
    }

    /// The credentials and the file that held them; nil when no file has an entry for the host.
    public func credentialsAndFile(for registryHost: String) throws(CredentialError) -> (credentials: Credentials, file: CredentialFile)? {
        let host = Self.normalize(registryHost)
        for file in searchPath {
            guard let config = try load(file) else { continue }
            if let found = try lookup(host: host, in: config, file: file) { return (found, file) }
        }
        return nil
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

    /// Larger than any credentials file; a bigger file is someone's mistake, not credentials.
    static let maximumFileSize = 16 << 20

    /// The parsed file; nil when it does not exist (and is not required to).
    private func load(_ file: CredentialFile) throws(CredentialError) -> ConfigFile? {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                guard let variable = file.namedBy else { return nil }
                throw .unreadableConfig(path: file.path, message: "\(variable) names this file, but it does not exist")
            }
            throw .unreadableConfig(path: file.path, message: "cannot open it: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                let reason = code == EISDIR ? "it is a directory, not a JSON file" : "cannot read it: \(String(cString: strerror(code)))"
                throw .unreadableConfig(path: file.path, message: reason)
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[..<n])
            guard bytes.count <= Self.maximumFileSize else {
                throw .unreadableConfig(
                    path: file.path, message: "it is larger than \(Self.maximumFileSize >> 20) MiB, which no credentials file is")
            }
        }
        // docker reads an empty config.json as one without entries; so does pushctl, for every file.
        if bytes.allSatisfy({ [0x20, 0x09, 0x0a, 0x0d].contains($0) }) { return ConfigFile() }
        do {
            return try JSONDecoder().decode(ConfigFile.self, from: Data(bytes))
        } catch let error as DecodingError {
            let what = JSONDiagnostics.syntaxErrorLocation(bytes) != nil ? "not valid JSON" : "not a credentials file"
            throw .unreadableConfig(path: file.path, message: "\(what): \(JSONDiagnostics.describe(error, bytes: bytes))")
        } catch {
            throw .unreadableConfig(path: file.path, message: "not valid JSON: \(error)")
        }
    }

    private func lookup(host: String, in config: ConfigFile, file: CredentialFile) throws(CredentialError) -> Credentials? {
        let server = Self.serverKey(host)
        let matches = { (key: String) in Self.key(key, matchesHost: host, kind: file.kind) }
        if let helper = config.credHelpers?.first(where: { matches($0.key) })?.value, !helper.isEmpty,
            let found = try runHelper(helper, server: server)
        {
            return found
        }
        // `credsStore` is docker's; containers auth files do not have it (containers-auth.json(5)).
        if file.kind == .dockerConfig, let store = config.credsStore, !store.isEmpty, let found = try runHelper(store, server: server) {
            return found
        }
        guard let entry = config.auths?.first(where: { matches($0.key) })?.value else { return nil }
        if let token = entry.identitytoken, !token.isEmpty { return .identityToken(token) }
        if let token = entry.registrytoken, !token.isEmpty { return .bearer(token) }
        if let auth = entry.auth, !auth.isEmpty {
            guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else {
                throw .invalidAuthEntry(path: file.path, server: host, message: "\"auth\" is not base64 of user:password")
            }
            return .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if let user = entry.username, let password = entry.password { return .basic(username: user, password: password) }
        return nil
    }

    /// Whether an `auths`/`credHelpers` key is the registry `host` (normalized). docker reduces
    /// every key to its host; containers auth files also hold namespace keys (`quay.io/team/app`)
    /// that are meant for that namespace only, so there only a bare host or a URL
    /// (`https://host/v1/`) names the whole registry.
    static func key(_ key: String, matchesHost host: String, kind: CredentialFile.Kind) -> Bool {
        if kind == .containersAuth, !key.contains("://"), key.contains("/") { return false }
        return normalize(key) == host
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
        // The server name goes into the pipe before the helper starts (it is far smaller than a
        // pipe's buffer): written afterwards, a helper that exits without reading stdin would
        // kill this process with SIGPIPE.
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        do { try process.run() } catch {
            throw .helperFailed(helper: name, server: server, message: String(describing: error))
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let outText = String(decoding: out, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            // The helper protocol reports a missing entry as this message (on stdout).
            let message = (outText + String(decoding: err, as: UTF8.self)).trimmingCharacters(in: .whitespacesAndNewlines)
            if message.lowercased().contains("credentials not found") { return nil }
            // Never echo helper output beyond its first line: it should not, but might, hold secrets.
            throw .helperFailed(
                helper: name, server: server,
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
