/// An image reference such as `alpine`, `team/app:1.4`, `registry.example.com:5000/team/app@sha256:…`,
/// parsed with docker's grammar and normalization (distribution/reference: `ParseNormalizedNamed`
/// for `init(parsing:)`, `ParseNamed` for `init(parsingCanonical:)`).
///
/// Grammar (distribution/reference/regexp.go), checked by hand so errors can say what is wrong:
///
///     reference       := name [ ":" tag ] [ "@" digest ]
///     name            := [domain "/"] path-component ("/" path-component)*
///     domain          := (domain-component ("." domain-component)* | "[" ipv6 "]") [":" port]
///     domain-component:= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
///     path-component  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
///     tag             := [\w][\w.-]{0,127}
///
/// Normalization: the first `/`-separated component is a domain only when it contains `.` or `:`,
/// is `localhost`, or has an upper-case letter; otherwise the domain is `docker.io`. `index.docker.io`
/// becomes `docker.io`, and one-word Docker Hub names get the `library/` prefix.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// Registry domain with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`.
    public let domain: String
    /// Repository path inside the registry, e.g. `library/alpine`.
    public let path: String
    public let tag: String?
    public let digest: Digest?

    /// Docker Hub's domain after normalization.
    public static let dockerHubDomain = "docker.io"
    /// The host that serves Docker Hub's registry API.
    public static let dockerHubAPIHost = "registry-1.docker.io"
    /// The key under which the docker CLI stores Docker Hub credentials.
    public static let dockerHubCredentialKey = "https://index.docker.io/v1/"
    /// Longest allowed full name (domain + "/" + path), as in distribution.
    public static let nameTotalLengthMax = 255

    public init(domain: String, path: String, tag: String? = nil, digest: Digest? = nil) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// Parses and normalizes a reference as `docker pull` does (`ParseNormalizedNamed`).
    public init(parsing input: String) throws(ReferenceError) {
        if input.isEmpty { throw .empty }
        if ImageReference.isHexIdentifier(input) { throw .hexIdentifier(input) }
        let parts = try ImageReference.split(input)

        // splitDockerDomain
        var domain: String
        var remainder: String
        if let slash = parts.name.firstIndex(of: "/") {
            let first = String(parts.name[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = first
                remainder = String(parts.name[parts.name.index(after: slash)...])
            } else {
                domain = ImageReference.dockerHubDomain
                remainder = parts.name
            }
        } else {
            domain = ImageReference.dockerHubDomain
            remainder = parts.name
        }
        if domain == "index.docker.io" { domain = ImageReference.dockerHubDomain }
        if domain == ImageReference.dockerHubDomain && !remainder.contains("/") {
            remainder = "library/" + remainder
        }
        if remainder.lowercased() != remainder { throw .uppercaseRepository(input: input, repository: remainder) }
        try ImageReference.validateDomain(domain, input: input)
        try ImageReference.validatePath(remainder, input: input)
        let fullName = domain + "/" + remainder
        if fullName.utf8.count > ImageReference.nameTotalLengthMax {
            throw .nameTooLong(input: input, length: fullName.utf8.count)
        }
        self.init(domain: domain, path: remainder, tag: parts.tag, digest: parts.digest)
    }

    /// Parses a reference that must already be in canonical form (`ParseNamed`): it must name its
    /// domain, and Docker Hub names must be written in full (`docker.io/library/alpine`).
    public init(parsingCanonical input: String) throws(ReferenceError) {
        let parsed = try ImageReference(parsing: input)
        guard parsed.canonicalString == input else {
            throw .notCanonical(input: input, canonical: parsed.canonicalString)
        }
        self = parsed
    }

    // MARK: derived forms

    /// `domain/path`, e.g. `docker.io/library/alpine`.
    public var canonicalName: String { domain + "/" + path }

    /// The short name docker shows, e.g. `alpine`, `team/app`, `localhost:5000/app`.
    public var familiarName: String {
        guard isDockerHub else { return canonicalName }
        if path.hasPrefix("library/") {
            let rest = path.dropFirst("library/".count)
            if !rest.contains("/") { return String(rest) }
        }
        return path
    }

    /// Canonical reference with tag and/or digest, e.g. `docker.io/library/alpine:3.19`.
    public var canonicalString: String { canonicalName + suffix }

    /// Familiar reference with tag and/or digest, e.g. `alpine:3.19`.
    public var familiarString: String { familiarName + suffix }

    public var description: String { canonicalString }

    /// True when the reference points at Docker Hub.
    public var isDockerHub: Bool { domain == ImageReference.dockerHubDomain }

    /// The host (with port) that serves the registry API for this reference.
    public var apiHost: String { isDockerHub ? ImageReference.dockerHubAPIHost : domain }

    /// The key under which docker stores credentials for this reference's registry.
    public var credentialKey: String { isDockerHub ? ImageReference.dockerHubCredentialKey : domain }

    /// The repository path as used in registry API URLs (`/v2/<repositoryPath>/…`).
    public var repositoryPath: String { path }

    /// The same repository with another tag (and no digest).
    public func withTag(_ tag: String) throws(ReferenceError) -> ImageReference {
        guard ImageReference.isValidTag(tag) else { throw .invalidTag(input: tag, tag: tag) }
        return ImageReference(domain: domain, path: path, tag: tag, digest: nil)
    }

    private var suffix: String {
        var s = ""
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest.string }
        return s
    }

    // MARK: grammar pieces (public so job files can use the same rules)

    /// `[\w][\w.-]{0,127}` with ASCII `\w`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }
        guard word(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    public static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            // A run of separator characters must be ".", "_", "__" or one or more "-".
            var j = i
            while j < bytes.count && !isLowerAlnum(bytes[j]) { j += 1 }
            let run = bytes[i..<j]
            let ok: Bool
            if run.allSatisfy({ $0 == UInt8(ascii: "-") }) {
                ok = true
            } else {
                ok =
                    run.elementsEqual([UInt8(ascii: ".")]) || run.elementsEqual([UInt8(ascii: "_")])
                    || run.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
            }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// `host[:port]` where host is a DNS-like name or a bracketed IPv6 address.
    public static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inner = host[host.index(after: host.startIndex)..<close]
            guard !inner.isEmpty, inner.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") }) else { return false }
            let rest = host[host.index(after: close)...]
            return rest.isEmpty || isValidPortSuffix(rest)
        }
        if let colon = host.firstIndex(of: ":") {
            guard isValidPortSuffix(host[colon...]) else { return false }
            host = host[..<colon]
        }
        guard !host.isEmpty else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let b = Array(label.utf8)
            guard let f = b.first, let l = b.last, isAlnum(f), isAlnum(l) else { return false }
            return b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    // MARK: internals

    private struct Parts {
        var name: String
        var tag: String?
        var digest: Digest?
    }

    /// Splits `name[:tag][@digest]`; a `:` after the last `/` starts the tag.
    private static func split(_ input: String) throws(ReferenceError) -> Parts {
        var rest = Substring(input)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard isDigestShaped(digestText) else { throw .invalidFormat(input: input, reason: "\"\(digestText)\" is not a digest") }
            do { digest = try Digest(parsing: digestText) } catch { throw .invalidDigest(input: input, error) }
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let tagText = String(rest[rest.index(after: colon)...])
            guard isValidTag(tagText) else { throw .invalidTag(input: input, tag: tagText) }
            tag = tagText
            rest = rest[..<colon]
        }
        if rest.isEmpty { throw .invalidFormat(input: input, reason: "the repository name is missing") }
        return Parts(name: String(rest), tag: tag, digest: digest)
    }

    private static func validateDomain(_ domain: String, input: String) throws(ReferenceError) {
        guard isValidDomain(domain) else { throw .invalidDomain(input: input, domain: domain) }
    }

    private static func validatePath(_ path: String, input: String) throws(ReferenceError) {
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard isValidPathComponent(String(component)) else {
                throw .invalidPathComponent(input: input, component: String(component))
            }
        }
    }

    /// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
    private static func isDigestShaped(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let algorithm = text[..<colon], encoded = text[text.index(after: colon)...]
        guard encoded.utf8.count >= 32, encoded.utf8.allSatisfy(isHex) else { return false }
        let pieces = algorithm.split(omittingEmptySubsequences: false) { "-_+.".contains($0) }
        return pieces.allSatisfy { p in
            let b = Array(p.utf8)
            guard let f = b.first, isAlpha(f) else { return false }
            return b.allSatisfy(isAlnum)
        }
    }

    private static func isValidPortSuffix(_ s: Substring) -> Bool {
        guard s.first == ":" else { return false }
        let digits = s.dropFirst()
        return !digits.isEmpty && digits.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// docker refuses 64-hex names: they are indistinguishable from image IDs.
    private static func isHexIdentifier(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) }
    private static func isAlnum(_ b: UInt8) -> Bool { isAlpha(b) || (b >= 0x30 && b <= 0x39) }
    private static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
    private static func isHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46) }
}

