import Curl
import Foundation
import JobFile
import OCI
import Planner
import Registry
import Synchronization

/// Settings for reading `docker://` sources during one run (docs/replication.md).
public struct RegistrySourceSettings: Sendable {
    /// Attempts per request for retryable failures.
    public var retries: Int
    /// Stops downloads when the run is interrupted.
    public var cancellation: CancellationFlag?
    /// Where the source registries' rate-limit headers are collected.
    public var rateLimits: RateLimitBook
    /// With `--shard I/N`: each tag a selector picks is its own push and is sharded on its own
    /// (`PushJob.shardKey`), so N runners split one selector's tags between them.
    public var shard: Shard?

    public init(retries: Int = 5, cancellation: CancellationFlag? = nil, rateLimits: RateLimitBook = RateLimitBook(), shard: Shard? = nil) {
        self.retries = retries
        self.cancellation = cancellation
        self.rateLimits = rateLimits
        self.shard = shard
    }
}

/// How pushctl reads from one source registry: credentials, TLS and endpoints come from the job's
/// `registries` entry whose `url` (or a mirror) has the source's host — which also gives the source
/// its mirrors, CA and `insecure` — else from the docker credential search, over `https://HOST`
/// (then `http://HOST` on loopback hosts, as docker does). Reads fall back across the
/// endpoints like pushes do (jobfile-v1.md "Endpoint fallback order").
///
/// Thread-safe: one client per endpoint is made on first use and shared (so an auth challenge is
/// learned once per run). Like the executor's per-push fallback, every read starts again at the
/// first endpoint (each client retries on its own first), so one bad moment of an endpoint does not
/// rule it out for the rest of a long run.
public final class RegistrySourceAccess: Sendable {
    /// `host[:port]` of the registry's `url` (or of the reference when no entry matches): the key
    /// for rate limits, and for telling whether source and target are the same registry.
    public let registryKey: String
    /// The job's registry entry used, if any.
    public let registryName: String?
    public let endpoints: [Endpoint]
    private let credentials: Credentials
    private let ca: String?, cert: String?, key: String?
    private let settings: RegistrySourceSettings
    private let clients = Mutex<[String: RegistryClient]>([:])
    /// Hosts that answered over TLS in this run: their plain-http twins are never used.
    private let confirmedTLS = Mutex<Set<String>>([])

    init(registryKey: String, registryName: String?, endpoints: [Endpoint], credentials: Credentials,
         ca: String?, cert: String?, key: String?, settings: RegistrySourceSettings) {
        self.registryKey = registryKey
        self.registryName = registryName
        self.endpoints = endpoints
        self.credentials = credentials
        self.ca = ca
        self.cert = cert
        self.key = key
        self.settings = settings
    }

    /// The job registry entry that describes `reference`'s registry, if any.
    public static func matchingRegistry(for reference: ImageReference, in job: Job) -> JobFile.Registry? {
        job.registries.first { registry in
            if reference.isDockerHub { return registry.isDockerHub }
            return ([registry.url] + registry.mirrors).contains { $0.hostPort == reference.domain }
        }
    }

    /// The key `make` will give the registry of `reference` (known without any I/O).
    public static func registryKey(for reference: ImageReference, in job: Job) -> String {
        if let registry = matchingRegistry(for: reference, in: job) { return registry.url.hostPort }
        return reference.isDockerHub ? ImageReference.dockerHubDomain : reference.domain
    }

    /// Access for the registry of `reference`, as seen from `job`.
    public static func make(for reference: ImageReference, job: Job, environment: [String: String],
                            settings: RegistrySourceSettings) throws(RegistryError) -> RegistrySourceAccess {
        if let registry = matchingRegistry(for: reference, in: job) {
            let access = try RegistryAccess(registry: registry, environment: environment)
            return RegistrySourceAccess(registryKey: access.registryKey, registryName: registry.name,
                                        endpoints: Endpoint.fallbackOrder(for: registry), credentials: access.credentials,
                                        ca: registry.ca, cert: registry.cert, key: registry.key, settings: settings)
        }
        let credentials: Credentials
        do {
            credentials = try DockerCredentialStore(environment: environment).credentials(for: reference.domain)
        } catch {
            throw .credentials(error)
        }
        guard case .success(let url) = RegistryURL.parse("https://" + reference.domain) else {
            throw .invalidResponse(operation: "read \(reference)", registry: reference.domain, message: "not a registry host")
        }
        var endpoints = [Endpoint(url: url, onlyIfTLSHandshakeFails: false, skipTLSVerify: false, isMirror: false)]
        if url.isLoopback {
            // Docker treats loopback registries as insecure: plain http after https fails in any way.
            endpoints.append(Endpoint(url: url.with(scheme: .http), onlyIfTLSHandshakeFails: false, skipTLSVerify: true, isMirror: false))
        }
        return RegistrySourceAccess(registryKey: registryKey(for: reference, in: job),
                                    registryName: nil, endpoints: endpoints, credentials: credentials,
                                    ca: nil, cert: nil, key: nil, settings: settings)
    }

    /// The pull budget this registry announced most recently.
    public var rateLimit: RateLimitStatus? { settings.rateLimits.status(of: registryKey) }

    /// Runs `body` against the first endpoint that works; falls back to the next when one cannot be
    /// reached (an insecure registry's plain-http twin only after a failed TLS handshake, and never
    /// once its host answered over TLS). A registry's own answer (404, `DENIED`, …) is final.
    public func read<T>(_ body: (RegistryClient) throws(RegistryError) -> T) throws(RegistryError) -> T {
        var lastError: RegistryError?
        var previousTLSHandshakeFailed = false
        for endpoint in endpoints {
            if endpoint.onlyIfTLSHandshakeFails {
                let confirmed = confirmedTLS.withLock { $0.contains(endpoint.host) }
                guard previousTLSHandshakeFailed, !confirmed else { continue }
            }
            do {
                let result = try body(client(for: endpoint))
                if endpoint.scheme == "https" { confirmedTLS.withLock { _ = $0.insert(endpoint.host) } }
                return result
            } catch {
                guard error.isEndpointFailure else { throw error }
                previousTLSHandshakeFailed = error.isTLSHandshakeFailure
                lastError = error
            }
        }
        throw lastError ?? .unreachable(registry: registryKey, operation: "read", message: "no endpoint to try")
    }

    /// Before a manifest `GET` (a counted pull on Docker Hub).
    func spendPull() throws(RateLimitExhausted) {
        try settings.rateLimits.spend(registry: registryKey)
    }

    private func client(for endpoint: Endpoint) -> RegistryClient {
        clients.withLock { clients in
            if let client = clients[endpoint.url] { return client }
            let skip = endpoint.skipTLSVerify
            let transport = RateLimitObservingTransport(
                inner: CurlTransport(configuration: CurlConfiguration(caFile: ca, clientCertificate: cert, clientKey: key,
                                                                      insecureSkipVerify: skip, cancellation: settings.cancellation)),
                registry: registryKey, book: settings.rateLimits)
            let client = RegistryClient(endpoint: RegistryEndpoint(url: endpoint.url, insecureSkipVerify: skip),
                                        tls: TLSOptions(caFile: ca, clientCert: cert, clientKey: key, insecureSkipVerify: skip),
                                        credentials: credentials, retryPolicy: RetryPolicy(attempts: settings.retries),
                                        cancellation: settings.cancellation, transport: transport)
            clients[endpoint.url] = client
            return client
        }
    }
}
