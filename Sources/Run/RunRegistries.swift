import Curl
import EngineSource
import Foundation
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import Threading

/// One registry as a run reaches it: its credentials, and its endpoint set (fallback order, one
/// client per endpoint for the whole run, endpoints found dead remembered). Pushes to it, plan
/// previews, `verify` and reads of `docker://` sources on it all go through here (docs/run.md).
public final class RegistryConnection: PushEndpoints, Sendable {
    /// The registry's name in the job file (or its host for a source no entry describes).
    public let name: String
    /// The registry's identity in the state database: `host[:port]` of its `url`, so metadata
    /// recorded through a mirror belongs to the same registry.
    public let registryKey: String
    /// Who we are at this registry, as text that is hashed (keyed) before the state database sees
    /// it: the host and the user name, or a digest of the token. Never the secret itself.
    public let identityMaterial: String
    public let endpoints: EndpointSet<RegistryClient>
    /// The registry's `timeout` (job file), in seconds.
    public let timeoutSeconds: Double

    init(
        name: String, registryKey: String, identityMaterial: String, endpoints: EndpointSet<RegistryClient>,
        timeoutSeconds: Double = 60
    ) {
        self.name = name
        self.registryKey = registryKey
        self.identityMaterial = identityMaterial
        self.endpoints = endpoints
        self.timeoutSeconds = timeoutSeconds
    }

    public var preferredHost: String { endpoints.preferred?.host ?? registryKey }

    /// The executor's fallback: the registry's `EndpointSet` with the executor's own ports (the
    /// executor knows nothing of the registry client).
    public func perform<T>(
        retries: @escaping @Sendable (PushRetry) -> Void,
        _ body: (any PushDestination, RegistryEndpoint) throws -> T
    ) throws -> (value: T, endpoint: RegistryEndpoint) {
        // One item, on every endpoint it tries, within one total deadline (docs/jobfile.md `timeout`).
        let deadline = ItemDeadline(seconds: timeoutSeconds * TransferLimits.itemDeadlineMultiple)
        let observer: @Sendable (RetryPolicy.Event) -> Void = { event in
            retries(PushRetry(operation: event.operation, attempt: event.attempt, delaySeconds: event.delaySeconds))
        }
        return try endpoints.performPush(
            destination: { RegistryDestination(client: $0.observingRetries(observer).bounded(by: deadline)) }, body)
    }
}

extension EndpointSet {
    /// The executor's work under this set's fallback rule: `body` gets each endpoint as a
    /// `PushDestination`; the executor's failures carry their own `EndpointVerdict`, and a set
    /// with no usable endpoint left is `PushEndpointsExhausted`.
    public func performPush<T>(
        destination: (Client) -> any PushDestination,
        _ body: (any PushDestination, RegistryEndpoint) throws -> T
    ) throws -> (value: T, endpoint: RegistryEndpoint) {
        do {
            return try perform { client, member in try body(destination(client), member) }
        } catch let exhausted as NoUsableEndpoint {
            throw PushEndpointsExhausted(registry: exhausted.registry, attempts: exhausted.attempts.map { ($0.endpoint, $0.reason) })
        }
    }
}

/// The registries of one run: one `RegistryConnection` per job registry entry (targets, and
/// sources that entry describes) or per source host no entry describes. Made on first use.
public final class RunRegistries: Sendable {
    private let environment: [String: String]
    private let cancellation: CancellationFlag
    private let retriesOverride: Int?
    public let rateLimits: RateLimitBook
    private let announce: @Sendable (EndpointFallbackNotice) -> Void
    private let connections = LockedValue<[ConnectionKey: RegistryConnection]>([:])
    private let engineClient = LockedValue<Result<EngineClient, EngineError>?>(nil)

    private enum ConnectionKey: Hashable {
        /// A registry entry of a job file.
        case entry(file: String, name: String)
        /// A source registry no entry describes (docker's credential search, https then loopback http).
        case host(file: String, host: String)
    }

    /// - Parameter announce: hears each endpoint abandoned in this run (once per endpoint).
    public init(
        environment: [String: String], cancellation: CancellationFlag, retries: Int? = nil,
        rateLimits: RateLimitBook = RateLimitBook(),
        announce: @escaping @Sendable (EndpointFallbackNotice) -> Void = { _ in }
    ) {
        self.environment = environment
        self.cancellation = cancellation
        self.retriesOverride = retries
        self.rateLimits = rateLimits
        self.announce = announce
    }

    /// The container engine at `DOCKER_HOST` (`docker-daemon:` sources): one client per run.
    public func engine() throws(EngineError) -> EngineClient {
        let result = engineClient.withLock { known in
            if let known { return known }
            let made = Result { () throws(EngineError) in
                EngineClient(host: try EngineHost.from(environment: environment), cancellation: cancellation)
            }
            known = made
            return made
        }
        return try result.get()
    }