/// Decodes from, and encodes to, the canonical string (`docker.io/library/alpine:3.19`).
extension ImageReference: StringCodable {
    init(codableString: String) throws(ReferenceError) { try self.init(parsing: codableString) }
    var codableString: String { canonicalString }
}

/// Validates repository paths written without a domain, such as a job file's `repository: team/app`.
public enum RepositoryName {
    /// Checks every `/`-separated component against the distribution grammar and the total length.
    public static func validate(_ repository: String) throws(ReferenceError) {
        if repository.isEmpty { throw .empty }
        if repository.lowercased() != repository {
            throw .uppercaseRepository(input: repository, repository: repository)
        }
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            guard ImageReference.isValidPathComponent(String(component)) else {
                throw .invalidPathComponent(input: repository, component: String(component))
            }
        }
        if repository.utf8.count > ImageReference.nameTotalLengthMax {
            throw .nameTooLong(input: repository, length: repository.utf8.count)
        }
    }
}

public enum ReferenceError: Error, Equatable, Sendable {
    case empty
    case invalidFormat(input: String, reason: String)
    case invalidDomain(input: String, domain: String)
    case invalidPathComponent(input: String, component: String)
    case uppercaseRepository(input: String, repository: String)
    case invalidTag(input: String, tag: String)
    case invalidDigest(input: String, DigestError)
    case nameTooLong(input: String, length: Int)
    case hexIdentifier(String)
    case notCanonical(input: String, canonical: String)
}

