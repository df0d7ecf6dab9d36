#if canImport(Glibc)
    import Glibc
#endif
@preconcurrency import Crypto
import Foundation
import Threading

/// A tiny token service (https://distribution.github.io/distribution/spec/auth/token/) for the
/// token-auth registry variant. It checks Basic credentials (GET) or refresh tokens (POST
/// `grant_type=refresh_token`), grants only the requested actions it allows, and signs ES256 JWTs
/// with a P-256 key. The registry trusts the key through `rootcertbundle`: a self-signed
/// certificate made by `openssl` from the same key. The JWT header names the key with `kid`, the
/// libtrust key ID of that public key, which distribution 2.8 looks up among the bundle's keys
/// (registry/auth/token/token.go, VerifySigningKey).
public final class TokenIssuer: Sendable {
    /// One request the issuer answered.
    public struct Request: Sendable, Equatable {
        public let method: String
        public let scopes: [String]
        /// Authenticated user, nil when anonymous or rejected.
        public let user: String?
        public let status: Int
        /// Granted access, as "repository:NAME:ACTION" entries.
        public let granted: [String]
    }

    public static let service = "pushctl-test-registry"
    public static let issuer = "pushctl-test-issuer"

    /// The realm URL, `http://127.0.0.1:PORT/token`.
    public let realm: String
    /// PEM certificate of the signing key (the registry's `rootcertbundle`).
    public let certificatePath: String
    public let users: [String: String]
    public let identityTokens: [String: String]
    public let anonymousActions: Set<String>
    public let expiresIn: Int

    private let key: P256.Signing.PrivateKey
    private let keyID: String
    private let listener: LoopbackListener
    private let log = LockedValue<[Request]>([])

    /// Starts the issuer. `users` maps user names to passwords; `identityTokens` maps refresh
    /// tokens to user names; anonymous requests get only `anonymousActions`.
    public init(
        directory: String, users: [String: String], identityTokens: [String: String] = [:],
        anonymousActions: Set<String> = [], expiresIn: Int = 300
    ) throws {
        let keyPath = "\(directory)/token-signing.key"
        certificatePath = "\(directory)/token-signing.pem"
        try TestTools.runChecked(
            TestCertificates.openssl, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath])
        try TestTools.runChecked(
            TestCertificates.openssl,
            [
                "req", "-x509", "-new", "-key", keyPath, "-out", certificatePath,
                "-days", "2", "-subj", "/CN=pushctl test token issuer"
            ])
        let pem = try String(contentsOfFile: keyPath, encoding: .utf8)
        key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        keyID = Self.libtrustKeyID(key.publicKey.derRepresentation)
        self.users = users
        self.identityTokens = identityTokens
        self.anonymousActions = anonymousActions
        self.expiresIn = expiresIn

