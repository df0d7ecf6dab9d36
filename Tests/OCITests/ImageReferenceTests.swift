import Testing
@testable import OCI

/// Cases from distribution/reference's reference_test.go and normalize_test.go (adapted where our
/// Digest is stricter: sha512 needs 128 hex digits), plus pushctl's own edge cases.
@Suite struct ImageReferenceTests {
    static let hex64 = String(repeating: "f", count: 64)
    static let hex128 = String(repeating: "f", count: 128)

    struct Valid: CustomTestStringConvertible, Sendable {
        var input: String
        var domain: String
        var path: String
        var tag: String? = nil
        var digest: String? = nil
        var testDescription: String { input }
    }

    static let valid: [Valid] = [
        // reference_test.go (normalized: names without a domain land on docker.io)
        Valid(input: "test_com", domain: "docker.io", path: "library/test_com"),
        Valid(input: "test.com:tag", domain: "docker.io", path: "library/test.com", tag: "tag"),
        Valid(input: "test.com:5000", domain: "docker.io", path: "library/test.com", tag: "5000"),
        Valid(input: "test.com/repo:tag", domain: "test.com", path: "repo", tag: "tag"),
        Valid(input: "test:5000/repo", domain: "test:5000", path: "repo"),
        Valid(input: "test:5000/repo:tag", domain: "test:5000", path: "repo", tag: "tag"),
        Valid(input: "test:5000/repo@sha256:\(hex64)", domain: "test:5000", path: "repo", digest: "sha256:\(hex64)"),
        Valid(input: "test:5000/repo:tag@sha256:\(hex64)", domain: "test:5000", path: "repo", tag: "tag", digest: "sha256:\(hex64)"),
        Valid(input: "sub-dom1.foo.com/bar/baz/quux", domain: "sub-dom1.foo.com", path: "bar/baz/quux"),
        Valid(input: "sub-dom1.foo.com/bar/baz/quux:some-long-tag", domain: "sub-dom1.foo.com", path: "bar/baz/quux", tag: "some-long-tag"),
        Valid(
            input: "b.gcr.io/test.example.com/my-app:test.example.com", domain: "b.gcr.io", path: "test.example.com/my-app",
            tag: "test.example.com"),
        Valid(input: "xn--n3h.com/myimage:xn--n3h.com", domain: "xn--n3h.com", path: "myimage", tag: "xn--n3h.com"),
        Valid(
            input: "xn--7o8h.com/myimage:xn--7o8h.com@sha512:\(hex128)", domain: "xn--7o8h.com", path: "myimage", tag: "xn--7o8h.com",
            digest: "sha512:\(hex128)"),
        Valid(input: "foo_bar.com:8080", domain: "docker.io", path: "library/foo_bar.com", tag: "8080"),
        Valid(input: "foo/foo_bar.com:8080", domain: "docker.io", path: "foo/foo_bar.com", tag: "8080"),
        Valid(input: "lowercase:Uppercase", domain: "docker.io", path: "library/lowercase", tag: "Uppercase"),
        Valid(input: "[2001:db8::1]/repo", domain: "[2001:db8::1]", path: "repo"),
        Valid(input: "[2001:db8::1]:5000/repo", domain: "[2001:db8::1]:5000", path: "repo"),
        Valid(input: "[2001:db8::]:5000/repo", domain: "[2001:db8::]:5000", path: "repo"),
        Valid(input: "[::1]:5000/repo", domain: "[::1]:5000", path: "repo"),
        Valid(input: "[fe80::1]:5000/repo:tag", domain: "[fe80::1]:5000", path: "repo", tag: "tag"),
        Valid(
            input: "[2001:db8::1]:5000/repo:tag@sha256:\(hex64)", domain: "[2001:db8::1]:5000", path: "repo", tag: "tag",
            digest: "sha256:\(hex64)"),
        Valid(input: "[2001:db8:1:2:3:4:5:6]/repo:tag", domain: "[2001:db8:1:2:3:4:5:6]", path: "repo", tag: "tag"),
        // normalize_test.go
        Valid(input: "docker/docker", domain: "docker.io", path: "docker/docker"),
        Valid(input: "library/debian", domain: "docker.io", path: "library/debian"),
        Valid(input: "debian", domain: "docker.io", path: "library/debian"),
        Valid(input: "localhost/library/debian", domain: "localhost", path: "library/debian"),
        Valid(input: "localhost/debian", domain: "localhost", path: "debian"),
        Valid(input: "docker.io/docker/docker", domain: "docker.io", path: "docker/docker"),
        Valid(input: "docker.io/library/debian", domain: "docker.io", path: "library/debian"),
        Valid(input: "docker.io/debian", domain: "docker.io", path: "library/debian"),
        Valid(input: "index.docker.io/docker/docker", domain: "docker.io", path: "docker/docker"),
        Valid(input: "index.docker.io/debian", domain: "docker.io", path: "library/debian"),
        Valid(input: "127.0.0.1:5000/docker/docker", domain: "127.0.0.1:5000", path: "docker/docker"),
        Valid(input: "127.0.0.1:5000/debian", domain: "127.0.0.1:5000", path: "debian"),
        Valid(input: "192.168.0.1", domain: "docker.io", path: "library/192.168.0.1"),
        Valid(input: "192.168.0.1:80", domain: "docker.io", path: "library/192.168.0.1", tag: "80"),
        Valid(input: "192.168.0.1:8/debian", domain: "192.168.0.1:8", path: "debian"),
        Valid(input: "192.168.0.2:25000/debian", domain: "192.168.0.2:25000", path: "debian"),
        Valid(
            input: "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", domain: "docker.io",
            path: "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
        Valid(input: "[fc00::1]:5000/docker", domain: "[fc00::1]:5000", path: "docker"),
        Valid(input: "[fc00::1]:5000/docker/docker", domain: "[fc00::1]:5000", path: "docker/docker"),
        Valid(
            input: "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", domain: "docker.io",
            path: "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"),
        Valid(
            input: "foo/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", domain: "docker.io",
            path: "foo/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"),
        Valid(input: "localhost:5000/foo", domain: "localhost:5000", path: "foo"),
        // pushctl's own
        Valid(input: "alpine:3.19", domain: "docker.io", path: "library/alpine", tag: "3.19"),
        Valid(input: "a__b/c.d/e---f", domain: "docker.io", path: "a__b/c.d/e---f"),
        Valid(input: "Registry.Example.com/team/app", domain: "Registry.Example.com", path: "team/app"),
        Valid(
            input: "ghcr.io/org/app:" + String(repeating: "t", count: 128), domain: "ghcr.io", path: "org/app",
            tag: String(repeating: "t", count: 128))
    ]

    @Test(arguments: valid)
    func parsesAndNormalizes(_ c: Valid) throws {
        let r = try ImageReference(parsing: c.input)
        #expect(r.domain == c.domain)
        #expect(r.path == c.path)
        #expect(r.tag == c.tag)
        #expect(r.digest?.string == c.digest)
    }

    @Test(arguments: [
        "", ":justtag", "@sha256:" + hex64, "validname@invaliddigest:" + hex64,
        String(repeating: "a/", count: 128) + "a:tag",
        "aa/asdf$$^/aa", "Uppercase:tag", "test:5000/Uppercase/lowercase:tag",
        "[fe80::1%eth0]:5000/repo", "[2001:db8::1]", "[2001:db8::1]:5000", "[2001:db8::1]:/repo",
        "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker",
        "-docker.io/docker/docker", "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "repo:-tag", "repo:" + String(repeating: "t", count: 129), "repo@sha256:abc", "repo@sha256:" + String(repeating: "F", count: 64),
        "repo@md5:" + String(repeating: "f", count: 32), "foo/", "/foo", "foo//bar", "foo_-bar", "foo..bar", "foo___bar",
        "host:port/repo", "a@b@c"
    ])
    func rejects(_ input: String) {
        #expect(throws: ReferenceError.self) { try ImageReference(parsing: input) }
    }

    @Test func errorKindsAndText() {
        #expect(throws: ReferenceError.empty) { try ImageReference(parsing: "") }
        #expect(throws: ReferenceError.uppercaseRepository(input: "docker/Docker", repository: "docker/Docker")) {
            try ImageReference(parsing: "docker/Docker")
        }
        #expect(throws: ReferenceError.invalidTag(input: "repo:-tag", tag: "-tag")) { try ImageReference(parsing: "repo:-tag") }
        let long = String(repeating: "a/", count: 127) + "a"
        // 255 characters as written, but docker.io/ makes the normalized name too long.
        #expect(throws: ReferenceError.nameTooLong(input: long, length: 265)) { try ImageReference(parsing: long) }
        do {
            _ = try ImageReference(parsing: "repo@sha256:abc" + String(repeating: "0", count: 40))
            Issue.record("expected an error")
        } catch {
            guard case .invalidDigest(_, .invalidLength(algorithm: "sha256", expected: 64, actual: 43)) = error else {
                Issue.record("unexpected error \(error)"); return
            }
            #expect(error.description.contains("expected 64 hex characters"))
        }
        let e = ReferenceError.invalidPathComponent(input: "foo//bar", component: "")
        #expect(e.description.contains("empty path component"))
    }

