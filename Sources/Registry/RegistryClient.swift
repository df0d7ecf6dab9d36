import SafeText
import Threading
import Curl
import Foundation
import OCI
import Synchronization

/// A client for one endpoint of a registry speaking the distribution API
/// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md).
///
/// Synchronous and thread-safe: pushers call it from several worker threads at once. Every call
/// authenticates as the registry demands (Basic or Bearer tokens cached per scope), retries
/// connection failures, 5xx, 408 and 429 with backoff, and reports everything else as a typed
/// `RegistryError`. Operations live in the `RegistryClient+*.swift` files.
public final class RegistryClient: Sendable {
    public let endpoint: RegistryEndpoint
    public let retryPolicy: RetryPolicy
    let transport: any HTTPTransport
    let authenticator: Authenticator
    let cancellation: CancellationFlag?
    private let sentRequests = Atomic<Int>(0)
    /// Shared by the views of one client (`observingRetries`): whether `/v2/` answered once.
    private let endpointChecked: EndpointCheck
    /// The endpoint budget (`TransferLimits.endpointBudgetSeconds`); nil for none.
    let budgetSeconds: Double?
    /// The total deadline of the item this view works for (`bounded(by:)`); nil for none.
    let itemDeadline: ItemDeadline?

    final class EndpointCheck: Sendable {
        let passed = Atomic<Bool>(false)
        /// Whether the endpoint (https) answered over TLS at least once in this run.
        let answeredOverTLS = Atomic<Bool>(false)
    }

    /// Blobs up to this size go up in one PUT when no chunk size is asked for; larger ones in one
    /// streamed PATCH (`uploadBlob`).
    public static let monolithicLimit = 16 << 20
    /// Largest JSON response kept in memory (manifests, tag lists, error bodies).
    static let jsonLimit = 8 << 20

    /// `limits` set the time limits of the libcurl transport made here (a `transport` passed
    /// in keeps its own).
    public init(
        endpoint: RegistryEndpoint, tls: TLSOptions = TLSOptions(), credentials: Credentials = .none,
        retryPolicy: RetryPolicy = RetryPolicy(), cancellation: CancellationFlag? = nil,
        transport: (any HTTPTransport)? = nil, limits: TransferLimits = TransferLimits()
    ) {
        self.endpoint = endpoint
        self.retryPolicy = retryPolicy
        self.cancellation = cancellation
        let transport =
            transport
            ?? CurlTransport(
                configuration: Self.transportConfiguration(endpoint: endpoint, tls: tls, limits: limits, cancellation: cancellation))
        self.transport = transport
        endpointChecked = EndpointCheck()
        budgetSeconds = limits.endpointBudgetSeconds
        itemDeadline = nil
        self.authenticator = Authenticator(
            credentials: credentials, registry: endpoint.host,
            registryUsesTLS: !endpoint.isPlainHTTP
        ) { request, sink throws(TransportError) in
            try transport.perform(request, sink: sink, progress: nil)
        }
    }

    /// The libcurl settings of a client of `endpoint`: its TLS files, whether certificates are
    /// verified (the endpoint says: `RegistryEndpoint.skipTLSVerify`), and its time limits (a
    /// blob transfer that moves no byte within the endpoint budget is stalled).
    public static func transportConfiguration(
        endpoint: RegistryEndpoint, tls: TLSOptions, limits: TransferLimits, cancellation: CancellationFlag?
    ) -> CurlConfiguration {
        var configuration = CurlConfiguration(
            caFile: tls.caFile, clientCertificate: tls.clientCert, clientKey: tls.clientKey,
            insecureSkipVerify: endpoint.skipTLSVerify,
            lowSpeedLimit: limits.blobMinimumBytesPerSecond, lowSpeedTimeSeconds: limits.blobSpeedWindowSeconds,
            cancellation: cancellation, requestTimeoutSeconds: limits.requestTimeoutSeconds)
        configuration.idleTimeoutSeconds = limits.endpointBudgetSeconds
        return configuration
    }

