import Foundation
import JobFile
import OCI
import Registry

/// How pushctl reads from one source registry: credentials, TLS and endpoints come from the job's
/// `registries` entry whose `url` (or a mirror) has the source's host — which also gives the source
/// its mirrors, CA and `insecure` — else from the docker credential search, over `https://HOST`
/// (then `http://HOST` on loopback hosts, as docker does). The run layer makes it (one per source
/// registry and run, sharing the endpoint set with pushes to the same registry entry), so reads
/// follow the run's one fallback rule and reuse its clients (docs/run.md).
public final class RegistrySourceAccess: Sendable {
    /// `host[:port]` of the registry's `url` (or of the reference when no entry matches): the key
    /// for rate limits, and for telling whether source and target are the same registry.
    public let registryKey: String
    /// The job's registry entry used, if any.
    public let registryName: String?
    public let endpoints: EndpointSet<RegistryClient>
    private let rateLimits: RateLimitBook

    public init(registryKey: String, registryName: String?, endpoints: EndpointSet<RegistryClient>, rateLimits: RateLimitBook) {
        self.registryKey = registryKey
        self.registryName = registryName
        self.endpoints = endpoints
        self.rateLimits = rateLimits
    }

    /// The job registry entry that describes `reference`'s registry, if any.
    public static func matchingRegistry(for reference: ImageReference, in job: Job) -> JobFile.Registry? {
        job.registries.first { registry in
            if reference.isDockerHub { return registry.isDockerHub }
            return ([registry.url] + registry.mirrors).contains { $0.hostPort == reference.domain }
        }
    }

    /// The key the registry of `reference` has, as seen from `job` (known without any I/O).
    public static func registryKey(for reference: ImageReference, in job: Job) -> String {
        if let registry = matchingRegistry(for: reference, in: job) { return registry.url.hostPort }
        return reference.isDockerHub ? ImageReference.dockerHubDomain : reference.domain
    }

    /// The pull budget this registry announced most recently.
    public var rateLimit: RateLimitStatus? { rateLimits.status(of: registryKey) }

    /// Runs `body` against the first usable endpoint (the run's fallback rule). A registry's own
    /// answer (404, `DENIED`, …) is final; when no endpoint is left the error says why each failed.
    public func read<T>(_ body: (RegistryClient) throws(RegistryError) -> T) throws(RegistryError) -> T {
        do {
            return try endpoints.perform { client, _ throws(RegistryError) in try body(client) }.value
        } catch let error as RegistryError {
            throw error
        } catch let none as NoUsableEndpoint {
            throw .unreachable(registry: registryKey, operation: "read", message: none.description)
        } catch {
            throw .invalidResponse(operation: "read", registry: registryKey, message: String(describing: error))
        }
    }

    /// Before a manifest `GET` (a counted pull on Docker Hub).
    func spendPull() throws(RateLimitExhausted) {
        try rateLimits.spend(registry: registryKey)
    }
}
