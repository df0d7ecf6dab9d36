import Foundation
import OCI
import YAML

/// `verify:` of an image or of `defaults` (docs/jobfile.md "Signatures"): push an image only
/// when at least `minimum` distinct keys of `keys` verify a cosign signature of the exact digest
/// pushed, whose payload names an acceptable identity. `verify: false` turns a default off.
public struct VerifySpec: Sendable, Hashable {
    /// Absolute paths of PEM public key files (relative paths resolve against the job's folder).
    public var keys: [String]
    /// Distinct keys that must verify (1 … number of keys; default 1).
    public var minimum: Int
    public var identity: IdentitySpec
    public var enabled: Bool
    /// Where `verify:` is written, for messages.
    public var location: Location

    public init(keys: [String], minimum: Int = 1, identity: IdentitySpec = .matchSource, enabled: Bool = true, location: Location) {
        self.keys = keys
        self.minimum = minimum
        self.identity = identity
        self.enabled = enabled
        self.location = location
    }
}

/// `identity:` of `verify:` (docs/signing.md "Identity rules").
public enum IdentitySpec: Sendable, Hashable, CustomStringConvertible {
    /// `match-source` (the default): the signature names the source's repository.
    case matchSource
    /// `{exact: REF}`: the signature names exactly this reference.
    case exact(String)
    /// `{prefix: P}`: the signature names a repository under this prefix.
    case prefix(String)

    public var description: String {
        switch self {
        case .matchSource: "match-source"
        case .exact(let ref): "exact: \(ref)"
        case .prefix(let prefix): "prefix: \(prefix)"
        }
    }
}

/// `sign:` of an image or of `defaults`: after a push, sign each pushed root digest with `key`
/// (a cosign encrypted private key) and the target reference as identity. `sign: false` turns a
/// default off. The passphrase never comes from the job file.
public struct SignSpec: Sendable, Hashable {
    public enum Passphrase: Sendable, Hashable {
        /// `passphrase-env: NAME`.
        case environment(String)
        /// `passphrase-file: PATH` (absolute; the file's first line).
        case file(String)
    }

    /// Absolute path of the encrypted private key file.
    public var key: String
    public var passphrase: Passphrase
    public var enabled: Bool
    public var location: Location

    public init(key: String, passphrase: Passphrase, enabled: Bool = true, location: Location) {
        self.key = key
        self.passphrase = passphrase
        self.enabled = enabled
        self.location = location
    }
}

extension Job {
    /// The verification policy an image entry follows (its own `verify:`, else `defaults`); nil: none.
    public func verify(of image: ImageEntry) -> VerifySpec? {
        let spec = image.verify ?? defaults.verify
        return spec?.enabled == true ? spec : nil
    }

    /// How an image entry's pushes are signed (its own `sign:`, else `defaults`); nil: not signed.
    public func sign(of image: ImageEntry) -> SignSpec? {
        let spec = image.sign ?? defaults.sign
        return spec?.enabled == true ? spec : nil
    }
}

extension JobDecoder {
    static let verifyKeys = ["keys", "minimum", "identity"]
    static let identityKeys = ["exact", "prefix"]
    static let signKeys = ["key", "passphrase-env", "passphrase-file"]

    mutating func decodeVerify(_ node: Node, _ what: String) -> VerifySpec? {
        if node.mapping == nil {
            guard let enabled = context.bool(node, what) else { return nil }
            if enabled {
                context.error(node.location, "\(what) must be a mapping with 'keys' (or false to turn a default off)")
                return nil
            }
            return VerifySpec(keys: [], enabled: false, location: node.location)
        }
        guard let f = context.fields(node, in: what, known: Self.verifyKeys, required: ["keys"]) else { return nil }
        var ok = true
        var keys: [String] = []
        if let n = f["keys"], let list = context.stringList(n, "'keys' of \(what)") {
            if list.count != n.sequence?.count { ok = false }
            if list.isEmpty && ok {
                context.error(n.location, "'keys' of \(what) is empty; list at least one public key file")
                ok = false
            }
            for (path, location) in list {
                let resolved = SourceSpec.resolve(path, in: directory)
                if !FileManager.default.fileExists(atPath: resolved) {
                    context.error(location, "public key file '\(path)' of \(what) does not exist (\(resolved))")
                    ok = false
                } else if !keys.contains(resolved) {
                    keys.append(resolved)
                }
            }
        } else {
            ok = false
        }
        var minimum = 1
        if let n = f["minimum"] {
            if let value = context.int(n, "'minimum' of \(what)", range: 1...Int(Int32.max)) {
                if ok && value > keys.count {
                    context.error(
                        n.location,
                        "'minimum' of \(what) is \(value) but 'keys' lists \(keys.count) key\(keys.count == 1 ? "" : "s"); at most \(keys.count) distinct keys can verify"
                    )
                    ok = false
                }
                minimum = value
            } else {
                ok = false
            }
        }
        var identity = IdentitySpec.matchSource
        if let n = f["identity"] {
            if let decoded = decodeIdentity(n, "'identity' of \(what)") { identity = decoded } else { ok = false }
        }
        guard ok else { return nil }
        return VerifySpec(keys: keys, minimum: minimum, identity: identity, location: node.location)
    }