extension ReferenceError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .empty:
            "invalid reference: the name is empty"
        case .invalidFormat(let input, let reason):
            "invalid reference format \"\(input)\": \(reason)"
        case .invalidDomain(let input, let domain):
            "invalid reference \"\(input)\": \"\(domain)\" is not a valid registry host[:port]"
        case .invalidPathComponent(let input, let component):
            component.isEmpty
                ? "invalid reference \"\(input)\": empty path component (check for a leading, trailing or doubled '/')"
                : "invalid reference \"\(input)\": path component \"\(component)\" must match [a-z0-9]+ separated by '.', '_', '__' or '-'"
        case .uppercaseRepository(let input, let repository):
            "invalid reference \"\(input)\": repository name \"\(repository)\" must be lowercase"
        case .invalidTag(let input, let tag):
            "invalid reference \"\(input)\": tag \"\(tag)\" must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
        case .invalidDigest(let input, let error):
            "invalid reference \"\(input)\": \(error)"
        case .nameTooLong(let input, let length):
            "invalid reference \"\(input)\": the repository name is \(length) characters long (at most \(ImageReference.nameTotalLengthMax))"
        case .hexIdentifier(let input):
            "invalid reference \"\(input)\": a 64-character hexadecimal name cannot be used (it looks like an image ID)"
        case .notCanonical(let input, let canonical):
            "reference \"\(input)\" is not canonical; write \"\(canonical)\""
        }
    }
}
