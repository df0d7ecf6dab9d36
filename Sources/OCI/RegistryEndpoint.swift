/// One address of a registry, `scheme://host[:port]` with no path, as the plan lists it, the run
/// tries it in fallback order and the registry client talks to it: the one endpoint type from
/// `Planner` through `Run` to `Registry` and the executor (docs/run.md "Seams"). It
/// lives here, beside the distribution vocabulary, because every one of those modules reads OCI
/// and none of them may import the others.
///
/// Its fields are the plan's JSON (`pushctl plan --output json`, saved plans): keep their names.
public struct RegistryEndpoint: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `scheme://host[:port]` as contacted, without a trailing slash.
    public var url: String
    /// `https` or `http`.
    public var scheme: String
    /// `host[:port]`: the key for the "confirmed TLS" rule, for credentials and for messages.
    public var host: String
    /// True for the plain-http twin of an insecure registry's https endpoint: it is tried only if
    /// the TLS handshake with `host` itself failed, and never once `host` has answered over TLS.
    public var onlyIfTLSHandshakeFails: Bool
    /// True when TLS certificates and host names are not verified (see `init`).
    public var skipTLSVerify: Bool
    /// True for endpoints that come from `mirrors:` rather than `url:`.
    public var isMirror: Bool

    /// - Parameters:
    ///   - url: `scheme://host[:port]` (a trailing slash is dropped).
    ///   - insecure: the registry is marked `insecure: true` (docs/jobfile.md). This is the one
    ///     place the TLS rule is decided: certificates are not verified exactly at the endpoints
    ///     of such a registry (its plain-http twins included), nowhere else.
    public init(url: String, insecure: Bool = false, isHTTPTwin: Bool = false, isMirror: Bool = false) {
        var u = Substring(url)
        while u.hasSuffix("/") { u.removeLast() }
        self.url = String(u)
        var rest = u
        if let r = rest.range(of: "://") {
            scheme = String(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        } else {
            scheme = "https"
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        host = String(rest)
        onlyIfTLSHandshakeFails = isHTTPTwin
        skipTLSVerify = insecure
        self.isMirror = isMirror
    }

    public var isHTTPTwin: Bool { onlyIfTLSHandshakeFails }
    public var isPlainHTTP: Bool { scheme == "http" }
    public var isHTTPS: Bool { scheme == "https" }

    public var description: String { url }

    /// The URL with what sets it apart in the fallback order, for the readable plan.
    public var annotated: String {
        var notes: [String] = []
        if isMirror { notes.append("mirror") }
        if onlyIfTLSHandshakeFails { notes.append("only if the TLS handshake fails") }
        if skipTLSVerify && isHTTPS { notes.append("TLS not verified") }
        return notes.isEmpty ? url : "\(url) (\(notes.joined(separator: ", ")))"
    }
}

/// How a failure at one endpoint bears on endpoint fallback (docs/jobfile.md "Endpoint fallback
/// order").
public enum EndpointVerdict: Sendable, Equatable {
    /// The endpoint could not be used (DNS, connect, TLS, timeout, 5xx after retries): abandon it
    /// for the rest of the run and go on with the next. `tlsHandshake` says whether the TLS
    /// handshake itself failed, the one failure after which an `insecure` registry's plain-http
    /// twin may be tried.
    case unusable(tlsHandshake: Bool)
    /// Anything else (the registry's own answer, a source failure, an interrupt, a state
    /// database failure): final here and at every other endpoint.
    case final
}

/// An error that knows how it bears on endpoint fallback (the registry client's and the
/// executor's). Errors that do not conform are final.
public protocol EndpointVerdictProviding: Error {
    var endpointVerdict: EndpointVerdict { get }
}
