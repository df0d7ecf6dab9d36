import Foundation
import OCI
import RegistryHarness
import Testing

/// Failure paths as features (docs/run.md): every step of a push × every failure class, each
/// followed by a rerun, against docker-registry behind the fault proxy. Each case asserts the exit
/// code, what is on the registry and what the state database says — after the failure and after
/// the rerun (the rerun is where a fallback once crashed on the second night).
@Suite(.serialized) struct FailureMatrixIntegrationTests {
    /// The steps of a push, with the request the fault hits.
    enum Step: String, CaseIterable, CustomTestStringConvertible {
        case tagCheck, blobCheck, mount, upload, manifest
        var testDescription: String { rawValue }

        var method: String {
            switch self {
            case .tagCheck, .blobCheck: "HEAD"
            case .mount: "POST"
            case .upload, .manifest: "PUT"
            }
        }

        var pathContains: String {
            switch self {
            case .tagCheck, .manifest: "/manifests/"
            case .blobCheck: "/blobs/sha256:"
            case .mount: "mount="
            case .upload: "/blobs/uploads/"
            }
        }

        /// A tag check happens on a repository pushctl pushed before; a mount needs another
        /// repository the state database places the blobs in; the rest push a fresh image.
        var repository: String {
            switch self {
            case .tagCheck: "team/base"
            case .mount: "team/mounted"
            case .blobCheck, .upload, .manifest: "team/fresh"
            }
        }
        var usesSeededImage: Bool { self == .tagCheck || self == .mount }
    }

    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        /// 503 on every attempt: the endpoint is unusable once the retries are spent.
        case serverError
        /// The connection dropped once: the retry lands.
        case droppedConnection
        var testDescription: String { rawValue }

