import SafeText
import Curl
import Foundation
import OCI
import Threading
import Synchronization
import Testing
@testable import Registry

/// Answers every request with a function of the request (and counts them): a registry that
/// misbehaves on purpose without a script of fixed length.
final class FunctionTransport: HTTPTransport {
    private let answer: @Sendable (HTTPRequest) -> HTTPResponse
    private let seen = LockedValue<[(method: String, url: String, authorization: String?)]>([])

    init(_ answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.answer = answer }

    var requests: [(method: String, url: String, authorization: String?)] { seen.withLock { $0 } }

    /// Answers the n-th request (from 1) with `answer(n)`, whatever it asks.
    static func counting(_ answer: @escaping @Sendable (Int) -> HTTPResponse) -> FunctionTransport {
        let counter = Atomic<Int>(0)
        return FunctionTransport { _ in answer(counter.add(1, ordering: .relaxed).newValue) }
    }

    func perform(_ request: HTTPRequest, sink: ResponseSink, progress: (@Sendable (Int64) -> Void)?) throws(TransportError) -> HTTPResponse
    {
        seen.withLock { $0.append((request.method, request.url, request.headers["Authorization"])) }
        var response = answer(request)
        response.url = request.url
        return response
    }
}

/// Registries that answer with loops, floods and terminal escape sequences.
@Suite struct HostileRegistryTests {
    static func tagPage(_ tags: [String], next: String?) -> HTTPResponse {
        let json = try! JSONSerialization.data(withJSONObject: ["name": "team/app", "tags": tags])
        var headers = HTTPHeaders()
        if let next { headers.add("Link", "<\(next)>; rel=\"next\"") }
        return HTTPResponse(status: 200, headers: headers, body: Array(json))
    }

    static func client(_ transport: any HTTPTransport) -> RegistryClient {
        RegistryClient(
            endpoint: RegistryEndpoint(url: "https://reg.test"),
            retryPolicy: RetryPolicy(attempts: 1), transport: transport)
    }

    // MARK: tag list pagination

    @Test func aNextLinkBackToAnEarlierPageIsAnError() throws {
        // Page 1 → page 2 → page 1 again: a loop no page limit needs to catch.
        let transport = FunctionTransport { request in
            request.url.contains("last=b")
                ? Self.tagPage(["c"], next: "/v2/team/app/tags/list")
                : Self.tagPage(["a", "b"], next: "/v2/team/app/tags/list?last=b")
        }
        let error = try #require(throws: RegistryError.self) { try Self.client(transport).listTags("team/app") }
        guard case .invalidResponse(_, let registry, let message) = error else {
            Issue.record("expected invalidResponse, got \(error)")
            return
        }
        #expect(registry == "reg.test")
        #expect(message.contains("loops"))
        #expect(transport.requests.count == 2)
    }

    @Test func endlessDistinctPagesStopAtThePageLimit() throws {
        let transport = FunctionTransport.counting { n in Self.tagPage(["t\(n)"], next: "/v2/team/app/tags/list?last=t\(n)") }
        let error = try #require(throws: RegistryError.self) {
            try Self.client(transport).listTags("team/app", pageSize: nil, limits: .init(pages: 50, tags: 1_000_000))
        }
        #expect(error.description.contains("more than 50 pages"))
        #expect(transport.requests.count == 50)
    }

    @Test func theDefaultPageLimitIsTenThousand() throws {
        let transport = FunctionTransport.counting { n in Self.tagPage([], next: "/v2/team/app/tags/list?last=t\(n)") }
        let started = Date()
        let error = try #require(throws: RegistryError.self) { try Self.client(transport).listTags("team/app") }
        print("10,000 empty tag-list pages took \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        #expect(error.description.contains("more than 10000 pages"))
        #expect(transport.requests.count == 10_000)
    }

    @Test func tooManyTagsIsAnError() throws {
        let transport = FunctionTransport.counting { n in
            Self.tagPage((0..<40).map { "p\(n)-\($0)" }, next: "/v2/team/app/tags/list?last=p\(n)")
        }
        let error = try #require(throws: RegistryError.self) {
            try Self.client(transport).listTags("team/app", pageSize: nil, limits: .init(pages: 10_000, tags: 100))
        }
        #expect(error.description.contains("more than 100 tags"))
        #expect(transport.requests.count == 3)
    }

    @Test func aFinitePaginatedListIsStillReadWhole() throws {
        let transport = FunctionTransport { request in
            if request.url.contains("last=b") { return Self.tagPage(["c"], next: nil) }
            return Self.tagPage(["a", "b"], next: "/v2/team/app/tags/list?n=2&last=b")
        }
        #expect(try Self.client(transport).listTags("team/app", pageSize: 2) == ["a", "b", "c"])
    }

    // MARK: registry text in error messages

    @Test func controlCharactersInRegistryErrorsAreEscaped() throws {
        let hostile =
            #"{"errors":[{"code":"DENIED","message":"no\u001b[2J\u001b]0;pwned\u0007\r\nerror: fake line\u007f\u009b","detail":"x\u202ey"}]}"#
        let transport = FunctionTransport { _ in HTTPResponse(status: 403, body: Array(hostile.utf8)) }
        let error = try #require(throws: RegistryError.self) { try Self.client(transport).blobExists("team/app", TestDigests.one) }
        let text = error.description
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E })
        #expect(text.contains(#"no\x1b[2J\x1b]0;pwned\x07\x0d\x0aerror: fake line\x7f\x9b"#))
        #expect(text.contains(#"x\u{202e}y"#))
    }

    @Test func controlCharactersInAPlainBodyAreEscaped() throws {
        let transport = FunctionTransport { _ in HTTPResponse(status: 418, body: Array("teapot\u{1B}[31m\nred".utf8)) }
        let error = try #require(throws: RegistryError.self) { try Self.client(transport).blobExists("team/app", TestDigests.one) }
        #expect(error.description.hasSuffix(#"answered HTTP 418: teapot\x1b[31m\x0ared"#))
    }

    @Test func queryStringsAreStrippedFromURLsInMessages() throws {
        let error = RegistryError.unreachable(
            registry: "reg.test", operation: "upload blob sha256:abc",
            message: "connection to https://reg.test/v2/a/blobs/uploads/u1?_state=SECRETSTATE&digest=sha256:abc lost: reset")
        #expect(!error.description.contains("SECRETSTATE"))
        #expect(error.description.contains("https://reg.test/v2/a/blobs/uploads/u1 lost"))
        let transport = TransportError.timeout(url: "https://storage.test/blob?X-Amz-Signature=SIG", message: "slow")
        #expect(transport.description == "request to https://storage.test/blob timed out: slow")
        let token = RegistryError.tokenService(realm: "https://auth.test/token?access_token=TOKEN", status: 500, message: "oops")
        #expect(!token.description.contains("TOKEN"))
    }

    @Test func plainTextIsUnchanged() {
        let text = "upload blob sha256:abc: registry r.test answered 400: DIGEST_INVALID: provided digest did not match (\"a\\b\")"
        #expect(DisplayText.safe(text) == text)
    }
}

enum TestDigests {
    static let one = Digest.of(Array("one".utf8))
}
