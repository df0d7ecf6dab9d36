import Foundation
import OCI
import RegistryHarness
import Testing

/// `pushctl apply` against registries that need credentials: htpasswd over TLS with the job's
/// `ca:`, and a token service (where a cross-repository mount needs a pull scope on the source).
@Suite(.serialized) struct ApplyAuthIntegrationTests {
    @Test func basicAuthOverTLSWithTheJobsCAAndCredentialsFromVariables() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.basicAuthTLS)
        let username = try #require(registry.username), password = try #require(registry.password)
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 30_000)
        let job = try scratch.job(
            JobSpec("tls")
                .registry(
                    "secure", url: registry.baseURL,
                    extra: [
                        "ca: \(try #require(registry.caPath))", "auth:", "  username: ${TEST_REGISTRY_USER}",
                        "  password: ${TEST_REGISTRY_PASSWORD}"
                    ]
                )
                .image("oci:image:1", repository: "team/secure", tags: ["1"], targets: ["secure"]))
        var environment = scratch.environment
        environment["TEST_REGISTRY_USER"] = username
        environment["TEST_REGISTRY_PASSWORD"] = password
        let r = try apply(job, scratch: scratch, environment: environment)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        let events = parseEvents(r.stdout)
        #expect(events.filter { $0.name == "push-end" }.map(\.status) == ["pushed"])
        #expect(events.first { $0.name == "push-end" }?.object["endpoint"] as? String == registry.baseURL)

        let raw = try TestTools.run(
            "skopeo",
            [
                "inspect", "--raw", "--tls-verify=false", "--creds", "\(username):\(password)",
                "docker://\(registry.host)/team/secure:1"
            ])
        #expect(Digest.of(Array(raw.utf8)) == image.digest)

        // The password is nowhere: not in the output, not in the state database, not in history.
        #expect(!r.stdout.contains(password) && !r.stderr.contains(password))
        let database = try Data(contentsOf: URL(fileURLWithPath: scratch.state))
        #expect(database.range(of: Data(password.utf8)) == nil, "the state database holds the password")
        let history = try run(
            pushctlBinary, ["history", "--output", "json", "--state", scratch.state],
            environment: scratch.environment, directory: scratch.path)
        #expect(history.status == 0)
        #expect(!history.stdout.contains(password))
        #expect(history.stdout.contains(image.digest.string))
    }

    @Test func tokenAuthMountsIntoASecondRepository() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.tokenAuth)
        let username = try #require(registry.username), password = try #require(registry.password)
        let writer = try scratch.layout()
        let layers = [try writer.addRandomLayer(size: 30_000), try writer.addRandomLayer(size: 40_000)]
        let image = try writer.addImage(tag: "1", layers: layers)
        func job(_ repository: String) throws -> String {
            try scratch.job(
                JobSpec("token")
                    .registry("tokens", url: registry.baseURL, extra: ["auth:", "  username: \(username)", "  password: \(password)"])
                    .image("oci:image:1", repository: repository, tags: ["1"], targets: ["tokens"]),
                file: repository.replacingOccurrences(of: "/", with: "-"))
        }
        let first = try apply(try job("team/a"), scratch: scratch)
        #expect(first.status == 0, "\(first.stderr)\n\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["pushed"])

        let second = try apply(try job("team/b"), scratch: scratch)
        #expect(second.status == 0, "\(second.stderr)\n\(second.stdout)")
        let blobs = second.blobs(repository: "team/b")
        // The config and both layers, each mounted from team/a.
        #expect(
            Set(blobs.filter { $0.status == "mounted" }.compactMap(\.digest)).isSuperset(of: layers.map(\.digest.string)),
            "\(second.stdout)")
        #expect(blobs.allSatisfy { $0.status == "mounted" }, "\(second.stdout)")
        #expect(second.runEnd?.int("bytesUploaded") == 0)
        let mounts = registry.accessLog().filter { $0.method == "POST" && $0.uri.contains("/v2/team/b/") && $0.uri.contains("mount=") }
        #expect(!mounts.isEmpty && mounts.allSatisfy { $0.status == 201 }, "\(registry.accessLog())")
        let raw = try TestTools.run(
            "skopeo",
            [
                "inspect", "--raw", "--tls-verify=false", "--creds", "\(username):\(password)",
                "docker://\(registry.host)/team/b:1"
            ])
        #expect(Digest.of(Array(raw.utf8)) == image.digest)
    }
}

/// `insecure: true` (docs/jobfile.md "Endpoint fallback order"): TLS without verification, and the
/// plain-http twin of an https endpoint whose TLS handshake fails.
@Suite(.serialized) struct ApplyInsecureIntegrationTests {
    @Test func insecureSkipsVerificationOfAnUnknownCA() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.tls)
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 10_000)
        func job(insecure: Bool) throws -> String {
            try scratch.job(
                JobSpec("insecure")
                    .registry("lab", url: registry.baseURL, extra: ["insecure: \(insecure)"])
                    .image("oci:image:1", repository: "team/lab", tags: ["1"], targets: ["lab"]),
                file: "insecure-\(insecure)")
        }
        // Without `insecure`, the unknown CA fails the push, naming TLS.
        let refused = try apply(try job(insecure: false), scratch: scratch)
        #expect(refused.status == 1, "\(refused.stderr)\n\(refused.stdout)")
        let error = refused.pushEnds().first?.object["error"] as? String ?? ""
        #expect(error.contains("TLS") || error.contains("certificate"), "\(error)")
        #expect(registry.requestCount(method: "PUT") == 0)

        let r = try apply(try job(insecure: true), scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map { $0.object["endpoint"] as? String } == [registry.baseURL])
        let raw = try TestTools.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/team/lab:1"])
        #expect(Digest.of(Array(raw.utf8)) == image.digest)
    }

    @Test func httpsEndpointOfAPlainRegistryFallsBackToItsHTTPTwin() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start(.plain)
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 10_000)
        let job = try scratch.job(
            JobSpec("twin")
                .registry("lab", url: "https://\(registry.host)", extra: ["insecure: true"])
                .image("oci:image:1", repository: "team/twin", tags: ["1"], targets: ["lab"]))
        let r = try apply(job, scratch: scratch)
        #expect(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        #expect(r.pushEnds().map { $0.object["endpoint"] as? String } == ["http://\(registry.host)"])
        #expect(try pushedDigest(registry, "team/twin", "1") == image.digest)
        let shown = try pushctlJSON(["show", "last"], scratch: scratch)
        let pushes = try #require(shown["pushes"] as? [[String: Any]])
        #expect(pushes.map { $0["endpoint"] as? String } == ["http://\(registry.host)"])
    }
}
