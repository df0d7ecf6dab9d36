import JobFile
import OCI

/// One address at which a target registry is tried, in fallback order
/// (spec "Registries" → "Endpoint fallback order").
public struct Endpoint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `scheme://host[:port]` as contacted (Docker Hub already mapped to `registry-1.docker.io`).
    public var url: String
    public var scheme: String
    /// `host[:port]`, the key for the "confirmed TLS" rule and for credentials lookups.
    public var host: String
    /// True for the plain-http twin of an insecure registry's https endpoint: it is tried only if
    /// the TLS handshake with `host` itself failed, and never once `host` has answered over TLS.
    public var onlyIfTLSHandshakeFails: Bool
    /// True when TLS certificates are not verified (the registry is marked `insecure: true`).
    public var skipTLSVerify: Bool
    /// True for endpoints that come from `mirrors:` rather than `url:`.
    public var isMirror: Bool

    public var isHTTPTwin: Bool { onlyIfTLSHandshakeFails }

    public var description: String {
        var notes: [String] = []
        if isMirror { notes.append("mirror") }
        if onlyIfTLSHandshakeFails { notes.append("only if the TLS handshake fails") }
        if skipTLSVerify && scheme == "https" { notes.append("TLS not verified") }
        return notes.isEmpty ? url : "\(url) (\(notes.joined(separator: ", ")))"
    }

    public init(url: RegistryURL, onlyIfTLSHandshakeFails: Bool, skipTLSVerify: Bool, isMirror: Bool) {
        let apiURL =
            url.isDockerHub
            ? RegistryURL(scheme: url.scheme, host: ImageReference.dockerHubAPIHost, port: nil)
            : url
        self.url = apiURL.string
        self.scheme = apiURL.scheme.rawValue
        self.host = apiURL.hostPort
        self.onlyIfTLSHandshakeFails = onlyIfTLSHandshakeFails
        self.skipTLSVerify = skipTLSVerify
        self.isMirror = isMirror
    }

    /// The endpoints of `registry` in the order they will be tried:
    /// 1. `url`, then each mirror as written;
    /// 2. with `insecure: true`, each https endpoint is followed by its http twin;
    /// duplicates (e.g. a mirror that is already another endpoint's twin) are dropped.
    public static func fallbackOrder(for registry: Registry) -> [Endpoint] {
        var out: [Endpoint] = []
        let written = [(registry.url, false)] + registry.mirrors.map { ($0, true) }
        for (url, isMirror) in written {
            out.append(Endpoint(url: url, onlyIfTLSHandshakeFails: false, skipTLSVerify: registry.insecure, isMirror: isMirror))
            if registry.insecure && url.scheme == .https {
                out.append(
                    Endpoint(
                        url: url.with(scheme: .http), onlyIfTLSHandshakeFails: true,
                        skipTLSVerify: true, isMirror: isMirror))
            }
        }
        var seen: Set<String> = []
        return out.filter { seen.insert($0.url).inserted }
    }
}
