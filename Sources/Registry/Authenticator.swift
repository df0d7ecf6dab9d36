import SafeText
import Curl
import Foundation
import Threading
import Synchronization

/// Authorization for one registry host: remembers the registry's challenge, so later requests
/// authenticate up front, and caches bearer tokens per scope until shortly before they expire.
/// (Token protocol: https://distribution.github.io/distribution/spec/auth/token/ and
/// https://distribution.github.io/distribution/spec/auth/oauth/ for refresh tokens.)
final class Authenticator: Sendable {
    private struct CachedToken {
        /// Grants the token was requested for, as "repository:NAME:ACTION".
        var grants: Set<String>
        var token: String
        var expires: Double
    }

    private struct State {
        var challenge: AuthChallenge?
        var tokens: [CachedToken] = []
    }

    let credentials: Credentials
    let registry: String
    private let send: @Sendable (HTTPRequest, ResponseSink) throws(TransportError) -> HTTPResponse
    private let state = LockedValue(State())
    private let tokenFetches = Atomic<Int>(0)
    /// One token fetch at a time: threads that start together (a push's first blobs) wait for
    /// the first fetch and then find its token in the cache, rather than each asking the service.
    private let fetching = Lock()

    /// The registry is reached over https: its token service must be too.
    let registryUsesTLS: Bool

    init(
        credentials: Credentials, registry: String, registryUsesTLS: Bool = false,
        send: @escaping @Sendable (HTTPRequest, ResponseSink) throws(TransportError) -> HTTPResponse
    ) {
        self.credentials = credentials
        self.registry = registry
        self.registryUsesTLS = registryUsesTLS
        self.send = send
    }

    /// Tokens fetched from the token service so far.
    var tokenRequestCount: Int { tokenFetches.load(ordering: .relaxed) }

    var knownChallenge: AuthChallenge? { state.withLock { $0.challenge } }

    /// Remembers the challenge of a `/v2/` ping (or any 401) without fetching anything.
    func learn(from response: HTTPResponse) {
        if let challenge = Self.preferred(AuthChallenge.parse(response.headers.values(for: "WWW-Authenticate"))) {
            state.withLock { $0.challenge = challenge }
        }
    }

    /// The `Authorization` value for a request needing `scopes`, or nil when the registry has not
    /// asked for authentication (yet) or there is nothing to send.
    func authorization(for scopes: [String]) throws(RegistryError) -> String? {
        try authorization(for: scopes, forceFresh: false)
    }

    /// After a 401: re-reads the challenge, drops cached tokens for these scopes, and returns a
    /// fresh `Authorization` value (nil when there is nothing better to send).
    func reauthorize(after response: HTTPResponse, scopes: [String]) throws(RegistryError) -> String? {
        learn(from: response)
        let wanted = Self.grants(scopes)
        state.withLock { $0.tokens.removeAll { !$0.grants.isDisjoint(with: wanted) } }
        return try authorization(for: scopes, forceFresh: true)
    }

    /// The `Authorization` value the known challenge asks for; `forceFresh` skips cached tokens.
    private func authorization(for scopes: [String], forceFresh: Bool) throws(RegistryError) -> String? {
        if case .bearer(let token) = credentials { return "Bearer \(token)" }
        guard let challenge = knownChallenge else { return nil }
        switch challenge.scheme {
        case "basic":
            if case .basic(let user, let password) = credentials { return Self.basic(user, password) }
            return nil
        case "bearer":
            return "Bearer \(try token(for: scopes, challenge: challenge, forceFresh: forceFresh))"
        default:
            return nil
        }
    }

    private func token(for scopes: [String], challenge: AuthChallenge, forceFresh: Bool) throws(RegistryError) -> String {
        let wanted = Self.grants(scopes)
        let now = Date().timeIntervalSince1970
        func cached() -> String? {
            state.withLock { s in s.tokens.first { $0.expires > now && wanted.isSubset(of: $0.grants) }?.token }
        }
        if !forceFresh, let token = cached() { return token }
        return try fetching.withLock { () throws(RegistryError) -> String in
            // Another thread may have fetched it while this one waited.
            if !forceFresh, let token = cached() { return token }
            return try fetchAndCache(scopes: scopes, challenge: challenge, wanted: wanted, now: now)
        }
    }

