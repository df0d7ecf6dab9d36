import RegistryHarness
import OCI
@testable import Registry

extension RegistryServer {
    /// A registry (`variant`) and a client of it with no credentials.
    static func startWithClient(_ variant: Variant = .plain) throws -> (server: RegistryServer, client: RegistryClient) {
        let server = try start(variant)
        return (server, RegistryClient(endpoint: RegistryEndpoint(url: server.baseURL)))
    }
}