    mutating func decodeIdentity(_ node: Node, _ what: String) -> IdentitySpec? {
        if node.mapping != nil {
            guard let f = context.fields(node, in: what, known: Self.identityKeys) else { return nil }
            if f["exact"] != nil && f["prefix"] != nil || f["exact"] == nil && f["prefix"] == nil {
                context.error(f.location, "\(what) takes one of 'exact' or 'prefix' (or the word match-source)")
                return nil
            }
            if let n = f["exact"], let text = context.string(n, "'exact' of \(what)") {
                guard (try? ImageReference(parsing: text)) != nil else {
                    context.error(n.location, "'exact' of \(what): '\(text)' is not an image reference")
                    return nil
                }
                return .exact(text)
            }
            if let n = f["prefix"], let text = context.string(n, "'prefix' of \(what)") {
                // A repository name, no tag or digest (a `:` only in the host's port).
                let last = text.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
                guard !text.isEmpty, !text.contains("@"), !(text.contains("/") && last.contains(":")) else {
                    context.error(n.location, "'prefix' of \(what) must be a repository prefix such as registry.example.com/team")
                    return nil
                }
                return .prefix(text)
            }
            return nil
        }
        guard let text = context.string(node, what) else { return nil }
        guard text == "match-source" else {
            context.error(node.location, "\(what) must be match-source, {exact: REF} or {prefix: PREFIX}, found '\(text)'")
            return nil
        }
        return .matchSource
    }

    mutating func decodeSign(_ node: Node, _ what: String) -> SignSpec? {
        if node.mapping == nil {
            guard let enabled = context.bool(node, what) else { return nil }
            if enabled {
                context.error(node.location, "\(what) must be a mapping with 'key' (or false to turn a default off)")
                return nil
            }
            return SignSpec(key: "", passphrase: .environment(""), enabled: false, location: node.location)
        }
        guard let f = context.fields(node, in: what, known: Self.signKeys, required: ["key"]) else { return nil }
        var key: String?
        if let n = f["key"], let path = context.string(n, "'key' of \(what)") {
            let resolved = SourceSpec.resolve(path, in: directory)
            if FileManager.default.fileExists(atPath: resolved) {
                key = resolved
            } else {
                context.error(n.location, "private key file '\(path)' of \(what) does not exist (\(resolved))")
            }
        }
        var passphrase: SignSpec.Passphrase?
        switch (f["passphrase-env"], f["passphrase-file"]) {
        case (let n?, nil):
            if let name = context.string(n, "'passphrase-env' of \(what)") {
                if Self.isEnvironmentName(name) {
                    passphrase = .environment(name)
                } else {
                    context.error(
                        n.location,
                        "'passphrase-env' of \(what) must name an environment variable ([A-Za-z_][A-Za-z0-9_]*), found '\(name)'")
                }
            }
        case (nil, let n?):
            if let path = context.string(n, "'passphrase-file' of \(what)") {
                passphrase = .file(SourceSpec.resolve(path, in: directory))
            }
        case (_?, _?):
            context.error(f.location, "\(what) takes either 'passphrase-env' or 'passphrase-file', not both")
        case (nil, nil):
            context.error(
                f.location,
                "\(what) needs 'passphrase-env: NAME' or 'passphrase-file: PATH' (the passphrase is never written in the job file)")
        }
        guard let key, let passphrase else { return nil }
        return SignSpec(key: key, passphrase: passphrase, location: node.location)
    }

    static func isEnvironmentName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else {
            return false
        }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
