import JobFile
import OCI

extension RegistryEndpoint {
    /// An endpoint of a job file's registry entry: Docker Hub is contacted at
    /// `registry-1.docker.io`.
    public init(url: RegistryURL, insecure: Bool, isHTTPTwin: Bool = false, isMirror: Bool = false) {
        let apiURL =
            url.isDockerHub
            ? RegistryURL(scheme: url.scheme, host: ImageReference.dockerHubAPIHost, port: nil)
            : url
        self.init(url: apiURL.string, insecure: insecure, isHTTPTwin: isHTTPTwin, isMirror: isMirror)
    }

    /// The endpoints of `registry` in the order they will be tried
    /// (docs/jobfile.md "Endpoint fallback order"):
    /// 1. `url`, then each mirror as written;
    /// 2. with `insecure: true`, each https endpoint is followed by its http twin;
    /// duplicates (e.g. a mirror that is already another endpoint's twin) are dropped.
    public static func fallbackOrder(for registry: Registry) -> [RegistryEndpoint] {
        var out: [RegistryEndpoint] = []
        let written = [(registry.url, false)] + registry.mirrors.map { ($0, true) }
        for (url, isMirror) in written {
            out.append(RegistryEndpoint(url: url, insecure: registry.insecure, isMirror: isMirror))
            if registry.insecure && url.scheme == .https {
                out.append(
                    RegistryEndpoint(url: url.with(scheme: .http), insecure: registry.insecure, isHTTPTwin: true, isMirror: isMirror))
            }
        }
        var seen: Set<String> = []
        return out.filter { seen.insert($0.url).inserted }
    }
}