        func rule(_ step: Step) -> FaultProxy.Rule {
            switch self {
            case .serverError:
                .init(method: step.method, pathContains: step.pathContains, fault: .status(503, retryAfter: "0"), times: 1000)
            case .droppedConnection: .init(method: step.method, pathContains: step.pathContains, fault: .dropAfterBodyBytes(0), times: 1)
            }
        }
    }

    struct Setup {
        let scratch: Scratch
        let registry: RegistryServer
        let proxy: FaultProxy
        let seeded: Descriptor
        let fresh: Descriptor

        init() throws {
            scratch = try Scratch()
            registry = try RegistryServer.start()
            proxy = try FaultProxy(upstreamPort: registry.port)
            let writer = try scratch.layout()
            seeded = try writer.addImage(tag: "seeded", randomLayerSize: 40_000)
            fresh = try writer.addImage(tag: "fresh", randomLayerSize: 30_000)
        }

        func job(_ name: String, tag: String, repository: String) throws -> String {
            try scratch.job(
                JobSpec(name, defaults: ["retries": "2"])
                    .registry("lab", url: proxy.baseURL)
                    .image("oci:image:\(tag)", repository: repository, tags: ["1"], targets: ["lab"]))
        }

        /// The last push of `repository:1` in the state database.
        func lastPush(_ repository: String) throws -> [String: Any]? {
            let shown = try pushctlJSON(["show", "last"], scratch: scratch)
            return (shown["pushes"] as? [[String: Any]])?.last { $0["repository"] as? String == repository }
        }
    }

    @Test(arguments: Step.allCases, Fault.allCases)
    func aFaultAtAStepThenARerun(_ step: Step, _ fault: Fault) throws {
        let setup = try Setup()
        // The seeded image is in team/base already (tag checks and mount candidates need that).
        let seed = try apply(try setup.job("seed", tag: "seeded", repository: "team/base"), scratch: setup.scratch)
        #expect(seed.status == 0, "\(seed.stderr)")
        let image = step.usesSeededImage ? setup.seeded : setup.fresh
        let job = try setup.job("faulted", tag: step.usesSeededImage ? "seeded" : "fresh", repository: step.repository)

        setup.proxy.add(fault.rule(step))
        let first = try apply(job, scratch: setup.scratch)
        // A server error that outlasts the retries fails the push — except at a mount, which only
        // falls through to an upload. A dropped connection is retried and lands.
        let fails = fault == .serverError && step != .mount
        let hit = setup.proxy.entries.filter { $0.faulted }
        #expect(
            !hit.isEmpty && hit.allSatisfy { $0.method == step.method && $0.target.contains(step.pathContains) },
            "the fault hit the step: \(hit.map { "\($0.method) \($0.target)" })")
        #expect(first.status == (fails ? 1 : 0), "\(first.stderr)\n\(first.stdout)")
        let recorded = try setup.lastPush(step.repository)
        if fails {
            #expect(first.pushEnds().map(\.status) == ["failed"])
            #expect(recorded?["status"] as? String == "failed", "\(String(describing: recorded))")
            #expect((recorded?["error"] as? String)?.isEmpty == false)
            if step != .tagCheck {
                #expect(
                    setup.registry.requestCount(method: "PUT", pathContains: "/\(step.repository)/manifests/1") == 0,
                    "no tag is put after a failed step")
            }
        } else {
            #expect(recorded?["status"] as? String == (step == .tagCheck ? "unchanged" : "pushed"), "\(String(describing: recorded))")
            #expect(try pushedDigest(setup.registry, step.repository, "1") == image.digest)
        }

        // The rerun, with the fault gone: the push lands (or stays unchanged) and says so.
        setup.proxy.clearRules()
        let rerun = try apply(job, scratch: setup.scratch)
        #expect(rerun.status == 0, "rerun: \(rerun.stderr)\n\(rerun.stdout)")
        let expected = fails && step != .tagCheck ? "pushed" : "unchanged"
        #expect(rerun.pushEnds().map(\.status) == [expected], "\(rerun.stdout)")
        #expect(try setup.lastPush(step.repository)?["status"] as? String == expected)
        #expect(try pushedDigest(setup.registry, step.repository, "1") == image.digest)
    }

    /// Endpoint-level failures: the url cannot be used at all. Without a mirror the push fails
    /// (exit 1, nothing on the registry, a failed record); with one it lands there — on the first
    /// run and on every rerun.
    enum Unusable: String, CaseIterable, CustomTestStringConvertible {
        case unresolvable, refused, tlsFailure
        var testDescription: String { rawValue }
    }

    @Test(arguments: Unusable.allCases, [false, true])
    func anUnusableEndpointThenARerun(_ failure: Unusable, withMirror: Bool) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        var tlsRegistry: RegistryServer?
        let url: String
        switch failure {
        case .unresolvable: url = "http://pushctl-matrix.invalid:5000"
        case .refused: url = "http://127.0.0.1:\(try Sockets.freePort())"
        case .tlsFailure:
            // A real TLS registry whose CA the job does not name: verification fails.
            tlsRegistry = try RegistryServer.start(.tls)
            url = tlsRegistry!.baseURL
        }
        let writer = try scratch.layout()
        let image = try writer.addImage(tag: "1", randomLayerSize: 20_000)
        let job = try scratch.job(
            JobSpec("unusable", defaults: ["retries": "2"])
                .registry(
                    "main", url: url, mirrors: withMirror ? [registry.baseURL] : [],
                    extra: failure == .unresolvable ? ["insecure: true"] : []
                )
                .image("oci:image:1", repository: "team/app", tags: ["1"], targets: ["main"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            let shown = try pushctlJSON(["show", "last"], scratch: scratch)
            let pushes = shown["pushes"] as? [[String: Any]] ?? []
            if withMirror {
                #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
                #expect(pushes.map { $0["status"] as? String } == [night == 1 ? "pushed" : "unchanged"])
                #expect(pushes.map { $0["endpoint"] as? String } == [registry.baseURL])
                #expect(try pushedDigest(registry, "team/app", "1") == image.digest)
            } else {
                #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
                #expect(pushes.map { $0["status"] as? String } == ["failed"])
                #expect(
                    (pushes.first?["error"] as? String)?.contains("no endpoint of registry main could be used") == true,
                    "\(pushes)")
                #expect(tlsRegistry?.requestCount(method: "PUT") ?? 0 == 0)
                let run = shown["run"] as? [String: Any]
                #expect(run?["status"] as? String == "failed")
            }
        }
    }

    /// A registry (or a proxy before it) that answers 201 to a tag's PUT without storing it: the
    /// first push of the tag is confirmed with a HEAD, so the push fails instead of being recorded,
    /// and the rerun puts it.
    @Test func aManifestAcceptedButNotStoredIsNotRecorded() throws {
        let setup = try Setup()
        let job = try setup.job("lost", tag: "fresh", repository: "team/lost")
        setup.proxy.add(.init(method: "PUT", pathContains: "/team/lost/manifests/1", fault: .status(201, retryAfter: nil)))
        let first = try apply(job, scratch: setup.scratch)
        #expect(first.status == 1, "\(first.stdout)")
        #expect(first.pushEnds().map(\.status) == ["failed"])
        #expect((first.pushEnds().first?.object["error"] as? String)?.contains("does not hold it") == true, "\(first.stdout)")
        #expect(try setup.lastPush("team/lost")?["status"] as? String == "failed")

        let rerun = try apply(job, scratch: setup.scratch)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.pushEnds().map(\.status) == ["pushed"])
        #expect(try pushedDigest(setup.registry, "team/lost", "1") == setup.fresh.digest)
    }
}