        let box = HandlerBox()
        listener = try LoopbackListener { fd in box.handler?(fd) }
        realm = "http://127.0.0.1:\(listener.port)/token"
        box.handler = { [weak self] fd in self?.serve(fd) }
    }

    /// Lets the listener reach `self` once it exists (the listener is created first).
    private final class HandlerBox: @unchecked Sendable {  // written once in init, before any connection is served
        var handler: (@Sendable (Int32) -> Void)?
    }

    public func stop() { listener.stop() }

    deinit { listener.stop() }

    /// Every request answered so far.
    public var requests: [Request] { log.withLock { $0 } }
    public var requestCount: Int { log.withLock { $0.count } }

    // MARK: - Serving

    private func serve(_ fd: Int32) {
        guard let head = HTTPRequestHead.read(from: fd), let body = head.readBody(from: fd) else { return }
        var params = head.query
        if head.method == "POST" {
            let form = HTTPRequestHead(
                method: "", target: "/token?" + String(decoding: body, as: UTF8.self), version: "", headers: [], leftover: [])
            params += form.query
        }
        let scopes = params.filter { $0.0 == "scope" }.flatMap { $0.1.split(separator: " ").map(String.init) }

        var user: String?
        var authenticated = false
        if head.method == "POST" {
            let grant = params.first { $0.0 == "grant_type" }?.1
            if grant == "refresh_token", let token = params.first(where: { $0.0 == "refresh_token" })?.1, let owner = identityTokens[token]
            {
                user = owner
                authenticated = true
            } else if grant == "password", let name = params.first(where: { $0.0 == "username" })?.1,
                let password = params.first(where: { $0.0 == "password" })?.1, users[name] == password
            {
                user = name
                authenticated = true
            } else {
                return reply(
                    fd, status: 401, json: #"{"errors":[{"code":"UNAUTHORIZED","message":"invalid refresh token"}]}"#,
                    record: Request(method: "POST", scopes: scopes, user: nil, status: 401, granted: []))
            }
        } else if let authorization = head.header("Authorization") {
            guard authorization.lowercased().hasPrefix("basic "),
                let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":"),
                users[String(decoded[..<colon])] == String(decoded[decoded.index(after: colon)...])
            else {
                return reply(
                    fd, status: 401, json: #"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}"#,
                    record: Request(method: head.method, scopes: scopes, user: nil, status: 401, granted: []))
            }
            user = String(decoded[..<colon])
            authenticated = true
        }

        // Grant only what was asked for and is allowed.
        var access: [[String: Any]] = []
        var granted: [String] = []
        for scope in scopes {
            let parts = scope.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3, parts[0] == "repository" else { continue }
            let name = parts[1..<(parts.count - 1)].joined(separator: ":")
            let actions = parts[parts.count - 1].split(separator: ",").map(String.init)
                .filter { authenticated ? ["pull", "push", "delete"].contains($0) : anonymousActions.contains($0) }
            guard !actions.isEmpty else { continue }
            access.append(["type": "repository", "name": name, "actions": actions])
            granted += actions.map { "repository:\(name):\($0)" }
        }
        let token = makeJWT(subject: user ?? "", access: access)
        let json = try! JSONSerialization.data(
            withJSONObject: ["token": token, "access_token": token, "expires_in": expiresIn], options: [.sortedKeys])
        reply(
            fd, status: 200, json: String(decoding: json, as: UTF8.self),
            record: Request(method: head.method, scopes: scopes, user: user, status: 200, granted: granted))
    }

    private func reply(_ fd: Int32, status: Int, json: String, record: Request) {
        log.withLock { $0.append(record) }
        let reason = status == 200 ? "OK" : "Unauthorized"
        let head =
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n"
        _ = Sockets.writeAll(fd, Array((head + json).utf8))
    }

    // MARK: - JWT

    private func makeJWT(subject: String, access: [[String: Any]]) -> String {
        let now = Int(Date().timeIntervalSince1970)
        let header: [String: Any] = ["alg": "ES256", "typ": "JWT", "kid": keyID]
        let claims: [String: Any] = [
            "iss": Self.issuer, "sub": subject, "aud": Self.service,
            "exp": now + expiresIn, "nbf": now - 10, "iat": now,
            "jti": UUID().uuidString, "access": access
        ]
        let encode: ([String: Any]) -> String = { object in
            Self.base64URL(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        }
        let signingInput = encode(header) + "." + encode(claims)
        let signature = try! key.signature(for: Data(signingInput.utf8))
        return signingInput + "." + Self.base64URL(signature.rawRepresentation)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// libtrust's key ID: the first 240 bits of SHA-256 over the DER (SPKI) public key, in base32,
    /// as 12 groups of 4 characters joined by ":".
    static func libtrustKeyID(_ spki: Data) -> String {
        let hash = Array(SHA256.hash(data: spki)).prefix(30)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0, value = 0
        var out: [Character] = []
        for byte in hash {
            value = (value << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(value >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        return stride(from: 0, to: out.count, by: 4).map { String(out[$0..<min($0 + 4, out.count)]) }.joined(separator: ":")
    }
}
