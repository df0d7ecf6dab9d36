import Curl
import Foundation
import OCI
import Threading
import Testing
@testable import Registry

/// Client behaviour that real registries do not easily provoke, against a scripted transport.
@Suite struct ScriptedTransportTests {
    /// Answers requests from a script and records them (method, URL, Authorization).
    final class ScriptedTransport: HTTPTransport {
        struct Seen: Sendable { let method: String; let url: String; let authorization: String? }
        private let script: LockedValue<[@Sendable (HTTPRequest) -> HTTPResponse]>
        private let seen = LockedValue<[Seen]>([])

        init(_ script: [@Sendable (HTTPRequest) -> HTTPResponse]) { self.script = LockedValue(script) }

        var requests: [Seen] { seen.withLock { $0 } }

        func perform(_ request: HTTPRequest, sink: ResponseSink, progress: (@Sendable (Int64) -> Void)?) throws(TransportError)
            -> HTTPResponse
        {
            seen.withLock { $0.append(Seen(method: request.method, url: request.url, authorization: request.headers["Authorization"])) }
            guard let next = script.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
                throw .other(url: request.url, code: -1, message: "script exhausted")
            }
            var response = next(request)
            response.url = request.url
            return response
        }
    }

    static let challenge: HTTPHeaders = ["WWW-Authenticate": #"Bearer realm="https://auth.test/token",service="reg""#]
    static func token(_ value: String) -> @Sendable (HTTPRequest) -> HTTPResponse {
        { _ in HTTPResponse(status: 200, body: Array(#"{"token":"\#(value)","expires_in":300}"#.utf8)) }
    }

    @Test func redirectsDropAuthorizationWhenTheHostChanges() throws {
        let manifest = Array(
            #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#
                .utf8)
        let transport = ScriptedTransport([
            { _ in HTTPResponse(status: 307, headers: ["Location": "/v2/a/manifests/elsewhere"]) },
            { _ in HTTPResponse(status: 307, headers: ["Location": "https://storage.test/blob?sig=1"]) },
            { _ in HTTPResponse(status: 200, headers: ["Content-Type": MediaType.ociManifest], body: manifest) }
        ])
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"), credentials: .bearer("secret-token"), transport: transport)
        let result = try client.getManifest("a", reference: "v1")
        #expect(result.bytes == manifest)
        #expect(
            transport.requests.map(\.url) == [
                "https://reg.test/v2/a/manifests/v1", "https://reg.test/v2/a/manifests/elsewhere", "https://storage.test/blob?sig=1"
            ])
        #expect(transport.requests.map(\.authorization) == ["Bearer secret-token", "Bearer secret-token", nil])
    }

    @Test func a401MidRunFetchesAFreshTokenAndRetriesOnce() throws {
        let transport = ScriptedTransport([
            { _ in HTTPResponse(status: 401, headers: Self.challenge) },  // ping
            Self.token("t1"),  // token for the HEAD
            { _ in HTTPResponse(status: 404) },  // HEAD with t1
            { _ in HTTPResponse(status: 401, headers: Self.challenge) },  // HEAD: t1 revoked
            Self.token("t2"),  // fresh token
            { _ in HTTPResponse(status: 200, headers: ["Content-Length": "5"]) }  // HEAD with t2
        ])
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"),
            credentials: .basic(username: "u", password: "p"), transport: transport)
        try client.ping()
        let digest = Digest.of(Array("hello".utf8))
        #expect(try client.blobExists("a", digest) == nil)
        #expect(try client.blobExists("a", digest) == 5)
        let auths = transport.requests.map(\.authorization)
        #expect(auths[2] == "Bearer t1")
        #expect(auths[3] == "Bearer t1")
        #expect(auths[5] == "Bearer t2")
        #expect(transport.requests[4].url.hasPrefix("https://auth.test/token?service=reg&scope=repository%3Aa%3Apull"))
        #expect(client.tokenRequestCount == 2)
    }

    @Test func aSecond401WithAFreshTokenIsFinal() throws {
        let transport = ScriptedTransport([
            { _ in HTTPResponse(status: 401, headers: Self.challenge) },
            Self.token("t1"),
            { _ in
                HTTPResponse(
                    status: 401, headers: Self.challenge,
                    body: Array(#"{"errors":[{"code":"DENIED","message":"no"}]}"#.utf8))
            }
        ])
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"),
            credentials: .basic(username: "u", password: "p"), transport: transport)
        let error = try #require(throws: RegistryError.self) { try client.listTags("a") }
        #expect(error.code == "UNAUTHORIZED")
        #expect(error.description.contains("reg.test"))
        #expect(error.description.contains("DENIED"))
        #expect(transport.requests.count == 3)
    }

    @Test func cancellationStopsRetrying() throws {
        let flag = CancellationFlag()
        let transport = ScriptedTransport([
            { _ in HTTPResponse(status: 503) },
            { _ in HTTPResponse(status: 503) }
        ])
        let policy = RetryPolicy(attempts: 5, baseDelaySeconds: 30, jitter: 0) { _ in flag.cancel() }
        let client = RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"), retryPolicy: policy,
            cancellation: flag, transport: transport)
        let started = Date()
        let error = try #require(throws: RegistryError.self) { try client.ping() }
        #expect(error == .cancelled)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(transport.requests.count == 1)
    }

    @Test func registryDigestDisagreementIsReported() throws {
        let bytes = Array("{}".utf8)
        let transport = ScriptedTransport([
            { _ in HTTPResponse(status: 201, headers: ["Docker-Content-Digest": "sha256:" + String(repeating: "1", count: 64)]) }
        ])
        let client = RegistryClient(endpoint: RegistryEndpoint(url: "https://reg.test"), transport: transport)
        let error = try #require(throws: RegistryError.self) {
            try client.putManifest("a", reference: "v1", bytes: bytes, mediaType: MediaType.ociManifest)
        }
        guard case .digestMismatch(let expected, _, _, _, _) = error else {
            Issue.record("expected digestMismatch, got \(error)")
            return
        }
        #expect(expected == Digest.of(bytes))
    }
}