    /// The connection to the job's registry entry `registry`.
    public func connection(to registry: JobFile.Registry, of job: Job) throws(RegistryError) -> RegistryConnection {
        let key = ConnectionKey.entry(file: job.filePath, name: registry.name)
        if let known = connections.withLock({ $0[key] }) { return known }
        let credentials: Credentials
        switch registry.auth {
        case .basic(let username, let password)?: credentials = .basic(username: username, password: password)
        case .token(let token)?: credentials = .bearer(token)
        case nil: credentials = try dockerCredentials(for: registry.url.hostPort)
        }
        let tls = TLSOptions(caFile: registry.ca, clientCert: registry.cert, clientKey: registry.key)
        let made = make(
            name: registry.name, registryKey: registry.url.hostPort, credentials: credentials,
            members: RegistryEndpoint.fallbackOrder(for: registry),
            tls: tls, retries: job.defaults.retries, timeout: registry.timeout ?? job.defaults.timeout)
        return remember(made, as: key)
    }

    /// Access to the registry of a `docker://` source, as seen from `job`: the entry that
    /// describes it (shared with pushes to that entry), else the host with docker's credentials,
    /// over https and, for loopback hosts, then plain http (as docker does).
    public func source(_ reference: ImageReference, of job: Job) throws(RegistryError) -> RegistrySourceAccess {
        if let registry = RegistrySourceAccess.matchingRegistry(for: reference, in: job) {
            let connection = try connection(to: registry, of: job)
            return RegistrySourceAccess(
                registryKey: connection.registryKey, registryName: registry.name,
                endpoints: connection.endpoints, rateLimits: rateLimits)
        }
        let host = reference.domain
        let key = ConnectionKey.host(file: job.filePath, host: host)
        let connection: RegistryConnection
        if let known = connections.withLock({ $0[key] }) {
            connection = known
        } else {
            guard case .success(let url) = RegistryURL.parse("https://" + host) else {
                throw .invalidResponse(operation: "read \(reference)", registry: host, message: "not a registry host")
            }
            var members = [RegistryEndpoint(url: url, insecure: false)]
            // Docker treats loopback registries as insecure: plain http after https fails in any way.
            if url.isLoopback { members.append(RegistryEndpoint(url: url.with(scheme: .http), insecure: false)) }
            let made = make(
                name: host, registryKey: RegistrySourceAccess.registryKey(for: reference, in: job),
                credentials: try dockerCredentials(for: host), members: members, tls: TLSOptions(),
                retries: job.defaults.retries, timeout: job.defaults.timeout)
            connection = remember(made, as: key)
        }
        return RegistrySourceAccess(
            registryKey: connection.registryKey, registryName: nil,
            endpoints: connection.endpoints, rateLimits: rateLimits)
    }

    /// Keeps the first connection made for `key` (two threads may have made one each).
    private func remember(_ made: RegistryConnection, as key: ConnectionKey) -> RegistryConnection {
        connections.withLock { connections in
            if let known = connections[key] { return known }
            connections[key] = made
            return made
        }
    }

    private func dockerCredentials(for host: String) throws(RegistryError) -> Credentials {
        do {
            return try DockerCredentialStore(environment: environment).credentials(for: host)
        } catch {
            throw .credentials(error)
        }
    }

    private func make(
        name: String, registryKey: String, credentials: Credentials, members: [RegistryEndpoint],
        tls: TLSOptions, retries: Int, timeout: Double
    ) -> RegistryConnection {
        let host = registryKey
        let identity: String =
            switch credentials {
            case .none: "\(host) anonymous"
            case .basic(let username, _): "\(host) user \(username)"
            case .identityToken(let token), .bearer(let token): "\(host) token \(Digest.of(Array(token.utf8)))"
            }
        let cancellation = cancellation, rateLimits = rateLimits
        let attempts = retriesOverride ?? retries
        let limits = TransferLimits.timeout(timeout)
        let endpoints = EndpointSet<RegistryClient>(registry: name, members: members, announce: announce) { member, hasFallback in
            var policy = RetryPolicy(attempts: attempts)
            // An endpoint that cannot be reached is abandoned at once for the next one
            // (docs/jobfile.md "Endpoint fallback order"); only the last one retries connecting.
            policy.retriesConnectFailures = !hasFallback
            let configuration = RegistryClient.transportConfiguration(
                endpoint: member, tls: tls, limits: limits, cancellation: cancellation)
            let transport = RateLimitObservingTransport(
                inner: CurlTransport(configuration: configuration), registry: registryKey, book: rateLimits)
            return RegistryClient(
                endpoint: member, tls: tls, credentials: credentials, retryPolicy: policy, cancellation: cancellation,
                transport: transport, limits: limits)
        }
        return RegistryConnection(
            name: name, registryKey: registryKey, identityMaterial: identity, endpoints: endpoints, timeoutSeconds: timeout)
    }
}