    /// A client for the same endpoint that shares `other`'s connections and token cache, with its
    /// own retry policy: the run keeps one client per registry endpoint, and each push observes its
    /// own retries through a view like this.
    init(sharing other: RegistryClient, retryPolicy: RetryPolicy, itemDeadline: ItemDeadline? = nil) {
        endpoint = other.endpoint
        self.retryPolicy = retryPolicy
        cancellation = other.cancellation
        transport = other.transport
        authenticator = other.authenticator
        endpointChecked = other.endpointChecked
        budgetSeconds = other.budgetSeconds
        self.itemDeadline = itemDeadline ?? other.itemDeadline
    }

    /// This client, with every request of one item bound by `deadline` (connections, tokens and
    /// retry observers shared).
    public func bounded(by deadline: ItemDeadline) -> RegistryClient {
        RegistryClient(sharing: self, retryPolicy: retryPolicy, itemDeadline: deadline)
    }

    /// Whether this endpoint (https) has answered over TLS in this run, at any step (ping, HEAD,
    /// upload, manifest): its host's plain-http twin must then never be used (docs/run.md).
    public var hasAnsweredOverTLS: Bool { endpointChecked.answeredOverTLS.load(ordering: .acquiring) }

    /// This client, reporting its retries to `observer` as well (connections and tokens shared).
    public func observingRetries(_ observer: @escaping @Sendable (RetryPolicy.Event) -> Void) -> RegistryClient {
        var policy = retryPolicy
        let earlier = policy.onRetry
        policy.onRetry = { event in
            earlier?(event)
            observer(event)
        }
        return RegistryClient(sharing: self, retryPolicy: policy, itemDeadline: itemDeadline)
    }

    /// Looks the credentials up (job `auth` or Docker's config) for this endpoint's host.
    public convenience init(
        endpoint: RegistryEndpoint, tls: TLSOptions = TLSOptions(),
        credentialProvider: any CredentialProvider, retryPolicy: RetryPolicy = RetryPolicy(),
        cancellation: CancellationFlag? = nil, transport: (any HTTPTransport)? = nil,
        limits: TransferLimits = TransferLimits()
    ) throws(RegistryError) {
        let credentials: Credentials
        do { credentials = try credentialProvider.credentials(for: endpoint.host) } catch { throw .credentials(error) }
        self.init(
            endpoint: endpoint, tls: tls, credentials: credentials, retryPolicy: retryPolicy,
            cancellation: cancellation, transport: transport, limits: limits)
    }

    /// Requests sent to the registry so far (token-service requests not included; see
    /// `tokenRequestCount`). Useful for tests of request budgets.
    public var requestCount: Int { sentRequests.load(ordering: .relaxed) }

    /// Tokens fetched from the registry's token service so far.
    public var tokenRequestCount: Int { authenticator.tokenRequestCount }

    /// `ping()` once per client (and its views) for the run: every push checks the endpoint before
    /// writing to it, and the first answer stands for the others (no per-image setup cost).
    public func pingOnce() throws(RegistryError) {
        if endpointChecked.passed.load(ordering: .acquiring) { return }
        try ping()
        endpointChecked.passed.store(true, ordering: .releasing)
    }

    /// `GET /v2/`: checks the endpoint speaks the distribution API and learns its auth challenge.
    /// A 401 is a healthy answer here (authentication happens per repository scope).
    public func ping() throws(RegistryError) {
        let operation = "check \(endpoint.url)/v2/"
        let response = try execute(Call(operation: operation, repository: nil, scopes: [], authenticate: false)) {
            HTTPRequest(method: "GET", url: "\(endpoint.url)/v2/")
        }
        switch response.status {
        case 200:
            return
        case 401:
            authenticator.learn(from: response)
        default:
            throw failure(response, operation: operation, repository: nil)
        }
    }

    // MARK: - Request execution

