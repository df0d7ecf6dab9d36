import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl apply` to a registry with htpasswd basic auth whose job names no `auth:`: the
/// credentials come from the containers auth files, as podman/skopeo find them (docs/jobfile.md,
/// containers-auth.json(5)).
@Suite(.serialized) struct ContainersAuthIntegrationTests {
    /// A job pushing one small layout image to `registry`, with no `auth:`.
    func job(_ scratch: Scratch, _ registry: RegistryServer, repository: String) throws -> String {
        let writer = try scratch.layout()
        _ = try writer.addImage(tag: "1", randomLayerSize: 20_000)
        return try scratch.job(
            JobSpec("podman-auth")
                .registry("locked", url: registry.baseURL)
                .image("oci:image:1", repository: repository, tags: ["1"], targets: ["locked"]))
    }

    static func authJSON(host: String, username: String, password: String) -> String {
        #"{"auths": {"\#(host)": {"auth": "\#(Data("\(username):\(password)".utf8).base64EncodedString())"}}}"#
    }

    @Test func applyUsesCredentialsFromTheRuntimeAuthFileOnly() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.basicAuth)
        defer { registry.stop() }
        let username = try #require(registry.username), password = try #require(registry.password)
        let file = try job(scratch, registry, repository: "team/podman")

        // Without the auth file the registry refuses the push: the credentials below are needed.
        let anonymous = try apply(file, scratch: scratch)
        #expect(anonymous.status != 0, "\(anonymous.stdout)")
        #expect(anonymous.pushEnds().allSatisfy { $0.status != "pushed" }, "\(anonymous.stdout)")

        // podman login writes $XDG_RUNTIME_DIR/containers/auth.json; nothing else holds credentials
        // (Scratch's environment points DOCKER_CONFIG and XDG_CONFIG_HOME at empty places).
        let runtime = scratch.sub("runtime")
        try FileManager.default.createDirectory(atPath: runtime + "/containers", withIntermediateDirectories: true)
        try Self.authJSON(host: registry.host, username: username, password: password)
            .write(toFile: runtime + "/containers/auth.json", atomically: true, encoding: .utf8)
        var environment = scratch.environment
        environment["XDG_RUNTIME_DIR"] = runtime
        let r = try apply(file, scratch: scratch, environment: environment)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        let events = parseEvents(r.stdout)
        #expect(events.filter { $0.name == "push-end" }.map(\.status) == ["pushed"], "\(r.stdout)")

        // The registry serves what was pushed, to the same user.
        let raw = try TestTools.run(
            "skopeo",
            [
                "inspect", "--raw", "--tls-verify=false", "--creds", "\(username):\(password)",
                "docker://\(registry.host)/team/podman:1"
            ])
        #expect(raw.contains("\"layers\""))
        #expect(!r.stdout.contains(password) && !r.stderr.contains(password))
    }

    @Test func aMissingRegistryAuthFileStopsApplyAndNamesTheFile() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.basicAuth)
        defer { registry.stop() }
        let file = try job(scratch, registry, repository: "team/typo")
        let missing = scratch.sub("typo/auth.json")
        var environment = scratch.environment
        environment["REGISTRY_AUTH_FILE"] = missing
        let r = try run(
            pushctlBinary, ["apply", "--output", "json", "--state", scratch.state, file],
            environment: environment, directory: scratch.path)
        #expect(r.status != 0)
        let text = r.stdout + r.stderr
        #expect(text.contains(missing), "\(text)")
        #expect(text.contains("REGISTRY_AUTH_FILE names this file, but it does not exist"), "\(text)")
        #expect(parseEvents(r.stdout).allSatisfy { !($0.name == "push-end" && $0.status == "pushed") })
    }
}
