import Foundation
import OCI
import RegistryHarness
import Signing
import Testing

/// Supply-chain gates against docker-registry 2.8 (docs/jobfile.md "Signatures"): `verify:`
/// refuses images without a valid signature before anything of them is pushed, `sign:` signs what
/// pushctl pushed, and both are in the ledger. Every case runs twice (first run and rerun).
@Suite(.serialized) struct SigningIntegrationTests {
    static let passphrase = "correct horse"

    /// A key pair written the way `pushctl key generate` writes it (0600 private key).
    struct KeyPair {
        var key: SigningKey
        var privatePath: String
        var publicPath: String
    }

    static func keyPair(_ scratch: Scratch, _ name: String) throws -> KeyPair {
        try FileManager.default.createDirectory(atPath: scratch.sub("keys"), withIntermediateDirectories: true)
        let privatePath = scratch.sub("keys/\(name).key"), publicPath = scratch.sub("keys/\(name).pub")
        try KeyFiles.writeKeyPair(passphrase: passphrase, privateKeyPath: privatePath, publicKeyPath: publicPath)
        let key = try KeyFiles.loadSigningKey(path: privatePath, passphrase: passphrase)
        return KeyPair(key: key, privatePath: privatePath, publicPath: publicPath)
    }

    /// Where most cases start: a scratch folder, a source and a target registry.
    static func start() throws -> (scratch: Scratch, source: RegistryServer, target: RegistryServer) {
        (try Scratch(), try RegistryServer.start(), try RegistryServer.start())
    }

    /// A job `name` that pushes to the registry `prod` at `url`.
    static func toProd(_ name: String, url: String, defaults: [String: String] = [:]) -> JobSpec {
        JobSpec(name, defaults: defaults).registry("prod", url: url)
    }

    /// The job `seed`, which pushes to the registry `source` at `registry`.
    static func seeding(_ registry: RegistryServer) -> JobSpec {
        JobSpec("seed").registry("source", url: registry.baseURL)
    }

    /// `update`'s payload and config blobs, written into `writer`.
    static func addBlobs(of update: SignatureManifestUpdate, to writer: LayoutWriter) throws {
        _ = try writer.addBlob(update.payload, mediaType: SimpleSigningPayload.mediaType)
        _ = try writer.addBlob(update.config, mediaType: update.configDescriptor.mediaType)
    }

    /// How a source image is signed.
    enum Signature {
        /// A valid signature by `key` naming the image's digest and `identity`.
        case by(SigningKey)
        /// A signature by `key` whose payload names another digest.
        case otherDigest(SigningKey)
        /// A signature by `key` whose signature bytes were changed afterwards.
        case corrupted(SigningKey)
    }

    /// Pushes `oci:…` image `repository:1.0` to `registry` with a `.sig` tag holding `signatures`
    /// (none: no `.sig` tag). Returns the image's digest.
    @discardableResult
    static func seed(
        _ scratch: Scratch, _ registry: RegistryServer, repository: String, signatures: [Signature]
    ) throws -> Digest {
        let layout = "layout-" + repository.replacingOccurrences(of: "/", with: "-")
        let writer = try LayoutWriter(path: scratch.sub(layout))
        let image = try writer.addImage(tag: "1.0", layers: [try writer.addRandomLayer(size: 3_000)])
        let identity = "\(registry.host)/\(repository)"
        let sigTag = SignatureManifest.tag(for: image.digest)
        var manifest: [UInt8]?
        for signature in signatures {
            var signed: SignedPayload
            switch signature {
            case .by(let key):
                signed = try key.sign(manifest: image.digest, identity: identity)
            case .otherDigest(let key):
                signed = try key.sign(manifest: Digest.of(Array("another image".utf8)), identity: identity)
            case .corrupted(let key):
                signed = try key.sign(manifest: image.digest, identity: identity)
                var der = [UInt8](Data(base64Encoded: signed.signature!)!)
                der[der.count - 1] ^= 0x01
                signed.signature = Data(der).base64EncodedString()
            }
            let update = try #require(try SignatureManifest.merge(manifest, adding: signed))
            try addBlobs(of: update, to: writer)
            manifest = update.manifest
        }
        var spec = seeding(registry).image("oci:\(layout):1.0", repository: repository, tags: ["1.0"], targets: ["source"])
        if let manifest {
            try writer.addManifest(manifest, refName: sigTag)
            spec = spec.image("oci:\(layout):\(sigTag)", repository: repository, tags: [sigTag], targets: ["source"])
        }
        let job = try scratch.job(spec, file: "seed-" + layout)
        let r = try apply(job, scratch: scratch)
        try #require(r.status == 0, "seeding \(repository): \(r.stderr)\n\(r.stdout)")
        return image.digest
    }