    /// How one logical request is executed.
    struct Call {
        var operation: String
        var repository: String?
        /// Token scopes, e.g. "repository:team/app:push,pull".
        var scopes: [String]
        var sink: ResponseSink = .memory(limit: RegistryClient.jsonLimit)
        /// Retry transport failures and 5xx/408/429 here; false hands them to the caller
        /// (resumable uploads decide themselves).
        var retry = true
        /// Follow 3xx for GET/HEAD (blob downloads may go to storage elsewhere).
        var followRedirects = false
        /// False for the ping, which must see the 401 itself.
        var authenticate = true
        var progress: (@Sendable (Int64) -> Void)? = nil
        /// Clean-up after an interrupt: sent once, even though the cancellation flag is raised,
        /// with a short overall time limit.
        var ignoresCancellation = false
    }

    static func pushScope(_ repository: String) -> String { "repository:\(repository):push,pull" }
    static func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }

    /// Sends a request built afresh for each attempt (streams are re-opened by `makeRequest`),
    /// handling authentication and retries. Returns any response that is not an auth failure and
    /// not a retryable status with attempts left; callers interpret the status.
    func execute(_ call: Call, makeRequest: () throws(RegistryError) -> HTTPRequest) throws(RegistryError) -> HTTPResponse {
        var attempt = 0
        var reauthorized = false
        var freshAuthorization: String?
        let started = monotonicSeconds()
        while true {
            if cancellation?.isCancelled == true, !call.ignoresCancellation { throw .cancelled }
            if let itemDeadline, itemDeadline.hasPassed, !call.ignoresCancellation {
                throw .deadline(operation: call.operation, registry: endpoint.host, seconds: itemDeadline.seconds)
            }
            attempt += 1
            var request = try makeRequest()
            if call.ignoresCancellation {
                request.ignoresCancellation = true
                request.timeoutSeconds = 5
            }
            // Checked before anything is sent: an https registry's session, link or redirect must
            // not move the exchange to plain http, with or without credentials.
            if let refusal = downgradeRefusal(to: request.url, from: endpoint.url, operation: call.operation) { throw refusal }
            // Credentials go to the registry's own origin only: an upload `Location` elsewhere
            // (storage, a pre-signed URL, a misconfigured proxy) gets the request without them.
            if call.authenticate && Self.sameOrigin(request.url, endpoint.url) {
                if let fresh = freshAuthorization {
                    request.headers.set("Authorization", fresh)
                } else if let authorization = try authenticator.authorization(for: call.scopes) {
                    request.headers.set("Authorization", authorization)
                }
            }
            let response: HTTPResponse
            do {
                response = try send(request, call: call)
            } catch {
                let caught = error
                let error: TransportError
                switch caught {
                case .refused(let refusal): throw refusal
                case .transport(let failure): error = failure
                }
                if case .cancelled = error { throw .cancelled }
                let connectFailure = if case .connect = error { true } else { false }
                if call.retry, error.isRetryable, attempt < retryPolicy.attempts,
                    retryPolicy.retriesConnectFailures || !connectFailure
                {
                    let delay = retryPolicy.delay(afterAttempt: attempt)
                    guard withinBudget(since: started, delay: delay) else {
                        throw budgetSpent(map(error, operation: call.operation))
                    }
                    try pause(operation: call.operation, attempt: attempt, retryAfter: nil, reason: error.description, delay: delay)
                    continue
                }
                throw map(error, operation: call.operation)
            }
            // Only the registry's own 401 may teach a challenge: one from another origin (where an
            // upload `Location` pointed) could name a token realm that collects credentials.
            if response.status == 401 && call.authenticate && Self.sameOrigin(request.url, endpoint.url) {
                if !reauthorized {
                    // A 401 mid-run (expired or missing token): re-read the challenge, retry once.
                    reauthorized = true
                    attempt -= 1
                    freshAuthorization = try authenticator.reauthorize(after: response, scopes: call.scopes)
                    // Nothing new to send (e.g. a Basic challenge and no credentials): the 401 is final.
                    if freshAuthorization != nil { continue }
                }
                let codes = ErrorBody.parse(response.body)
                throw .unauthorized(
                    registry: endpoint.host, repository: call.repository, operation: call.operation,
                    credentials: authenticator.credentials.description,
                    message: codes.isEmpty ? "authentication required" : codes.map(\.description).joined(separator: "; "))
            }
            if Self.isRetryableStatus(response.status), call.retry, attempt < retryPolicy.attempts {
                let delay = retryPolicy.delay(
                    afterAttempt: attempt, retryAfter: RetryPolicy.parseRetryAfter(response.headers["Retry-After"]))
                // Past the endpoint budget the answer stands: the caller reports it, and fallback
                // moves on to the next endpoint.
                guard withinBudget(since: started, delay: delay) else { return response }
                try pause(operation: call.operation, attempt: attempt, retryAfter: nil, reason: "HTTP \(response.status)", delay: delay)
                continue
            }
            return response
        }
    }

    /// Whether a retry after waiting `delay` seconds would still start within the endpoint budget
    /// counted from `since` (monotonic seconds: the request's first attempt, or the last time an
    /// upload's bytes moved).
    func withinBudget(since: Double, delay: Double) -> Bool {
        guard let budgetSeconds else { return true }
        return monotonicSeconds() - since + delay < budgetSeconds
    }

    /// `error` saying that the endpoint budget is spent (an `unreachable` error stays one, so the
    /// endpoint is abandoned for the next).
    func budgetSpent(_ error: RegistryError) -> RegistryError {
        guard let budgetSeconds, case .unreachable(let registry, let operation, let message) = error else { return error }
        return .unreachable(
            registry: registry, operation: operation,
            message: "\(message) (gave up: the registry's timeout of \(Self.seconds(budgetSeconds)) is spent)")
    }

    /// `30 s`, `2.5 s`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    static func isRetryableStatus(_ status: Int) -> Bool {
        status == 408 || status == 429 || (500...599).contains(status)
    }

    /// Why `send` returned no response: the transport failed, or a redirect was refused.
    enum SendFailure: Error {
        case transport(TransportError)
        case refused(RegistryError)
    }

    /// One HTTP exchange, following redirects for GET/HEAD when asked. `Authorization` is dropped
    /// as soon as a hop leaves the registry's origin (and not restored later), and a redirect
    /// from https to plain http is refused: credentials and data never leave TLS or the registry.
    func send(_ request: HTTPRequest, call: Call) throws(SendFailure) -> HTTPResponse {
        var request = request
        var hops = 0
        while true {
            sentRequests.add(1, ordering: .relaxed)
            let response: HTTPResponse
            let isBlobTransfer = Self.isBlobTransfer(request, sink: call.sink)
            let started = monotonicSeconds()
            // Time a blob transfer spends moving bytes does not count against the item's deadline.
            defer { if isBlobTransfer, let itemDeadline { itemDeadline.extend(by: monotonicSeconds() - started) } }
            do { response = try transport.perform(request, sink: call.sink, progress: call.progress) } catch { throw .transport(error) }
            if Self.scheme(of: request.url) == "https", Self.sameOrigin(request.url, endpoint.url) {
                endpointChecked.answeredOverTLS.store(true, ordering: .releasing)
            }
            guard call.followRedirects, request.method == "GET" || request.method == "HEAD",
                [301, 302, 303, 307, 308].contains(response.status),
                let location = response.headers["Location"], hops < 5
            else { return response }
            hops += 1
            let next = Self.resolve(location, against: request.url)
            if let refusal = downgradeRefusal(to: next, from: request.url, operation: call.operation) { throw .refused(refusal) }
            if !Self.sameOrigin(next, endpoint.url) { request.headers.remove("Authorization") }
            request.url = next
        }
    }

    /// The error for moving from an https URL (the registry, or the hop before) to a plain-http
    /// one; nil when the move keeps TLS or never had it.
    func downgradeRefusal(to target: String, from previous: String, operation: String) -> RegistryError? {
        guard Self.scheme(of: previous) == "https", Self.scheme(of: target) != "https" else { return nil }
        return .insecureRedirect(registry: endpoint.host, operation: operation, target: DisplayText.withoutQuery(target))
    }

    /// Whether a request streams a blob (its body or its response): bound by the throughput rule.
    static func isBlobTransfer(_ request: HTTPRequest, sink: ResponseSink) -> Bool {
        if case .stream = request.body { return true }
        if case .stream = sink { return true }
        return false
    }

    /// Waits before a retry (`delay`, else the policy's delay), announcing it, and gives up early
    /// when cancelled.
    func pause(operation: String, attempt: Int, retryAfter: Double?, reason: String, delay: Double? = nil) throws(RegistryError) {
        let delay = delay ?? retryPolicy.delay(afterAttempt: attempt, retryAfter: retryAfter)
        retryPolicy.onRetry?(RetryPolicy.Event(operation: operation, attempt: attempt, delaySeconds: delay, reason: reason))
        // The wait ends at once when the run is cancelled (no polling).
        guard (cancellation ?? CancellationFlag()).sleep(seconds: delay) else { throw .cancelled }
    }

    /// A non-success response as an error: the registry's codes when it sent some.
    func failure(_ response: HTTPResponse, operation: String, repository: String?) -> RegistryError {
        let codes = ErrorBody.parse(response.body)
        if !codes.isEmpty {
            if codes.contains(where: { $0.code == "UNAUTHORIZED" }) && response.status == 401 {
                return .unauthorized(
                    registry: endpoint.host, repository: repository, operation: operation,
                    credentials: authenticator.credentials.description,
                    message: codes.map(\.description).joined(separator: "; "))
            }
            return .registry(status: response.status, errors: codes, operation: operation, registry: endpoint.host, repository: repository)
        }
        return .http(
            status: response.status, operation: operation, registry: endpoint.host, repository: repository,
            body: String(response.bodyText.prefix(200)))
    }

    func map(_ error: TransportError, operation: String) -> RegistryError {
        switch error {
        case .tls(_, let message): .tls(registry: endpoint.host, message: message)
        case .cancelled: .cancelled
        case .bodySource(_, let message): .source(operation: operation, message: message)
        case .responseTooLarge, .responseConsumer, .other:
            .invalidResponse(operation: operation, registry: endpoint.host, message: error.description)
        case .connect, .connectionLost, .timeout:
            .unreachable(registry: endpoint.host, operation: operation, message: error.description)
        }
    }

    // MARK: - URLs

    func url(_ repository: String, _ path: String) -> String {
        "\(endpoint.url)/v2/\(repository)/\(path)"
    }

    /// The lower-cased scheme of a URL ("" when it has none).
    static func scheme(of url: String) -> String {
        guard let r = url.range(of: "://") else { return "" }
        return url[..<r.lowerBound].lowercased()
    }

    /// Whether two URLs share scheme, host and port (RFC 6454 origin; a default port written
    /// out, as in `https://r.test:443`, is the same origin as none).
    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        normalizedOrigin(a) == normalizedOrigin(b)
    }

    static func normalizedOrigin(_ url: String) -> String {
        var origin = origin(of: url).lowercased()
        // Userinfo (`user:pass@host`) is not part of the origin.
        if let r = origin.range(of: "://"), let at = origin[r.upperBound...].lastIndex(of: "@") {
            origin = String(origin[..<r.upperBound]) + origin[origin.index(after: at)...]
        }
        if origin.hasPrefix("https://"), origin.hasSuffix(":443") { origin.removeLast(4) }
        if origin.hasPrefix("http://"), origin.hasSuffix(":80") { origin.removeLast(3) }
        return origin
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String {
        guard let r = url.range(of: "://") else { return "" }
        let rest = url[r.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        return String(url[..<end])
    }

    /// Resolves a `Location` header: absolute, host-relative (`/v2/…`) or relative to the request.
    package static func resolve(_ location: String, against requestURL: String) -> String {
        if location.contains("://") { return location }
        if location.hasPrefix("/") { return origin(of: requestURL) + location }
        var base = requestURL
        if let q = base.firstIndex(of: "?") { base = String(base[..<q]) }
        if let slash = base.lastIndex(of: "/") { base = String(base[...slash]) }
        return base + location
    }

    /// Adds a query parameter, keeping any query the URL already has (upload session state).
    static func appendQuery(_ url: String, _ name: String, _ value: String) -> String {
        url + (url.contains("?") ? "&" : "?") + name + "=" + Authenticator.percentEncode(value)
    }
}
