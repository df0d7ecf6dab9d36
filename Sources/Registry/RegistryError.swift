import SafeText
import OCI

/// One entry of a distribution error body `{"errors":[{"code","message","detail"}]}`
/// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes).
public struct RegistryErrorCode: Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// `detail` re-encoded as compact JSON text (it may be any JSON value).
    public var detail: String?

    public init(code: String, message: String, detail: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    /// Code, message and detail as one line; the registry's text has its control characters
    /// escaped, so it cannot drive the terminal it is printed on.
    public var description: String {
        var text = message.isEmpty ? code : "\(code): \(message)"
        if let detail, !detail.isEmpty, detail != "null" { text += " (\(detail))" }
        return DisplayText.escapingControlCharacters(text)
    }
}

/// Everything a registry operation can fail with. `operation` is a short phrase such as
/// "upload blob sha256:…" or "push manifest latest".
public enum RegistryError: Error, Sendable, Equatable {
    /// No HTTP answer after the retries: DNS, connect, dropped connection, timeout.
    case unreachable(registry: String, operation: String, message: String)
    /// The TLS handshake or certificate verification failed.
    case tls(registry: String, message: String)
    /// The registry answered with a distribution error body.
    case registry(status: Int, errors: [RegistryErrorCode], operation: String, registry: String, repository: String?)
    /// Authentication failed with fresh credentials (wrong password, no access, anonymous refused).
    case unauthorized(registry: String, repository: String?, operation: String, credentials: String, message: String)
    /// The token service itself failed (not a credentials problem).
    case tokenService(realm: String, status: Int, message: String)
    /// The registry answered with an unexpected status and no error code.
    case http(status: Int, operation: String, registry: String, repository: String?, body: String)
    /// The registry computed a different digest than pushctl did.
    case digestMismatch(expected: Digest, actual: String, operation: String, registry: String, repository: String)
    /// A response was not what the protocol promises (bad JSON, missing Location, …).
    case invalidResponse(operation: String, registry: String, message: String)
    /// The blob source failed while streaming (unreadable file, verification failure).
    case source(operation: String, message: String)
    case credentials(CredentialError)
    case cancelled
    /// An https registry sent pushctl to a plain-http URL (an upload `Location`, a redirect, a
    /// pagination link): refused, so nothing (credentials, layers) travels without TLS.
    case insecureRedirect(registry: String, operation: String, target: String)
    /// An https registry named a plain-http token service: refused, so no credentials (and no
    /// token) travel without TLS.
    case insecureTokenRealm(registry: String, realm: String)
    /// The item's total deadline (`TransferLimits.itemDeadlineMultiple` × `timeout`) passed
    /// before this request: final, the item fails (other items and endpoints are unaffected).
    case deadline(operation: String, registry: String, seconds: Double)

    /// The endpoint failed (not the registry's verdict): try the next endpoint of the registry.
    public var isEndpointFailure: Bool {
        switch self {
        case .unreachable, .tls, .invalidResponse: true
        case .http(let status, _, _, _, _): status >= 500 || status == 408 || status == 429
        case .registry(let status, _, _, _, _): status >= 500
        case .tokenService(_, let status, _): status == 0 || status >= 500
        default: false
        }
    }

    /// A JSON error body with a code (or an authentication verdict): final at every endpoint.
    /// A 5xx stays an endpoint failure even when it carries a code (the spec's "keep failing
    /// with 5xx" rule).
    public var isRegistryAnswer: Bool {
        switch self {
        case .registry(let status, let errors, _, _, _): !errors.isEmpty && status < 500
        case .unauthorized, .digestMismatch: true
        default: false
        }
    }

    /// The TLS handshake itself failed (for the `insecure` plain-http twin rule).
    public var isTLSHandshakeFailure: Bool {
        if case .tls = self { return true }
        return false
    }

    /// The first registry error code, if any.
    public var code: String? {
        switch self {
        case .registry(_, let errors, _, _, _): errors.first?.code
        case .unauthorized: "UNAUTHORIZED"
        default: nil
        }
    }
}

extension RegistryError: CustomStringConvertible {
    /// The user-facing message. Registry-supplied text in it (error messages, bodies, URLs) is
    /// neutralised: control characters escaped, query strings of URLs removed (`DisplayText`).
    public var description: String { DisplayText.safe(rawDescription) }

    private var rawDescription: String {
        switch self {
        case .unreachable(let registry, let operation, let message):
            "\(operation): registry \(registry) unreachable: \(message)"
        case .tls(let registry, let message):
            "TLS failure talking to registry \(registry): \(message) (a registry with a private CA needs `ca:` "
                + "in its job-file entry; `insecure: true` skips verification)"
        case .registry(let status, let errors, let operation, let registry, let repository):
            "\(operation): registry \(registry)\(repository.map { " repository \($0)" } ?? "") answered \(status): "
                + errors.map(\.description).joined(separator: "; ")
        case .unauthorized(let registry, let repository, let operation, let credentials, let message):
            "\(operation): UNAUTHORIZED: registry \(registry)\(repository.map { " repository \($0)" } ?? "") refused \(credentials): \(message) "
                + "(check the registry's `auth:` in the job file, or `docker login \(registry)`)"
        case .tokenService(let realm, let status, let message):
            "token service \(realm) failed (HTTP \(status)): \(message)"
        case .http(let status, let operation, let registry, let repository, let body):
            "\(operation): registry \(registry)\(repository.map { " repository \($0)" } ?? "") answered HTTP \(status)"
                + (body.isEmpty ? "" : ": \(body.prefix(200))")
        case .digestMismatch(let expected, let actual, let operation, let registry, let repository):
            "\(operation): registry \(registry) repository \(repository) reports digest \(actual), expected \(expected)"
        case .invalidResponse(let operation, let registry, let message):
            "\(operation): invalid response from registry \(registry): \(message)"
        case .source(let operation, let message):
            "\(operation): reading the source failed: \(message)"
        case .credentials(let error):
            error.description
        case .cancelled:
            "cancelled"
        case .insecureRedirect(let registry, let operation, let target):
            "\(operation): registry \(registry) (https) sent pushctl to the plain-http URL \(target); refused, "
                + "because credentials and image data must not leave TLS (fix the registry's configured external URL, "
                + "e.g. distribution's `http.host`, or its proxy's forwarded headers)"
        case .insecureTokenRealm(let registry, let realm):
            "registry \(registry) (https) names the plain-http token service \(realm); refused, because credentials "
                + "and tokens must not leave TLS (configure the registry's token realm with https)"
        case .deadline(let operation, let registry, let seconds):
            "\(operation): registry \(registry): the push did not finish within its deadline of \(RegistryClient.seconds(seconds)) "
                + "(\(Int(TransferLimits.itemDeadlineMultiple)) × the registry's `timeout`, not counting blob transfers)"
        }
    }
}