    static func exists(_ registry: RegistryServer, _ repository: String, _ tag: String) throws -> Bool {
        try run("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/\(repository):\(tag)"]).status == 0
    }

    /// The `.sig` manifest at `registry` for `digest`, parsed.
    static func signatureLayers(_ registry: RegistryServer, _ repository: String, _ digest: Digest) throws -> [[String: Any]] {
        let raw = try pushedManifest(registry, repository, SignatureManifest.tag(for: digest))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
        return object["layers"] as? [[String: Any]] ?? []
    }

    /// A blob's bytes from the registry.
    static func blob(_ registry: RegistryServer, _ repository: String, _ digest: String) throws -> Data {
        let r = try run("/usr/bin/curl", ["-fsS", "\(registry.baseURL)/v2/\(repository)/blobs/\(digest)"])
        try #require(r.status == 0, "\(r.stderr)")
        return Data(r.stdout.utf8)
    }

    static func rows(_ scratch: Scratch, status: String) throws -> [[String: Any]] {
        let history = try pushctlJSON(["history", "--status", status], scratch: scratch)
        return try #require(history["entries"] as? [[String: Any]]).compactMap { $0["push"] as? [String: Any] }
    }

    // MARK: - verify

    /// One job: a signed image is promoted with its `.sig`; an unsigned one, one signed by another
    /// key, one whose payload names another digest and one with a corrupted signature are each
    /// refused with their reason and nothing of them is pushed; the job goes on (exit 1). A rerun
    /// gives the same verdicts and pushes nothing new.
    @Test func onlyImagesWithAValidSignatureArePromoted() throws {
        let (scratch, source, target) = try Self.start()
        let release = try Self.keyPair(scratch, "release")
        let other = try Self.keyPair(scratch, "other")
        let good = try Self.seed(scratch, source, repository: "team/good", signatures: [.by(release.key)])
        try Self.seed(scratch, source, repository: "team/unsigned", signatures: [])
        try Self.seed(scratch, source, repository: "team/foreign", signatures: [.by(other.key)])
        let misdirected = try Self.seed(scratch, source, repository: "team/misdirected", signatures: [.otherDigest(release.key)])
        try Self.seed(scratch, source, repository: "team/corrupted", signatures: [.corrupted(release.key)])
        let sourceSig = try pushedDigest(source, "team/good", SignatureManifest.tag(for: good))
        let names = ["good", "unsigned", "foreign", "misdirected", "corrupted"]
        let promote = Self.toProd(
            "promote", url: target.baseURL, defaults: ["verify": "{keys: [keys/release.pub], identity: match-source}"])
        let job = try scratch.job(names.reduce(promote) { $0.promoting(source, $1) })
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            let good = r.pushEnds(repository: "prod/good")
            #expect(good.count == 2 && good.allSatisfy { $0.status == (night == 1 ? "pushed" : "unchanged") }, "\(r.stdout)")
            let reasons = [
                "unsigned": "no signature of \(Digest.of(Array(try pushedManifest(source, "team/unsigned", "1.0").utf8)))",
                "foreign": "signature by an unknown key",
                "misdirected": "payload names \(Digest.of(Array("another image".utf8))) not \(misdirected)",
                "corrupted": "signature by an unknown key"
            ]
            for (name, reason) in reasons {
                let ends = r.pushEnds(repository: "prod/\(name)")
                #expect(ends.count == 1 && ends.first?.status == "failed", "\(name): \(r.stdout)")
                let error = ends.first?.object["error"] as? String ?? ""
                #expect(error.hasPrefix("rejected: ") && error.contains(reason), "\(name): \(error)")
                #expect(try !Self.exists(target, "prod/\(name)", "1.0"), "\(name) was pushed")
            }
            #expect(try pushedDigest(target, "prod/good", "1.0") == pushedDigest(source, "team/good", "1.0"))
            #expect(
                try pushedDigest(target, "prod/good", SignatureManifest.tag(for: try pushedDigest(source, "team/good", "1.0"))) == sourceSig
            )
        }
        // The ledger: four rejected rows per night with their verdict; the promoted one with the key id.
        let rejected = try Self.rows(scratch, status: "rejected")
        #expect(rejected.count == 8, "\(rejected)")
        #expect(rejected.allSatisfy { ($0["verdict"] as? String)?.isEmpty == false }, "\(rejected)")
        let pushed = try Self.rows(scratch, status: "ok").filter {
            $0["tag"] as? String == "1.0" && $0["repository"] as? String == "prod/good"
        }
        #expect(pushed.first?["verifiedKeys"] as? [String] == [release.key.publicKey.id], "\(pushed)")
        let csv = try run(
            pushctlBinary, ["history", "--status", "rejected", "--output", "csv", "--state", scratch.state],
            environment: scratch.environment)
        #expect(csv.stdout.contains("rejected") && csv.stdout.contains("signature by an unknown key"), "\(csv.stdout)")
        let prometheus = try run(
            pushctlBinary, ["show", "last", "--output", "prometheus", "--state", scratch.state], environment: scratch.environment)
        #expect(prometheus.stdout.contains("pushctl_run_pushes{job=\"promote\",status=\"rejected\"} 4"), "\(prometheus.stdout)")
    }

    /// `minimum: 2` of two keys: an image signed by both is promoted, one signed by one is refused.
    /// An archive's layers are not uploaded ahead of a `verify:` gate (docs/run.md "Upload ahead"):
    /// the refused image leaves nothing at the target, not even a blob, on the first run and the
    /// rerun.
    @Test func aRefusedArchiveLeavesNoBlobAtTheTarget() throws {
        let scratch = try Scratch()
        let target = try RegistryServer.start()
        _ = try Self.keyPair(scratch, "release")
        let job = try scratch.job(
            Self.toProd("gate", url: target.baseURL, defaults: ["verify": "{keys: [keys/release.pub]}"])
                .image("docker-archive:\(TestImages.shared.imageOneArchive)", repository: "prod/archive", tags: ["1"], targets: ["prod"]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            let ends = r.pushEnds(repository: "prod/archive")
            // A local source carries no signature pushctl reads: refused as such.
            #expect(ends.count == 1 && (ends.first?.object["error"] as? String ?? "").contains("'verify' reads signatures"), "\(r.stdout)")
            #expect(target.requestCount(pathContains: "/blobs/") == 0, "night \(night): something of the refused image was sent")
        }
    }

    @Test func twoKeysWithMinimumTwo() throws {
        let (scratch, source, target) = try Self.start()
        let a = try Self.keyPair(scratch, "a"), b = try Self.keyPair(scratch, "b")
        try Self.seed(scratch, source, repository: "team/both", signatures: [.by(a.key), .by(b.key)])
        try Self.seed(scratch, source, repository: "team/one", signatures: [.by(a.key), .by(a.key)])
        let verify = "verify: {keys: [keys/a.pub, keys/b.pub], minimum: 2}"
        let job = try scratch.job(
            Self.toProd("two", url: target.baseURL).promoting(source, "both", extra: [verify]).promoting(source, "one", extra: [verify]))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            #expect(r.pushEnds(repository: "prod/both").allSatisfy { $0.status == (night == 1 ? "pushed" : "unchanged") })
            let one = r.pushEnds(repository: "prod/one")
            #expect(
                one.count == 1 && (one.first?.object["error"] as? String ?? "").contains("1 of 2 required keys verified"), "\(r.stdout)")
            #expect(try Self.exists(target, "prod/both", "1.0"))
            #expect(try !Self.exists(target, "prod/one", "1.0"))
        }
    }

    /// Signatures attached as OCI 1.1 referrers (cosign's signature artifact type, here found
    /// through the fallback tag docker-registry needs) count as the `.sig` tag's do; an identity
    /// rule the signature does not satisfy refuses the image with its reason.
    @Test func referrerSignaturesAndIdentityRules() throws {
        let (scratch, source, target) = try Self.start()
        let release = try Self.keyPair(scratch, "release")
        let writer = try LayoutWriter(path: scratch.sub("attached"))
        let image = try writer.addImage(tag: "1.0", layers: [try writer.addRandomLayer(size: 3_000)])
        let update = try #require(
            try SignatureManifest.merge(nil, adding: try release.key.sign(manifest: image.digest, identity: "\(source.host)/team/app")))
        try Self.addBlobs(of: update, to: writer)
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(update.manifest)) as? [String: Any])
        manifest["artifactType"] = "application/vnd.dev.cosign.artifact.sig.v1+json"
        manifest["subject"] = ["mediaType": image.mediaType, "digest": image.digest.string, "size": image.size]
        try writer.addManifest(Array(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])))
        let seed = try scratch.job(
            Self.seeding(source).image(
                "oci:attached:1.0", repository: "team/app", tags: ["1.0"], targets: ["source"], extra: ["referrers: true"]))
        let seeded = try apply(seed, scratch: scratch)
        try #require(seeded.status == 0, "\(seeded.stderr)\n\(seeded.stdout)")
        #expect(try !Self.exists(source, "team/app", SignatureManifest.tag(for: image.digest)))

        let job = try scratch.job(
            Self.toProd("attached", url: target.baseURL)
                .promoting(source, "app", extra: ["verify: {keys: [keys/release.pub], identity: {prefix: \"\(source.host)/team\"}}"])
                .promoting(
                    source, "app", as: "exact",
                    extra: ["verify: {keys: [keys/release.pub], identity: {exact: \"\(source.host)/team/other\"}}"]
                ))
        for night in 1...2 {
            let r = try apply(job, scratch: scratch)
            #expect(r.status == 1, "night \(night): \(r.stderr)\n\(r.stdout)")
            #expect(r.pushEnds(repository: "prod/app").first?.status == (night == 1 ? "pushed" : "unchanged"), "\(r.stdout)")
            let exact = r.pushEnds(repository: "prod/exact")
            let error = exact.first?.object["error"] as? String ?? ""
            #expect(error.contains("identity \(source.host)/team/app does not match exact"), "\(error)")
            #expect(try !Self.exists(target, "prod/exact", "1.0"))
        }
    }

    /// `pushctl verify` re-checks a `verify:` job's signatures at the target: ok while they hold;
    /// after the target's `.sig` is replaced by one signed with another key, the tag is
    /// `unsigned` and verify exits 4 (on every run).
    @Test func verifyReportsSignatureDriftAtTheTarget() throws {
        let (scratch, source, target) = try Self.start()
        let release = try Self.keyPair(scratch, "release"), other = try Self.keyPair(scratch, "other")
        let digest = try Self.seed(scratch, source, repository: "team/app", signatures: [.by(release.key)])
        let job = try scratch.job(
            Self.toProd("drift", url: target.baseURL).promoting(source, "app", extra: ["verify: {keys: [keys/release.pub]}"]))
        let r = try apply(job, scratch: scratch)
        try #require(r.status == 0, "\(r.stderr)\n\(r.stdout)")
        let ok = try run(
            pushctlBinary, ["verify", "--state", scratch.state, job], environment: scratch.environment, directory: scratch.path)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")

        // Someone replaces the target's .sig with a signature by another key.
        let writer = try LayoutWriter(path: scratch.sub("forged"))
        let update = try #require(
            try SignatureManifest.merge(nil, adding: try other.key.sign(manifest: digest, identity: "\(source.host)/team/app")))
        try Self.addBlobs(of: update, to: writer)
        try writer.addManifest(update.manifest, refName: "sig")
        let forge = try scratch.job(
            Self.toProd("forge", url: target.baseURL).image(
                "oci:forged:sig", repository: "prod/app", tags: [SignatureManifest.tag(for: digest)], targets: ["prod"]))
        let forged = try apply(forge, scratch: scratch)
        try #require(forged.status == 0, "\(forged.stderr)")
        for _ in 1...2 {
            let drift = try run(
                pushctlBinary, ["verify", "--state", scratch.state, job], environment: scratch.environment, directory: scratch.path)
            #expect(drift.status == 4, "\(drift.stdout)\(drift.stderr)")
            #expect(
                drift.stdout.contains("UNSIGNED \(target.host)/prod/app:1.0") && drift.stdout.contains("signature by an unknown key"),
                "\(drift.stdout)")
        }
    }

    // MARK: - plan

    /// `plan` shows the verdict per image (online it verifies; `--offline` says "not checked"); a
    /// saved plan records the signature manifests it saw, and `apply --plan` refuses (exit 2,
    /// nothing pushed) when they changed since.
    @Test func planShowsTheVerdictAndASavedPlanPinsTheSignatures() throws {
        let (scratch, source, target) = try Self.start()
        let release = try Self.keyPair(scratch, "release"), other = try Self.keyPair(scratch, "other")
        let digest = try Self.seed(scratch, source, repository: "team/app", signatures: [.by(release.key)])
        try Self.seed(scratch, source, repository: "team/unsigned", signatures: [])
        let job = try scratch.job(
            Self.toProd("plan", url: target.baseURL, defaults: ["verify": "{keys: [keys/release.pub]}"])
                .promoting(source, "app").promoting(source, "unsigned"))
        let offline = try run(pushctlBinary, ["plan", "--offline", job], environment: scratch.environment, directory: scratch.path)
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stdout.components(separatedBy: "signatures: not checked").count == 3, "\(offline.stdout)")

        let path = scratch.sub("plan.json")
        let online = try run(
            pushctlBinary, ["plan", "--state", scratch.state, "--out", path, job], environment: scratch.environment, directory: scratch.path
        )
        #expect(online.status == 1, "\(online.stderr)")
        #expect(online.stdout.contains("signatures: 1 of 1 required key verified (\(release.key.publicKey.id))"), "\(online.stdout)")
        #expect(online.stdout.contains("signatures: rejected: no signature of"), "\(online.stdout)")
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let pushes = try #require(saved["pushes"] as? [[String: Any]])
        let sigDigest = try pushedDigest(source, "team/app", SignatureManifest.tag(for: digest))
        #expect(pushes.contains { ($0["signatures"] as? [String]) == [sigDigest.string] }, "\(pushes)")
        #expect(pushes.contains { ($0["verdict"] as? String)?.hasPrefix("rejected: ") == true }, "\(pushes)")
        let check = try run(python, ["-c", validateScript, packageRoot + "/schemas/saved-plan-v1.schema.json", path])
        #expect(check.stdout == "ok \(path)\n", "\(check.stdout)\(check.stderr)")

        // Another signature added to the source since the plan: refused, nothing pushed.
        let seedAgain = try scratch.job(
            Self.seeding(source).image(
                "oci:more:sig", repository: "team/app", tags: [SignatureManifest.tag(for: digest)], targets: ["source"]),
            file: "seed-more")
        let writer = try LayoutWriter(path: scratch.sub("more"))
        let existing = Array(try pushedManifest(source, "team/app", SignatureManifest.tag(for: digest)).utf8)
        let update = try #require(
            try SignatureManifest.merge(existing, adding: try other.key.sign(manifest: digest, identity: "\(source.host)/team/app")))
        try Self.addBlobs(of: update, to: writer)
        for entry in try SignatureManifest.entries(existing) {
            _ = try writer.addBlob(
                Array(try Self.blob(source, "team/app", entry.descriptor.digest.string)), mediaType: SimpleSigningPayload.mediaType)
        }
        try writer.addManifest(update.manifest, refName: "sig")
        let seeded = try apply(seedAgain, scratch: scratch)
        try #require(seeded.status == 0, "\(seeded.stderr)\n\(seeded.stdout)")
        for _ in 1...2 {
            let r = try apply(scratch: scratch, arguments: ["--plan", path])
            #expect(r.status == 2, "\(r.stderr)\n\(r.stdout)")
            #expect(r.stderr.contains("signatures changed since the plan"), "\(r.stderr)")
            #expect(try !Self.exists(target, "prod/app", "1.0"))
        }
    }

    // MARK: - sign

    /// A job that verifies (the source's key) and signs (its own key): the target's `.sig` holds
    /// the source's signature and pushctl's, which the independent Python implementation
    /// verifies; a rerun writes nothing.
    @Test func verifyWithTheSourceKeyAndSignWithOurs() throws {
        let (scratch, source, target) = try Self.start()
        let release = try Self.keyPair(scratch, "release"), ci = try Self.keyPair(scratch, "ci")
        let digest = try Self.seed(scratch, source, repository: "team/app", signatures: [.by(release.key)])
        let job = try scratch.job(
            Self.toProd("sign", url: target.baseURL).promoting(
                source, "app",
                extra: ["verify: {keys: [keys/release.pub]}", "sign: {key: keys/ci.key, passphrase-env: PUSHCTL_SIGN_PASSPHRASE}"]))
        var environment = scratch.environment
        environment["PUSHCTL_SIGN_PASSPHRASE"] = Self.passphrase
        var sigDigest: Digest?
        for night in 1...2 {
            let before = target.requestCount(method: "PUT", pathContains: "/manifests/")
            let r = try run(
                pushctlBinary, ["apply", "--output", "json", "--state", scratch.state, job], environment: environment,
                directory: scratch.path)
            #expect(r.status == 0, "night \(night): \(r.stderr)\n\(r.stdout)")
            let layers = try Self.signatureLayers(target, "prod/app", digest)
            #expect(layers.count == 2, "\(layers)")
            let current = try pushedDigest(target, "prod/app", SignatureManifest.tag(for: digest))
            if night == 1 {
                sigDigest = current
                #expect(r.stdout.contains("signed "), "\(r.stdout)")
            } else {
                #expect(current == sigDigest)
                #expect(target.requestCount(method: "PUT", pathContains: "/manifests/") == before, "a rerun wrote a manifest")
            }
        }
        // pushctl's signature (the last layer) verifies in Python with ci.pub over the payload.
        let layers = try Self.signatureLayers(target, "prod/app", digest)
        let ours = try #require(layers.last)
        let payloadPath = scratch.sub("payload.json")
        try Self.blob(target, "prod/app", ours["digest"] as! String).write(to: URL(fileURLWithPath: payloadPath))
        let signature = (ours["annotations"] as? [String: String])?[SignatureManifest.signatureAnnotation] ?? ""
        let script = packageRoot + "/Tests/SigningTests/cosign_interop.py"
        let verified = try run(
            "/usr/bin/python3", [script, "verify", "--pub", ci.publicPath, "--payload", payloadPath, "--signature", signature])
        #expect(verified.status == 0 && verified.stdout.contains("ok"), "\(verified.stdout)\(verified.stderr)")
        let payload = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: payloadPath))) as? [String: Any]
        let critical = payload?["critical"] as? [String: Any]
        #expect((critical?["identity"] as? [String: String])?["docker-reference"] == "\(target.host)/prod/app")
        #expect((critical?["image"] as? [String: String])?["docker-manifest-digest"] == digest.string)
        // The ledger names the .sig manifest written.
        let rows = try Self.rows(scratch, status: "ok").filter {
            $0["repository"] as? String == "prod/app" && $0["tag"] as? String == "1.0"
        }
        #expect(rows.first?["signatures"] as? [String] == [sigDigest?.string ?? ""], "\(rows)")
        let show = try run(pushctlBinary, ["show", "2", "--state", scratch.state], environment: scratch.environment)
        #expect(show.stdout.contains("verify:") && show.stdout.contains("1 of 1 required key verified"), "\(show.stdout)")
        #expect(show.stdout.contains("signed:") && show.stdout.contains(sigDigest?.string ?? "?"), "\(show.stdout)")
    }

    /// The registry refuses the `.sig` PUT (5xx outlasting retries), or the response to it is
    /// lost: the item fails (exit 1) on the first run; the rerun signs (or finds its signature
    /// there) and exits 0.
    @Test(arguments: ["5xx", "drop", "drop-upload"])
    func signingFailuresFailTheItemAndTheRerunSigns(fault: String) throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let proxy = try FaultProxy(upstreamPort: registry.port)
        let writer = try LayoutWriter(path: scratch.sub("image"))
        let image = try writer.addImage(tag: "1.0", layers: [try writer.addRandomLayer(size: 2_000)])
        _ = try Self.keyPair(scratch, "ci")
        let sigTag = SignatureManifest.tag(for: image.digest)
        if fault == "drop-upload" {
            // The image's two blob uploads go through; the connection drops under the signature's
            // payload upload, every time.
            proxy.add(.init(method: "PUT", pathContains: "/blobs/uploads/", fault: .dropInTransit(0), times: 100, skip: 2))
        } else {
            proxy.add(
                .init(
                    method: "PUT", pathContains: "/manifests/\(sigTag)",
                    fault: fault == "5xx" ? .status(503, retryAfter: nil) : .dropResponse, times: 100))
        }
        let job = try scratch.job(
            Self.toProd("sign", url: proxy.baseURL, defaults: ["retries": "2"]).image(
                "oci:image:1.0", repository: "prod/app", targets: ["prod"],
                extra: ["sign: {key: keys/ci.key, passphrase-file: passphrase.txt}"]))
        _ = try scratch.write("passphrase.txt", Self.passphrase + "\n")
        let first = try apply(job, scratch: scratch)
        #expect(first.status == 1, "\(first.stderr)\n\(first.stdout)")
        #expect(first.stdout.contains("signing \(proxy.host)/prod/app@\(image.digest)"), "\(first.stdout)")
        let failed = try Self.rows(scratch, status: "failed")
        #expect(failed.count == 1 && (failed.first?["error"] as? String ?? "").contains("signing"), "\(failed)")

        proxy.clearRules()
        let second = try apply(job, scratch: scratch)
        #expect(second.status == 0, "\(second.stderr)\n\(second.stdout)")
        let layers = try Self.signatureLayers(registry, "prod/app", image.digest)
        #expect(layers.count == 1, "\(layers)")
        let third = try apply(job, scratch: scratch)
        #expect(third.status == 0 && !third.stdout.contains("signed "), "\(third.stdout)")
    }

    /// A wrong passphrase, a missing key file and a private key readable by others stop `apply`
    /// with exit 2 before anything is pushed, on every run.
    @Test func keyProblemsStopTheRunBeforeAnyPush() throws {
        let scratch = try Scratch()
        let registry = try RegistryServer.start()
        let writer = try LayoutWriter(path: scratch.sub("image"))
        _ = try writer.addImage(tag: "1.0", layers: [try writer.addRandomLayer(size: 2_000)])
        let ci = try Self.keyPair(scratch, "ci")
        // Block form: the `sign:` line's key is at sign.yaml:10:17.
        func job(key: String) throws -> String {
            try scratch.job(
                Self.toProd("sign", url: registry.baseURL).image(
                    "oci:image:1.0", repository: "prod/app", targets: ["prod"],
                    extra: ["sign: {key: \(key), passphrase-env: PUSHCTL_SIGN_PASSPHRASE}"]))
        }
        var environment = scratch.environment
        environment["PUSHCTL_SIGN_PASSPHRASE"] = "wrong"
        for _ in 1...2 {
            let r = try run(
                pushctlBinary, ["apply", "--state", scratch.state, try job(key: "keys/ci.key")], environment: environment,
                directory: scratch.path)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("wrong passphrase") && r.stderr.contains(ci.privatePath), "\(r.stderr)")
        }
        environment["PUSHCTL_SIGN_PASSPHRASE"] = Self.passphrase
        // Missing: `validate` and `apply` both say where.
        let missing = try job(key: "keys/nope.key")
        for command in ["validate", "apply"] {
            let r = try run(
                pushctlBinary,
                [command, "--state", scratch.state, missing].filter { command == "apply" || $0 != "--state" && $0 != scratch.state },
                environment: environment, directory: scratch.path)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("sign.yaml:10:17:") && r.stderr.contains("keys/nope.key"), "\(r.stderr)")
        }
        // Readable by others.
        chmod(ci.privatePath, 0o644)
        for _ in 1...2 {
            let r = try run(
                pushctlBinary, ["apply", "--state", scratch.state, try job(key: "keys/ci.key")], environment: environment,
                directory: scratch.path)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("chmod 600 \(ci.privatePath)"), "\(r.stderr)")
        }
        #expect(registry.requestCount(method: "PUT") == 0)
        #expect(registry.requestCount(method: "POST") == 0)
    }

    /// `pushctl key generate PREFIX`: PREFIX.key (0600) decrypts in the Python implementation to
    /// the key id of PREFIX.pub; an existing file is never overwritten.
    @Test func keyGenerateWritesACosignKeyPair() throws {
        let scratch = try Scratch()
        var environment = scratch.environment
        environment["PUSHCTL_KEY_PASSPHRASE"] = Self.passphrase
        let prefix = scratch.sub("ci")
        let r = try run(pushctlBinary, ["key", "generate", prefix], environment: environment, directory: scratch.path)
        #expect(r.status == 0, "\(r.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: prefix + ".key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let script = packageRoot + "/Tests/SigningTests/cosign_interop.py"
        let decrypted = try run("/usr/bin/python3", [script, "decrypt", "--key", prefix + ".key", "--passphrase", Self.passphrase])
        let id = try run("/usr/bin/python3", [script, "key-id", "--pub", prefix + ".pub"])
        #expect(
            decrypted.status == 0 && decrypted.stdout == id.stdout
                && r.stdout.contains(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let again = try run(pushctlBinary, ["key", "generate", prefix], environment: environment, directory: scratch.path)
        #expect(again.status == 2 && again.stderr.contains("already exists"), "\(again.stderr)")
        environment["PUSHCTL_KEY_PASSPHRASE"] = nil
        let noPassphrase = try run(
            pushctlBinary, ["key", "generate", scratch.sub("other")], environment: environment, directory: scratch.path)
        #expect(noPassphrase.status == 2 && noPassphrase.stderr.contains("PUSHCTL_KEY_PASSPHRASE"), "\(noPassphrase.stderr)")
    }
}

extension JobSpec {
    /// `docker://SOURCE/team/NAME:1.0` promoted to `prod/REPOSITORY` (`prod/NAME` unless given).
    fileprivate func promoting(_ source: RegistryServer, _ name: String, as repository: String? = nil, extra: [String] = []) -> JobSpec {
        image("docker://\(source.host)/team/\(name):1.0", repository: "prod/" + (repository ?? name), targets: ["prod"], extra: extra)
    }
}
