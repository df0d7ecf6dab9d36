import OCI

/// A registry endpoint URL: `https://host[:port]` or `http://host[:port]`, nothing else
/// (docs/jobfile.md "Registries": no path, query or credentials). A single trailing `/` is accepted.
public struct RegistryURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http, https
    }

    public var scheme: Scheme
    /// Lower-cased host; IPv6 addresses keep their brackets (`[::1]`).
    public var host: String
    public var port: Int?

    public init(scheme: Scheme, host: String, port: Int? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// `host[:port]`.
    public var hostPort: String { port.map { "\(host):\($0)" } ?? host }

    /// `scheme://host[:port]`.
    public var string: String { "\(scheme.rawValue)://\(hostPort)" }
    public var description: String { string }

    /// Docker Hub is named by `docker.io` or `index.docker.io` (any port-less form).
    public var isDockerHub: Bool { port == nil && (host == "docker.io" || host == "index.docker.io") }

    /// The same endpoint with another scheme (an insecure registry's plain-http twin).
    public func with(scheme: Scheme) -> RegistryURL { RegistryURL(scheme: scheme, host: host, port: port) }

    /// Loopback hosts, which docker treats as insecure by default: `localhost`, 127.0.0.0/8, ::1.
    public var isLoopback: Bool {
        if host == "localhost" { return true }
        if host.hasPrefix("[") {
            let inner = host.dropFirst().dropLast()
            if inner == "::1" || inner == "0:0:0:0:0:0:0:1" { return true }
            if inner.hasPrefix("::ffff:") { return Self.isLoopbackIPv4(inner.dropFirst("::ffff:".count)) }
            return false
        }
        return Self.isLoopbackIPv4(Substring(host))
    }

    private static func isLoopbackIPv4(_ s: Substring) -> Bool {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let values = octets.map { o -> Int? in
            guard !o.isEmpty, o.count <= 3, o.allSatisfy(\.isASCII), o.allSatisfy(\.isNumber) else { return nil }
            return Int(o)
        }
        guard values.allSatisfy({ $0 != nil && $0! <= 255 }) else { return false }
        return values[0] == 127
    }

    /// Parses a `url:` or `mirrors:` value.
    public static func parse(_ text: String) -> Result<RegistryURL, RegistryURLError> {
        guard let sep = text.range(of: "://") else {
            if text.contains("@") { return .failure(.credentials) }
            return .failure(.missingScheme(text))
        }
        let schemeText = text[..<sep.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else { return .failure(.unsupportedScheme(schemeText)) }
        let afterScheme = text[sep.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let rest = afterScheme[authorityEnd...]
        if authority.contains("@") { return .failure(.credentials) }
        if let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            return .failure(.query(String(rest[q...])))
        }
        if !rest.isEmpty && rest != "/" { return .failure(.path(String(rest))) }
        if authority.isEmpty { return .failure(.missingHost) }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.invalidHost(String(authority))) }
            host = authority[...close]
            let inner = host.dropFirst().dropLast()
            guard !inner.isEmpty, inner.contains(":"),
                inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
            else {
                return .failure(.invalidHost(String(host)))
            }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return .failure(.invalidHost(String(authority))) }
                portText = after.dropFirst()
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard ImageReference.isValidDomain(String(host)), !host.contains(":") else {
                return .failure(.invalidHost(String(host)))
            }
        }
        var port: Int?
        if let portText {
            guard let p = Int(portText), portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
                (1...65535).contains(p)
            else {
                return .failure(.invalidPort(String(portText)))
            }
            port = p
        }
        return .success(RegistryURL(scheme: scheme, host: host.lowercased(), port: port))
    }
}

public enum RegistryURLError: Error, Sendable, Equatable {
    case missingScheme(String)
    case unsupportedScheme(String)
    /// The URL's text is deliberately not kept: it holds a secret.
    case credentials
    case path(String)
    case query(String)
    case missingHost
    case invalidHost(String)
    case invalidPort(String)
}

extension RegistryURLError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .missingScheme(let t): "'\(t)' has no scheme; write 'https://\(t)' (or 'http://' for an insecure registry)"
        case .unsupportedScheme(let s): "unsupported scheme '\(s)://'; a registry URL starts with https:// or http://"
        case .credentials: "credentials are not allowed in a registry URL; use 'auth:' or the Docker credential store"
        case .path(let p): "a registry URL has no path ('\(p)'); write only scheme://host[:port] and put the path in 'repository:'"
        case .query(let q): "a registry URL has no query or fragment ('\(q)')"
        case .missingHost: "the registry URL has no host"
        case .invalidHost(let h): "'\(h)' is not a valid host name or [IPv6] address"
        case .invalidPort(let p): "invalid port '\(p)' (expected 1-65535)"
        }
    }
}
