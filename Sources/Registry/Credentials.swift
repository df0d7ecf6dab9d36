/// What the client authenticates with. Never printed: `description` names only the kind.
public enum Credentials: Sendable, Equatable, CustomStringConvertible {
    case none
    case basic(username: String, password: String)
    /// A refresh token for the token service (`docker login` stores these as `identitytoken`).
    case identityToken(String)
    /// A bearer token sent as is.
    case bearer(String)

    public var description: String {
        switch self {
        case .none: "anonymous"
        case .basic(let user, _): "username \(user)"
        case .identityToken: "identity token"
        case .bearer: "bearer token"
        }
    }
}

/// Looks up credentials for a registry host (`host[:port]`).
public protocol CredentialProvider: Sendable {
    func credentials(for registryHost: String) throws(CredentialError) -> Credentials
}

/// Fixed credentials (from a job file's `auth`).
public struct StaticCredentials: CredentialProvider {
    public let value: Credentials
    public init(_ value: Credentials) { self.value = value }
    public func credentials(for registryHost: String) throws(CredentialError) -> Credentials { value }
}

public enum CredentialError: Error, Sendable, Equatable {
    case unreadableConfig(path: String, message: String)
    case invalidAuthEntry(path: String, server: String, message: String)
    case helperFailed(helper: String, server: String, message: String)
}

extension CredentialError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadableConfig(let path, let m): "cannot read Docker credentials file \(path): \(m)"
        case .invalidAuthEntry(let path, let server, let m): "invalid \"auths\" entry for \(server) in \(path): \(m)"
        case .helperFailed(let helper, let server, let m): "credential helper docker-credential-\(helper) failed for \(server): \(m)"
        }
    }
}