    private func fetchAndCache(scopes: [String], challenge: AuthChallenge, wanted: Set<String>, now: Double) throws(RegistryError) -> String
    {
        let fetched = try fetchToken(scopes: scopes, challenge: challenge)
        // Renew shortly before expiry, so a token never expires between check and use.
        let lifetime = Double(fetched.expiresIn)
        let margin = min(10, lifetime / 4)
        state.withLock { s in
            s.tokens.removeAll { $0.expires <= now || $0.grants == wanted }
            s.tokens.append(CachedToken(grants: wanted, token: fetched.token, expires: now + lifetime - margin))
        }
        return fetched.token
    }

    private struct TokenResponse: Decodable {
        var token: String?
        var access_token: String?
        var expires_in: Int?
    }

    private func fetchToken(scopes: [String], challenge: AuthChallenge) throws(RegistryError) -> (token: String, expiresIn: Int) {
        guard let realm = challenge.realm, !realm.isEmpty else {
            throw .invalidResponse(operation: "authenticate", registry: registry, message: "Bearer challenge without a realm")
        }
        // A challenge from an https registry pointing at a plain-http realm would send the
        // credentials (and bring back the token) in clear text: refused, as docker refuses it.
        if registryUsesTLS && !realm.lowercased().hasPrefix("https://") {
            throw .insecureTokenRealm(registry: registry, realm: DisplayText.withoutQuery(realm))
        }
        var request: HTTPRequest
        switch credentials {
        case .identityToken(let refreshToken):
            // OAuth2 refresh-token grant, as docker does with an identity token.
            var form: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", "pushctl")]
            if let service = challenge.service { form.append(("service", service)) }
            if !scopes.isEmpty { form.append(("scope", scopes.joined(separator: " "))) }
            request = HTTPRequest(
                method: "POST", url: realm,
                headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: .bytes(Array(Self.formEncode(form).utf8)))
        default:
            var query: [(String, String)] = []
            if let service = challenge.service { query.append(("service", service)) }
            for scope in scopes { query.append(("scope", scope)) }
            let url = query.isEmpty ? realm : realm + (realm.contains("?") ? "&" : "?") + Self.formEncode(query)
            request = HTTPRequest(method: "GET", url: url)
            if case .basic(let user, let password) = credentials {
                request.headers.set("Authorization", Self.basic(user, password))
            }
        }
        tokenFetches.add(1, ordering: .relaxed)
        let response: HTTPResponse
        do {
            response = try send(request, .memory(limit: 1 << 20))
        } catch {
            if case .tls(_, let message) = error { throw .tls(registry: realm, message: message) }
            throw .tokenService(realm: realm, status: 0, message: error.description)
        }
        switch response.status {
        case 200:
            guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(response.body)),
                let token = decoded.token ?? decoded.access_token, !token.isEmpty
            else {
                throw .tokenService(realm: realm, status: 200, message: "response has no token")
            }
            return (token, max(decoded.expires_in ?? 60, 1))
        case 401, 403:
            let codes = ErrorBody.parse(response.body)
            let detail = codes.isEmpty ? String(response.bodyText.prefix(200)) : codes.map(\.description).joined(separator: "; ")
            throw .unauthorized(
                registry: registry, repository: nil, operation: "authenticate",
                credentials: credentials.description,
                message: "token service \(realm) rejected the credentials (HTTP \(response.status))\(detail.isEmpty ? "" : ": \(detail)")")
        default:
            throw .tokenService(realm: realm, status: response.status, message: String(response.bodyText.prefix(200)))
        }
    }

    /// Bearer wins over Basic when a registry offers both.
    static func preferred(_ challenges: [AuthChallenge]) -> AuthChallenge? {
        challenges.first { $0.scheme == "bearer" } ?? challenges.first { $0.scheme == "basic" }
    }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// "repository:NAME:push,pull" → {"repository:NAME:push", "repository:NAME:pull"}.
    static func grants(_ scopes: [String]) -> Set<String> {
        var out = Set<String>()
        for scope in scopes {
            guard let colon = scope.lastIndex(of: ":") else { out.insert(scope); continue }
            let resource = scope[..<colon]
            for action in scope[scope.index(after: colon)...].split(separator: ",") {
                out.insert("\(resource):\(action)")
            }
        }
        return out
    }

    static func formEncode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    static func percentEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
