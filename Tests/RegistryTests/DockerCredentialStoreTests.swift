import Foundation
import OCI
import RegistryHarness
import Testing
@testable import Registry

/// Docker config lookups with a temporary DOCKER_CONFIG and helper scripts on a temporary PATH.
@Suite struct DockerCredentialStoreTests {
    /// A temporary DOCKER_CONFIG directory with config.json and a bin directory of helpers.
    final class Fixture {
        private let scratch: Scratch
        var root: String { scratch.path }
        var configDirectory: String { root + "/docker" }
        var binDirectory: String { root + "/bin" }

        init(config: String) throws {
            scratch = try Scratch(prefix: "pushctl-creds")
            try FileManager.default.createDirectory(atPath: root + "/docker", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
            try config.write(toFile: configDirectory + "/config.json", atomically: true, encoding: .utf8)
        }

        /// A `docker-credential-NAME` script answering `answers[server]`, else "not found".
        func helper(_ name: String, answers: [String: (user: String, secret: String)]) throws {
            var script = "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\ncase \"$server\" in\n"
            for (server, answer) in answers {
                script +=
                    "  '\(server)') printf '{\"ServerURL\":\"%s\",\"Username\":\"\(answer.user)\",\"Secret\":\"\(answer.secret)\"}' \"$server\" ;;\n"
            }
            script += "  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n"
            let path = binDirectory + "/docker-credential-" + name
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }

        func store(extra: [String: String] = [:]) -> DockerCredentialStore {
            DockerCredentialStore(
                environment: [
                    "DOCKER_CONFIG": configDirectory, "PATH": binDirectory + ":/usr/bin:/bin",
                    "HOME": root
                ].merging(extra) { $1 })
        }
    }

    static func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    @Test func authsEntriesResolveBasicAndIdentityTokens() throws {
        let fixture = try Fixture(
            config: """
                {"auths": {
                  "127.0.0.1:5000": {"auth": "\(Self.base64("alice:pa:ss"))"},
                  "https://index.docker.io/v1/": {"auth": "", "identitytoken": "hub-refresh"},
                  "https://registry.example.com/v1/": {"auth": "\(Self.base64("bob:pw"))"}
                }}
                """)
        let store = fixture.store()
        #expect(try store.credentials(for: "127.0.0.1:5000") == .basic(username: "alice", password: "pa:ss"))
        #expect(try store.credentials(for: "docker.io") == .identityToken("hub-refresh"))
        #expect(try store.credentials(for: "registry-1.docker.io") == .identityToken("hub-refresh"))
        #expect(try store.credentials(for: "registry.example.com") == .basic(username: "bob", password: "pw"))
        #expect(try store.credentials(for: "other.example.com") == .none)
    }

    @Test func credHelperWinsForItsHost() throws {
        let fixture = try Fixture(
            config: """
                {"credHelpers": {"helped.example.com": "pushctltest"},
                 "auths": {"helped.example.com": {"auth": "\(Self.base64("stale:old"))"}}}
                """)
        try fixture.helper("pushctltest", answers: ["helped.example.com": ("hal", "s3cret")])
        #expect(try fixture.store().credentials(for: "helped.example.com") == .basic(username: "hal", password: "s3cret"))
    }

    @Test func credsStoreAnswersAndFallsBackToAuthsWhenItHasNothing() throws {
        let fixture = try Fixture(
            config: """
                {"credsStore": "pushctlstore",
                 "auths": {"plain.example.com": {"auth": "\(Self.base64("carol:pw"))"}}}
                """)
        try fixture.helper(
            "pushctlstore",
            answers: [
                "store.example.com": ("dave", "from-store"),
                "token.example.com": ("<token>", "refresh-from-store"),
                DockerCredentialStore.dockerHubServer: ("hubuser", "hubpw")
            ])
        let store = fixture.store()
        #expect(try store.credentials(for: "store.example.com") == .basic(username: "dave", password: "from-store"))
        #expect(try store.credentials(for: "token.example.com") == .identityToken("refresh-from-store"))
        #expect(try store.credentials(for: "docker.io") == .basic(username: "hubuser", password: "hubpw"))
        #expect(try store.credentials(for: "plain.example.com") == .basic(username: "carol", password: "pw"))
    }

    @Test func registryAuthFileIsReadFirst() throws {
        let fixture = try Fixture(config: #"{"auths": {"r.example.com": {"auth": "\#(Self.base64("docker:cfg"))"}}}"#)
        let authFile = fixture.root + "/auth.json"
        try #"{"auths": {"r.example.com": {"auth": "\#(Self.base64("podman:file"))"}}}"#.write(
            toFile: authFile, atomically: true, encoding: .utf8)
        #expect(
            try fixture.store(extra: ["REGISTRY_AUTH_FILE": authFile]).credentials(for: "r.example.com")
                == .basic(username: "podman", password: "file"))
        #expect(try fixture.store().credentials(for: "r.example.com") == .basic(username: "docker", password: "cfg"))
    }

    @Test func missingHelperIsAClearError() throws {
        let fixture = try Fixture(config: #"{"credHelpers": {"x.example.com": "absent"}}"#)
        let error = try #require(throws: CredentialError.self) { try fixture.store().credentials(for: "x.example.com") }
        #expect(error.description.contains("docker-credential-absent"))
        #expect(error.description.contains("x.example.com"))
    }

    @Test func credentialsFromConfigPushToABasicAuthRegistry() throws {
        let server = try RegistryServer.start(.basicAuth)
        defer { server.stop() }
        let user = try #require(server.username), password = try #require(server.password)
        let auth = Self.base64("\(user):\(password)")
        let fixture = try Fixture(config: #"{"auths": {"\#(server.host)": {"auth": "\#(auth)"}}}"#)
        let client = try RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL), credentialProvider: fixture.store())
        let blob = TestBlob.random(size: 2_000)
        try client.uploadBlob("team/app", blob.payload())
        #expect(try client.blobExists("team/app", blob.digest) == 2_000)
    }
}
