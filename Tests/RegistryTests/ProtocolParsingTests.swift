import Foundation
import Testing
@testable import Registry

/// Header and body parsing that needs no server.
@Suite struct ProtocolParsingTests {
    @Test func severalChallengesWithQuotedCommas() {
        let challenges = AuthChallenge.parse([
            #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push", Basic realm="x\"y""#
        ])
        #expect(challenges.count == 2)
        #expect(challenges[0].scheme == "bearer")
        #expect(challenges[0].realm == "https://auth.example.com/token")
        #expect(challenges[0].service == "registry.example.com")
        #expect(challenges[0].scope == "repository:a/b:pull,push")
        #expect(challenges[1] == AuthChallenge(scheme: "basic", parameters: ["realm": #"x"y"#]))
        #expect(Authenticator.preferred(challenges.reversed())?.scheme == "bearer")
    }

    @Test func challengesAcrossHeadersAndUnquotedValues() {
        let challenges = AuthChallenge.parse(["Basic realm=registry", "BEARER realm=\"r\""])
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges[0].realm == "registry")
    }

    @Test func errorBodies() {
        let codes = ErrorBody.parse(
            Array(
                #"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied","detail":{"name":"x"}},{"code":"NAME_INVALID","message":""}]}"#
                    .utf8))
        #expect(
            codes == [
                RegistryErrorCode(code: "DENIED", message: "requested access to the resource is denied", detail: #"{"name":"x"}"#),
                RegistryErrorCode(code: "NAME_INVALID", message: "")
            ])
        #expect(ErrorBody.parse(Array("<html>bad gateway</html>".utf8)).isEmpty)
    }

    @Test func nextLinks() {
        #expect(RegistryClient.nextLink([#"</v2/a/tags/list?n=2&last=b>; rel="next""#]) == "/v2/a/tags/list?n=2&last=b")
        #expect(RegistryClient.nextLink([#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#]) == "https://x/next")
        #expect(RegistryClient.nextLink([]) == nil)
    }

    @Test func retryAfterSecondsAndDates() {
        #expect(RetryPolicy.parseRetryAfter("7") == 7)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now: now) == 30)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        #expect(RetryPolicy(attempts: 5, baseDelaySeconds: 1, maxDelaySeconds: 30, jitter: 0).delay(afterAttempt: 3) == 4)
        #expect(RetryPolicy(attempts: 5, baseDelaySeconds: 1, maxDelaySeconds: 3, jitter: 0).delay(afterAttempt: 6) == 3)
    }

    @Test func locationsAndRanges() {
        let request = "http://127.0.0.1:5000/v2/a/blobs/uploads/?x=1"
        #expect(
            RegistryClient.resolve("/v2/a/blobs/uploads/u1?_state=s", against: request)
                == "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=s")
        #expect(RegistryClient.resolve("https://other/u", against: request) == "https://other/u")
        #expect(RegistryClient.resolve("u2", against: request) == "http://127.0.0.1:5000/v2/a/blobs/uploads/u2")
        #expect(RegistryClient.appendQuery("http://h/u?_state=s", "digest", "sha256:ab") == "http://h/u?_state=s&digest=sha256%3Aab")
        #expect(RegistryClient.receivedBytes("0-999") == 1000)
        #expect(RegistryClient.receivedBytes("bytes=0-9") == 10)
        #expect(RegistryClient.receivedBytes("0-0") == 0)
        #expect(RegistryClient.receivedBytes(nil) == nil)
    }

    @Test func credentialsNeverPrintSecrets() {
        #expect(!Credentials.basic(username: "u", password: "hunter2").description.contains("hunter2"))
        #expect(!Credentials.identityToken("tok-123").description.contains("tok-123"))
        #expect(!Credentials.bearer("tok-456").description.contains("tok-456"))
    }
}
