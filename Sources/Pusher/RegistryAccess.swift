import Curl
import Foundation
import JobFile
import OCI
import Planner
import Registry

/// How pushctl reaches one registry of a job: its credentials (job `auth`, else the docker CLI's
/// search, jobfile-v1.md "Credentials when `auth` is absent"), TLS settings, and a client per
/// endpoint. Shared by `apply`, `plan`, `verify` and registry sources.
public struct RegistryAccess: Sendable {
    public let registry: JobFile.Registry
    public let credentials: Credentials
    /// Who we are at this registry, as text that is hashed (keyed) before the state database sees
    /// it: the host and the user name, or a digest of the token. Never the secret itself.
    public let identityMaterial: String

    public init(registry: JobFile.Registry, environment: [String: String]) throws(RegistryError) {
        self.registry = registry
        let host = registry.url.hostPort
        let credentials: Credentials
        switch registry.auth {
        case .basic(let username, let password)?:
            credentials = .basic(username: username, password: password)
        case .token(let token)?:
            credentials = .bearer(token)
        case nil:
            do {
                credentials = try DockerCredentialStore(environment: environment).credentials(for: host)
            } catch {
                throw .credentials(error)
            }
        }
        self.credentials = credentials
        identityMaterial = switch credentials {
        case .none: "\(host) anonymous"
        case .basic(let username, _): "\(host) user \(username)"
        case .identityToken(let token), .bearer(let token): "\(host) token \(Digest.of(Array(token.utf8)))"
        }
    }

    /// The registry's identity in the state database: `host[:port]` of its `url`, so metadata
    /// recorded through a mirror belongs to the same registry.
    public var registryKey: String { registry.url.hostPort }

    /// A client for one endpoint of this registry.
    public func client(for endpoint: Endpoint, retryPolicy: RetryPolicy, cancellation: CancellationFlag?) -> RegistryClient {
        let tls = TLSOptions(caFile: registry.ca, clientCert: registry.cert, clientKey: registry.key,
                             insecureSkipVerify: endpoint.skipTLSVerify)
        return RegistryClient(endpoint: RegistryEndpoint(url: endpoint.url, insecureSkipVerify: endpoint.skipTLSVerify),
                              tls: tls, credentials: credentials, retryPolicy: retryPolicy, cancellation: cancellation)
    }
}
