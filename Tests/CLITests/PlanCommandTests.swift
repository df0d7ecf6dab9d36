import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct PlanCommandTests {
    struct Document: Decodable {
        struct Plan: Decodable {
            struct Item: Decodable {
                struct Endpoint: Decodable { var url: String; var onlyIfTLSHandshakeFails: Bool }
                var id: String
                var registry: String
                var repository: String
                var endpoints: [Endpoint]
            }
            var job: String
            var items: [Item]
        }
        var schema: String
        var offline: Bool
        var plans: [Plan]
    }

    @Test func releasePlanJSONValidatesAgainstItsSchemaAndShowsEndpointOrder() throws {
        let r = try pushctl("plan", "--offline", "--output", "json", "jobs/release.yaml")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONDecoder().decode(Document.self, from: Data(r.stdout.utf8))
        #expect(doc.schema == "pushctl-plan-v1")
        #expect(doc.offline)
        let items = try #require(doc.plans.first).items
        #expect(items.map(\.registry) == ["prod", "lab", "lab", "lab"])
        #expect(items[0].endpoints.map(\.url) == ["https://registry.example.com", "https://registry-dr.example.com"])
        #expect(items[1].endpoints.map(\.url) == ["http://127.0.0.1:5000"])

        let scratch = try Scratch()
        let planFile = try scratch.write("plan.json", r.stdout)
        let check = try SchemaValidator.validate([planFile], against: "plan-v1.schema.json")
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout == "ok \(planFile)\n")
    }

    @Test func everyExamplePlanValidatesAgainstTheSchema() throws {
        let files = try packageFiles(in: "jobs") + packageFiles(in: "examples")
        let r = try run(pushctlBinary, ["plan", "--offline", "--output", "json"] + files, environment: [:])
        #expect(r.status == 0, "\(r.stderr)")
        let scratch = try Scratch()
        let planFile = try scratch.write("plans.json", r.stdout)
        let check = try SchemaValidator.validate([planFile], against: "plan-v1.schema.json")
        #expect(check.stdout == "ok \(planFile)\n", "\(check.stdout)\(check.stderr)")
        let doc = try JSONDecoder().decode(Document.self, from: Data(r.stdout.utf8))
        #expect(doc.plans.count == files.count)
    }

    @Test func insecureTwinAppearsInTextOutput() throws {
        let r = try pushctl("plan", "--offline", "examples/registries.yaml")
        #expect(r.status == 0)
        #expect(
            r.stdout.contains(
                """
                      1. https://lab.internal:5000 (TLS not verified)
                      2. http://lab.internal:5000 (only if the TLS handshake fails)
                """))
        #expect(r.stdout.contains("1. https://registry-1.docker.io"))
        #expect(!r.stdout.contains("not-a-real-password"))
    }

    @Test func onlinePlanOfUnbuiltSourcesExits2NamingThem() throws {
        // A job whose sources are not built; its registry is a closed loopback port, and no
        // request is made anyway: the plan stops at the unreadable source.
        let scratch = try Scratch()
        let job = try scratch.job(
            JobSpec("unbuilt", compact: true)
                .registry("lab", url: "http://127.0.0.1:9")
                .image("oci:build/app:1.0", repository: "team/app", tags: ["1.0"], targets: ["lab"]),
            file: "job")
        let r = try pushctl("plan", job)
        #expect(r.status == 2)
        #expect(r.stderr.contains("error: source oci:build/app:1.0: "))
        #expect(r.stderr.contains("no such file or directory"))
    }

    @Test func offlinePlanNotesUnbuiltSourcesAndReadsTheOthers() throws {
        let r = try pushctl("plan", "--offline", "jobs/release.yaml", "examples/quickstart.yaml")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: source docker-archive:../dist/worker.tar: "))
        #expect(!r.stderr.contains("docker://"), "registry sources are not read offline")
        let digest = try String(contentsOfFile: packageRoot + "/examples/images/hello/index.json", encoding: .utf8)
            .firstMatch(of: /sha256:[0-9a-f]{64}/).map { String($0.output) }
        #expect(r.stdout.contains("digest:     \(try #require(digest)) (application/vnd.oci.image.manifest.v1+json, "))
    }

    /// Offline, a source that is not built yet is a note (exit 0), but one that exists and cannot
    /// be read (a null `manifest.json`, a layout missing a blob) is invalid input, as online.
    @Test func offlinePlanRefusesASourceThatExistsButCannotBeRead() throws {
        let images = try TestImages()
        let scratch = try Scratch()
        for (source, fault) in [
            ("docker-archive:\(images.nullManifestArchive)", "manifest.json"), ("oci:\(images.missingBlobLayout)", "missing")
        ] {
            let job = try scratch.job(
                JobSpec("broken").registry("r", url: "https://registry.example.com").image(
                    source, repository: "team/app", tags: ["1"], targets: ["r"]))
            for round in 1...2 {
                let r = try run(pushctlBinary, ["plan", "--offline", job], environment: [:], directory: scratch.path)
                #expect(r.status == 2, "round \(round), \(source): \(r.stderr)")
                #expect(r.stderr.contains("error: "), "\(r.stderr)")
                #expect(r.stderr.contains(fault), "\(r.stderr)")
            }
        }
    }

    @Test func invalidJobStopsThePlanWithExit2() throws {
        let r = try pushctl("plan", "--offline", "jobs/release.yaml", "Tests/CLITests/Fixtures/five-mistakes.yaml")
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }.count == 5)
    }

    @Test func secretsNeverAppearInJSON() throws {
        let r = try run(
            pushctlBinary, ["plan", "--offline", "--output", "json", "jobs/release.yaml"],
            environment: ["PROD_PASSWORD": "very-secret-value"])
        #expect(r.status == 0)
        #expect(!r.stdout.contains("very-secret-value"))
    }
}
