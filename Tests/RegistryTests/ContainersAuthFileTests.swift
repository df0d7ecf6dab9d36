import Foundation
import TestSupport
import Testing
@testable import Registry

/// The containers-auth.json(5) search (docs/jobfile.md): `REGISTRY_AUTH_FILE` or
/// `$XDG_RUNTIME_DIR/containers/auth.json`, then `$XDG_CONFIG_HOME/containers/auth.json`, then the
/// docker config — each in a temporary directory, with the whole environment passed in.
@Suite struct ContainersAuthFileTests {
    /// A temporary HOME with the three places a test may fill.
    final class Home {
        private let scratch: Scratch
        var root: String { scratch.path }
        var runtimeDirectory: String { root + "/run" }
        var configHome: String { root + "/config" }
        var dockerConfig: String { root + "/docker" }

        var runtimeFile: String { runtimeDirectory + "/containers/auth.json" }
        var configFile: String { configHome + "/containers/auth.json" }
        var dockerFile: String { dockerConfig + "/config.json" }

        init() throws {
            scratch = try Scratch(prefix: "pushctl-containers-auth")
            for dir in [root + "/bin", runtimeDirectory + "/containers", configHome + "/containers", dockerConfig] {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
        }

        func write(_ path: String, _ text: String) throws {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        /// `{"auths": {KEY: {"auth": base64(user:password)}}}`.
        func writeAuths(_ path: String, _ entries: [String: String]) throws {
            let body = entries.map { "\"\($0.key)\": {\"auth\": \"\(Data($0.value.utf8).base64EncodedString())\"}" }.joined(separator: ", ")
            try write(path, "{\"auths\": {\(body)}}")
        }

        /// An environment with every location explicit (none of the machine's files can leak in).
        func environment(_ extra: [String: String] = [:]) -> [String: String] {
            [
                "HOME": root, "XDG_RUNTIME_DIR": runtimeDirectory, "XDG_CONFIG_HOME": configHome,
                "DOCKER_CONFIG": dockerConfig, "PATH": root + "/bin:/usr/bin:/bin"
            ].merging(extra) { $1 }
        }

        func store(_ extra: [String: String] = [:]) -> DockerCredentialStore {
            DockerCredentialStore(environment: environment(extra))
        }

        /// A `docker-credential-NAME` helper that knows nothing ("credentials not found").
        func emptyHelper(_ name: String) throws {
            let path = root + "/bin/docker-credential-" + name
            try write(path, "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
    }

    static let host = "registry.example.com:5000"

    @Test func searchPathFollowsTheManPage() throws {
        let home = try Home()
        #expect(home.store().searchPath.map(\.path) == [home.runtimeFile, home.configFile, home.dockerFile])
        // REGISTRY_AUTH_FILE is the primary file's explicit override: it replaces the runtime file.
        let overridden = home.store(["REGISTRY_AUTH_FILE": "/elsewhere/auth.json"]).searchPath
        #expect(overridden.map(\.path) == ["/elsewhere/auth.json", home.configFile, home.dockerFile])
        #expect(overridden.map(\.kind) == [.containersAuth, .containersAuth, .dockerConfig])
        #expect(overridden[0].namedBy == "REGISTRY_AUTH_FILE")
        // Defaults: ~/.config and ~/.docker; without XDG_RUNTIME_DIR, containers/image's per-UID file.
        let defaults = DockerCredentialStore(environment: ["HOME": "/h", "XDG_RUNTIME_DIR": ""]).searchPath.map(\.path)
        #expect(defaults == ["/run/containers/\(getuid())/auth.json", "/h/.config/containers/auth.json", "/h/.docker/config.json"])
        // The existing API keeps its shape.
        #expect(home.store().configFiles == [home.runtimeFile, home.configFile, home.dockerFile])
    }

    @Test func runtimeFileWinsOverConfigHomeAndDocker() throws {
        let home = try Home()
        try home.writeAuths(home.runtimeFile, [Self.host: "podman:runtime"])
        try home.writeAuths(home.configFile, [Self.host: "podman:config"])
        try home.writeAuths(home.dockerFile, [Self.host: "docker:config"])
        let found = try #require(try home.store().credentialsAndFile(for: Self.host))
        #expect(found.credentials == .basic(username: "podman", password: "runtime"))
        #expect(found.file.path == home.runtimeFile)
    }

    @Test func firstFileWithAnEntryForTheHostWins() throws {
        let home = try Home()
        try home.writeAuths(home.runtimeFile, ["other.example.com": "x:y"])
        try home.writeAuths(home.configFile, [Self.host: "podman:config"])
        try home.writeAuths(home.dockerFile, [Self.host: "docker:config", "docker-only.example.com": "d:o"])
        let store = home.store()
        #expect(try store.credentials(for: Self.host) == .basic(username: "podman", password: "config"))
        #expect(try store.credentials(for: "other.example.com") == .basic(username: "x", password: "y"))
        #expect(try store.credentialsAndFile(for: "docker-only.example.com")?.file.path == home.dockerFile)
        #expect(try store.credentials(for: "nowhere.example.com") == .none)
    }

    @Test func configHomeDefaultsToDotConfig() throws {
        let home = try Home()
        try home.writeAuths(home.root + "/.config/containers/auth.json", [Self.host: "from:dotconfig"])
        let store = DockerCredentialStore(environment: [
            "HOME": home.root, "XDG_RUNTIME_DIR": home.runtimeDirectory,
            "DOCKER_CONFIG": home.dockerConfig
        ])
        #expect(try store.credentials(for: Self.host) == .basic(username: "from", password: "dotconfig"))
    }

    @Test func registryAuthFileReplacesTheRuntimeFileAndTheSearchGoesOn() throws {
        let home = try Home()
        let override = home.root + "/override.json"
        try home.writeAuths(override, ["override.example.com": "o:v"])
        try home.writeAuths(home.runtimeFile, [Self.host: "podman:runtime"])
        try home.writeAuths(home.configFile, [Self.host: "podman:config"])
        let store = home.store(["REGISTRY_AUTH_FILE": override])
        #expect(try store.credentials(for: "override.example.com") == .basic(username: "o", password: "v"))
        // The runtime file is not read while the override is set; the search continues after it.
        #expect(try store.credentials(for: Self.host) == .basic(username: "podman", password: "config"))
    }

    /// The helper exits without reading its stdin: the store must not die of SIGPIPE.
    @Test func aHelperThatKnowsNothingLetsTheSearchGoOn() throws {
        let home = try Home()
        try home.emptyHelper("nothing")
        try home.write(home.runtimeFile, #"{"credHelpers": {"\#(Self.host)": "nothing"}}"#)
        try home.writeAuths(home.configFile, [Self.host: "after:helper"])
        #expect(try home.store().credentials(for: Self.host) == .basic(username: "after", password: "helper"))
    }

    @Test func namespaceKeysAreNotRegistryCredentials() throws {
        let home = try Home()
        // containers-auth.json(5): `quay.io/team` is for that namespace only, not the whole registry.
        try home.writeAuths(home.runtimeFile, ["\(Self.host)/team/app": "ns:only", "https://\(Self.host)/v1/": "url:form"])
        #expect(try home.store().credentials(for: Self.host) == .basic(username: "url", password: "form"))
        try home.writeAuths(home.runtimeFile, ["\(Self.host)/team": "ns:only"])
        #expect(try home.store().credentials(for: Self.host) == .none)
    }

    @Test func dockerHubKeysMatchEachOther() throws {
        let home = try Home()
        try home.writeAuths(home.runtimeFile, ["docker.io": "hub:user"])
        #expect(try home.store().credentials(for: "registry-1.docker.io") == .basic(username: "hub", password: "user"))
        #expect(try home.store().credentials(for: "index.docker.io") == .basic(username: "hub", password: "user"))
    }

    @Test func identityTokensInAuthFiles() throws {
        let home = try Home()
        try home.write(home.configFile, #"{"auths": {"\#(Self.host)": {"auth": "", "identitytoken": "refresh"}}}"#)
        #expect(try home.store().credentials(for: Self.host) == .identityToken("refresh"))
    }

    @Test func missingRegistryAuthFileIsAnErrorNamingIt() throws {
        let home = try Home()
        try home.writeAuths(home.configFile, [Self.host: "would:work"])
        let missing = home.root + "/typo/auth.json"
        let error = try #require(throws: CredentialError.self) {
            try home.store(["REGISTRY_AUTH_FILE": missing]).credentials(for: Self.host)
        }
        #expect(error == .unreadableConfig(path: missing, message: "REGISTRY_AUTH_FILE names this file, but it does not exist"))
        #expect(error.description.contains(missing))
        // Files found by default locations may be absent: nothing, no error.
        try FileManager.default.removeItem(atPath: home.configFile)
        #expect(try home.store().credentials(for: Self.host) == .none)
    }

    @Test func malformedJSONNamesTheFileAndThePosition() throws {
        let home = try Home()
        // A comma missing between two entries, as hand edits leave it.
        try home.write(
            home.configFile, "{\n  \"auths\": {\n    \"\(Self.host)\": {\"auth\": \"eDp5\"}\n    \"other.example.com\": {}\n  }\n}\n")
        let error = try #require(throws: CredentialError.self) { try home.store().credentials(for: Self.host) }
        #expect(error == .unreadableConfig(path: home.configFile, message: "not valid JSON: syntax error at line 4, column 5"))
        #expect(error.description.contains(home.configFile))
        #expect(!error.description.contains("DecodingError"))
        #expect(!error.description.contains("dataCorrupted"))
    }

    @Test func wrongShapeNamesTheKeyPath() throws {
        let home = try Home()
        try home.write(home.runtimeFile, #"{"auths": {"\#(Self.host)": {"auth": 42}}}"#)
        let error = try #require(throws: CredentialError.self) { try home.store().credentials(for: Self.host) }
        guard case .unreadableConfig(let path, let message) = error else { Issue.record("\(error)"); return }
        #expect(path == home.runtimeFile)
        #expect(message.hasPrefix("not a credentials file: expected String at .auths.\(Self.host).auth"), "\(message)")
        #expect(!message.contains("typeMismatch"))
        try home.write(home.runtimeFile, #"["not", "an", "object"]"#)
        let topLevel = try #require(throws: CredentialError.self) { try home.store().credentials(for: Self.host) }
        #expect(topLevel.description.contains(home.runtimeFile))
        #expect(topLevel.description.contains("the top level"), "\(topLevel)")
    }

    @Test func aDirectoryInPlaceOfTheFileIsAnError() throws {
        let home = try Home()
        try FileManager.default.createDirectory(atPath: home.configFile, withIntermediateDirectories: true)
        let error = try #require(throws: CredentialError.self) { try home.store().credentials(for: Self.host) }
        #expect(error == .unreadableConfig(path: home.configFile, message: "it is a directory, not a JSON file"))
    }

    @Test func emptyFilesHoldNoEntriesAndLaterFilesAreReadOnlyWhenNeeded() throws {
        let home = try Home()
        try home.write(home.runtimeFile, "")
        try home.writeAuths(home.configFile, [Self.host: "after:empty"])
        try home.write(home.dockerFile, "{ not json")
        // The broken docker config is never opened: an earlier file answered.
        #expect(try home.store().credentials(for: Self.host) == .basic(username: "after", password: "empty"))
        // Asking for a host no earlier file knows reaches it, and that is an error.
        #expect(
            throws: CredentialError.unreadableConfig(path: home.dockerFile, message: "not valid JSON: syntax error at line 1, column 3")
        ) {
            try home.store().credentials(for: "other.example.com")
        }
    }

    @Test func credsStoreBelongsToTheDockerConfigOnly() throws {
        let home = try Home()
        // A credsStore in a containers auth file is not part of that format: it is not run (if it
        // were, the missing helper would be an error).
        try home.write(home.runtimeFile, #"{"credsStore": "absent-helper"}"#)
        try home.writeAuths(home.dockerFile, [Self.host: "docker:config"])
        #expect(try home.store().credentials(for: Self.host) == .basic(username: "docker", password: "config"))
    }
}