    @Test func nameLengthLimitCountsTheDomain() throws {
        let path = String(repeating: "a/", count: 121) + "a"  // 243 characters
        let r = try ImageReference(parsing: "example.com/" + path)  // 12 + 243 = 255
        #expect(r.canonicalName.utf8.count == 255)
        #expect(throws: ReferenceError.self) { try ImageReference(parsing: "example.com/" + path + "b") }
    }

    @Test(arguments: [
        ("fooo/bar", "docker.io/fooo/bar", "fooo/bar"),
        ("library/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "nonlibrary/ubuntu"),
        ("ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("other/library", "docker.io/other/library", "other/library"),
        ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase"),
        ("127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase"),
        ("example.com/private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase"),
        ("localhost:8000/private/moonbase", "localhost:8000/private/moonbase", "localhost:8000/private/moonbase"),
        ("localhost/privatebase", "localhost/privatebase", "localhost/privatebase"),
        ("docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "ubuntu-12.04-base"),
        ("index.docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "ubuntu-12.04-base"),
        ("library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar")
    ])
    func familiarAndCanonicalNames(input: String, canonical: String, familiar: String) throws {
        let r = try ImageReference(parsing: input)
        #expect(r.canonicalName == canonical)
        #expect(r.familiarName == familiar)
    }

    @Test func stringsWithTagAndDigest() throws {
        let r = try ImageReference(parsing: "alpine:3.19@sha256:\(Self.hex64)")
        #expect(r.canonicalString == "docker.io/library/alpine:3.19@sha256:\(Self.hex64)")
        #expect(r.familiarString == "alpine:3.19@sha256:\(Self.hex64)")
        #expect(r.description == r.canonicalString)
    }

    @Test func dockerHubHostsAndCredentialKeys() throws {
        let hub = try ImageReference(parsing: "index.docker.io/team/app")
        #expect(hub.isDockerHub)
        #expect(hub.apiHost == "registry-1.docker.io")
        #expect(hub.credentialKey == "https://index.docker.io/v1/")
        #expect(hub.repositoryPath == "team/app")
        let other = try ImageReference(parsing: "[::1]:5000/team/app:1")
        #expect(!other.isDockerHub)
        #expect(other.apiHost == "[::1]:5000")
        #expect(other.credentialKey == "[::1]:5000")
    }

    @Test func canonicalParsingRequiresTheFullForm() throws {
        #expect(try ImageReference(parsingCanonical: "docker.io/library/alpine:3").path == "library/alpine")
        #expect(throws: ReferenceError.notCanonical(input: "alpine:3", canonical: "docker.io/library/alpine:3")) {
            try ImageReference(parsingCanonical: "alpine:3")
        }
        #expect(throws: ReferenceError.self) { try ImageReference(parsingCanonical: "docker.io/alpine") }
    }

    @Test func withTagReplacesTagAndDropsDigest() throws {
        let r = try ImageReference(parsing: "alpine@sha256:\(Self.hex64)").withTag("edge")
        #expect(r.canonicalString == "docker.io/library/alpine:edge")
        #expect(throws: ReferenceError.self) { try r.withTag(".bad") }
    }

    @Test(arguments: ["team/app", "a", "a/b/c", "app-1.2_x__y", "0123"])
    func repositoryNamesAccepted(_ name: String) throws {
        try RepositoryName.validate(name)
    }

    @Test(arguments: ["", "Team/app", "team//app", "/app", "app/", "app:tag", "app@x", "-app", "a_-b", String(repeating: "a", count: 256)])
    func repositoryNamesRejected(_ name: String) {
        #expect(throws: ReferenceError.self) { try RepositoryName.validate(name) }
    }
}

import Foundation

@Suite struct ImageReferenceCodingTests {
    @Test func roundTripsThroughJSONAsCanonicalString() throws {
        let r = try ImageReference(parsing: "alpine:3.19")
        let data = try JSONEncoder().encode([r])
        #expect(String(decoding: data, as: UTF8.self) == #"["docker.io\/library\/alpine:3.19"]"#)
        #expect(try JSONDecoder().decode([ImageReference].self, from: data) == [r])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ImageReference].self, from: Data(#"["Bad Ref"]"#.utf8)) }
    }
}
