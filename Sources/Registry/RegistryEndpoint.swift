/// One address of a registry: `scheme://host[:port]`, no path.
public struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https://host[:port]` or `http://host[:port]`, without a trailing slash.
    public let url: String
    public var insecureSkipVerify: Bool

    public init(url: String, insecureSkipVerify: Bool = false) {
        var u = url
        while u.hasSuffix("/") { u.removeLast() }
        self.url = u
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// `host[:port]`, as credentials and messages name the registry.
    public var host: String {
        var rest = Substring(url)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        return String(rest)
    }

    public var isPlainHTTP: Bool { url.hasPrefix("http://") }

    public var description: String { url }
}

/// TLS settings for one registry (job file keys `ca`, `cert`, `key`, `insecure`).
public struct TLSOptions: Sendable, Hashable {
    /// PEM bundle of extra trusted CAs; system trust is kept as well.
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?
    public var insecureSkipVerify: Bool

    public init(caFile: String? = nil, clientCert: String? = nil, clientKey: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.clientCert = clientCert
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// Time limits of one client's requests (see `CurlConfiguration`).
public struct TransferLimits: Sendable, Hashable {
    /// Overall deadline of a request that moves no blob (ping, HEAD, manifest, tag list, token,
    /// upload-session step); nil for none.
    public var requestTimeoutSeconds: Double?
    /// A blob upload or download that moves fewer than `blobMinimumBytesPerSecond` bytes a
    /// second, averaged over `blobSpeedWindowSeconds`, is abandoned (and retried as usual).
    public var blobMinimumBytesPerSecond: Int
    public var blobSpeedWindowSeconds: Int

    public init(requestTimeoutSeconds: Double? = 60, blobMinimumBytesPerSecond: Int = 1, blobSpeedWindowSeconds: Int = 60) {
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.blobMinimumBytesPerSecond = blobMinimumBytesPerSecond
        self.blobSpeedWindowSeconds = blobSpeedWindowSeconds
    }
}
