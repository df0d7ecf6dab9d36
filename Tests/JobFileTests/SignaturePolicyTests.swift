import Foundation
import JobFile
import Testing

/// `verify:` and `sign:` on images and in `defaults` (docs/jobfile.md "Signatures").
struct SignaturePolicyTests {
    /// A folder with key files (their content does not matter to the loader, only that they exist).
    final class Keys {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("pushctl-keys-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for name in ["release.pub", "backup.pub", "ci.key"] {
                _ = FileManager.default.createFile(atPath: path + "/" + name, contents: Data("x".utf8))
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func imagePoliciesOverrideDefaults() throws {
        let keys = try Keys()
        let k = keys.path
        let loaded = try loadJob(
            job(
                image: """
                      - source: oci:build/app:1.0
                        repository: team/app
                        tags: ["1.0"]
                        targets: [prod]
                        verify: {keys: [\(k)/release.pub, \(k)/backup.pub], minimum: 2, identity: {exact: "registry.example.com/team/app:1.0"}}
                      - source: oci:build/app:1.0
                        repository: team/default
                        tags: ["1.0"]
                        targets: [prod]
                      - source: oci:build/app:1.0
                        repository: team/none
                        tags: ["1.0"]
                        targets: [prod]
                        verify: false
                        sign: false
                    """,
                extra: """
                    defaults:
                      verify: {keys: [\(k)/release.pub], identity: {prefix: "registry.example.com:5000/team"}}
                      sign: {key: \(k)/ci.key, passphrase-file: secrets/pass}

                    """)
        ).get()
        let own = try #require(loaded.verify(of: loaded.images[0]))
        #expect(own.keys == ["\(k)/release.pub", "\(k)/backup.pub"])
        #expect(own.minimum == 2)
        #expect(own.identity == .exact("registry.example.com/team/app:1.0"))
        let fallback = try #require(loaded.verify(of: loaded.images[1]))
        #expect(fallback.minimum == 1 && fallback.identity == .prefix("registry.example.com:5000/team"))
        #expect(loaded.sign(of: loaded.images[1])?.passphrase == .file("/jobs/secrets/pass"))
        #expect(loaded.sign(of: loaded.images[1])?.key == "\(k)/ci.key")
        #expect(loaded.verify(of: loaded.images[2]) == nil)
        #expect(loaded.sign(of: loaded.images[2]) == nil)
        let plain = try loadJob(job()).get()
        #expect(plain.verify(of: plain.images[0]) == nil && plain.sign(of: plain.images[0]) == nil)
    }

    @Test func relativeKeyPathsResolveAgainstTheJobFolder() {
        #expect(
            problems(
                job(
                    image: """
                          - source: oci:build/app:1.0
                            repository: team/app
                            tags: ["1.0"]
                            targets: [prod]
                            verify: {keys: [keys/release.pub]}
                            sign: {key: keys/ci.key, passphrase-env: PUSHCTL_SIGN_PASSPHRASE}
                        """)) == [
                    "11:21: public key file 'keys/release.pub' of 'verify' of image #1 does not exist (/jobs/keys/release.pub)",
                    "12:17: private key file 'keys/ci.key' of 'sign' of image #1 does not exist (/jobs/keys/ci.key)"
                ])
    }

    @Test func invalidPoliciesAreLocatedErrors() throws {
        let keys = try Keys()
        let k = keys.path
        let found = problems(
            job(
                image: """
                      - source: oci:build/app:1.0
                        repository: team/app
                        tags: ["1.0"]
                        targets: [prod]
                        verify: {keys: [\(k)/release.pub], minimum: 2}
                        sign: {key: \(k)/ci.key, passphrase-env: PASS, passphrase-file: pass.txt}
                      - source: oci:build/app:1.0
                        repository: team/two
                        tags: ["1.0"]
                        targets: [prod]
                        verify: {keys: [\(k)/release.pub], identity: same-as-source}
                        sign: {key: \(k)/ci.key}
                      - source: oci:build/app:1.0
                        repository: team/three
                        tags: ["1.0"]
                        targets: [prod]
                        verify: true
                        sign: {key: \(k)/ci.key, passphrase-env: "not a name", passphrase: secret}
                    """))
        let expected = [
            "'minimum' of 'verify' of image #1 is 2 but 'keys' lists 1 key",
            "'sign' of image #1 takes either 'passphrase-env' or 'passphrase-file', not both",
            "'identity' of 'verify' of image #2 must be match-source, {exact: REF} or {prefix: PREFIX}, found 'same-as-source'",
            "'sign' of image #2 needs 'passphrase-env: NAME' or 'passphrase-file: PATH' (the passphrase is never written in the job file)",
            "'verify' of image #3 must be a mapping with 'keys' (or false to turn a default off)",
            "unknown key 'passphrase' in 'sign' of image #3",
            "'passphrase-env' of 'sign' of image #3 must name an environment variable"
        ]
        for message in expected {
            #expect(found.contains { $0.contains(message) }, "\(message) not in \(found)")
        }
    }
}
