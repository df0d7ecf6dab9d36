@preconcurrency import Crypto
import Foundation
import OCI

/// A trusted public key: ECDSA P-256 in a PEM `PUBLIC KEY` block (PKIX SubjectPublicKeyInfo),
/// the form `cosign generate-key-pair` writes to `cosign.pub`
/// (https://docs.sigstore.dev/cosign/signing/signing_with_containers/ and cosign's
/// `pkg/cosign/keys.go`).
///
/// Key id: `sha256:` and the lower-case hex SHA-256 of the DER SubjectPublicKeyInfo — the bytes
/// inside the PEM block, so `openssl pkey -pubin -outform DER | sha256sum` prints the same hex.
/// It names a key independently of how its PEM text is wrapped, and two files holding the same key
/// count once toward a policy's `minimum`.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    let key: P256.Signing.PublicKey
    /// `sha256:<hex of the DER SubjectPublicKeyInfo>`.
    public let id: String

    init(_ key: P256.Signing.PublicKey) {
        self.key = key
        self.id = OCI.Digest.of(key.derRepresentation).string
    }

    /// Parses a PEM `PUBLIC KEY` block holding a P-256 key.
    public init(pem: String) throws(KeyError) {
        guard let block = PEMBlock(parsing: pem) else { throw .notPEM }
        guard block.type == "PUBLIC KEY" else { throw .unexpectedPEMType(block.type, expected: ["PUBLIC KEY"]) }
        do {
            self.init(try P256.Signing.PublicKey(derRepresentation: block.bytes))
        } catch {
            throw .notP256("the PUBLIC KEY block is not an ECDSA P-256 key (\(error))")
        }
    }

    /// The key as a PEM `PUBLIC KEY` block (64-column lines, final newline), as cosign writes it.
    public var pem: String { PEMBlock(type: "PUBLIC KEY", bytes: Array(key.derRepresentation)).text }

    public var description: String { id }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// True when `der` parses as an ASN.1 DER ECDSA P-256 signature.
    static func isWellFormedSignature(_ der: [UInt8]) -> Bool {
        (try? P256.Signing.ECDSASignature(derRepresentation: der)) != nil
    }

    /// True when `signature` (ASN.1 DER ECDSA) verifies over `payload` (hashed with SHA-256).
    func isValid(signatureDER: [UInt8], payload: [UInt8]) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: signatureDER) else { return false }
        return key.isValidSignature(signature, for: payload)
    }
}

/// A private signing key (ECDSA P-256), in memory only after decryption.
///
/// On disk it is cosign's encrypted form: a PEM block of type `ENCRYPTED SIGSTORE PRIVATE KEY`
/// (written; cosign 2 writes this) or `ENCRYPTED COSIGN PRIVATE KEY` (also read; cosign 1 wrote
/// it) whose body is go-securesystemslib's scrypt + NaCl secretbox JSON around the PKCS#8 DER of the
/// key (cosign `pkg/cosign/keys.go`: `marshalKeyPair`, `LoadPrivateKey`; see `EncryptedBox`).
public struct SigningKey: Sendable {
    let key: P256.Signing.PrivateKey

    /// The PEM type written.
    public static let sigstorePEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
    /// The older PEM type, read as well.
    public static let cosignPEMType = "ENCRYPTED COSIGN PRIVATE KEY"

    init(_ key: P256.Signing.PrivateKey) { self.key = key }

    /// A new random key.
    public static func generate() -> SigningKey { SigningKey(P256.Signing.PrivateKey()) }

    /// Decrypts an encrypted PEM private key. A box that does not open is `.wrongPassphrase`.
    public init(encryptedPEM: String, passphrase: String) throws(KeyError) {
        guard let block = PEMBlock(parsing: encryptedPEM) else { throw .notPEM }
        guard block.type == SigningKey.sigstorePEMType || block.type == SigningKey.cosignPEMType else {
            throw .unexpectedPEMType(block.type, expected: [SigningKey.sigstorePEMType, SigningKey.cosignPEMType])
        }
        var pkcs8 = try EncryptedBox.open(block.bytes, passphrase: Array(passphrase.utf8))
        defer { pkcs8.withUnsafeMutableBytes { sodiumWipe($0) } }
        do {
            self.init(try P256.Signing.PrivateKey(derRepresentation: pkcs8))
        } catch {
            throw .notP256("the decrypted key is not a PKCS#8 ECDSA P-256 private key (\(error))")
        }
    }

    /// The key encrypted under `passphrase`, as an `ENCRYPTED SIGSTORE PRIVATE KEY` PEM block.
    public func encryptedPEM(passphrase: String) throws(KeyError) -> String {
        var pkcs8 = Array(key.derRepresentation)
        defer { pkcs8.withUnsafeMutableBytes { sodiumWipe($0) } }
        let body = try EncryptedBox.seal(pkcs8, passphrase: Array(passphrase.utf8))
        return PEMBlock(type: SigningKey.sigstorePEMType, bytes: body).text
    }

    public var publicKey: PublicKey { PublicKey(key.publicKey) }

    /// The base64 of an ASN.1 DER ECDSA P-256 / SHA-256 signature over `payload`: the value of a
    /// layer's `dev.cosignproject.cosign/signature` annotation.
    public func sign(_ payload: [UInt8]) throws(KeyError) -> String {
        do {
            return try key.signature(for: payload).derRepresentation.base64EncodedString()
        } catch {
            throw .cryptoFailure("ECDSA signing failed: \(error)")
        }
    }
}

extension SigningKey {
    /// A signature of manifest `digest` for `identity`, as `cosign sign` makes one: the payload
    /// (`SimpleSigningPayload`) and its signature, ready for `SignatureManifest.merge`.
    public func sign(manifest digest: OCI.Digest, identity: String, optional: [String: String]? = nil) throws(KeyError) -> SignedPayload {
        let payload = SimpleSigningPayload(dockerReference: identity, manifestDigest: digest, optional: optional).bytes
        return SignedPayload(payload: payload, signature: try sign(payload))
    }
}

/// A new key pair in cosign's file formats: the encrypted private key PEM and the public key PEM
/// (what `cosign generate-key-pair` writes to `cosign.key` and `cosign.pub`).
public func generateKeyPair(passphrase: String) throws(KeyError) -> (privateKeyPEM: String, publicKeyPEM: String) {
    let key = SigningKey.generate()
    return (try key.encryptedPEM(passphrase: passphrase), key.publicKey.pem)
}

public enum KeyError: Error, Equatable, Sendable {
    /// The text holds no PEM block.
    case notPEM
    case unexpectedPEMType(String, expected: [String])
    case notP256(String)
    /// The encrypted key's JSON body is not the go-securesystemslib shape.
    case malformedEncryptedKey(String)
    /// A KDF, cipher or scrypt parameter set pushctl does not accept.
    case unsupportedKeyEncryption(String)
    case wrongPassphrase
    case cryptoFailure(String)
    /// A private key file whose mode gives group or others any access (the mode's permission bits).
    case keyFileNotPrivate(path: String, mode: UInt16)
    case keyFileExists(path: String)
    case io(path: String, String)
}

extension KeyError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notPEM: "not a PEM key (no -----BEGIN …----- block)"
        case .unexpectedPEMType(let type, let expected):
            "PEM block is \"\(type)\", expected " + expected.map { "\"\($0)\"" }.joined(separator: " or ")
        case .notP256(let why): why + "; only ECDSA P-256 keys are supported"
        case .malformedEncryptedKey(let why): "malformed encrypted private key: \(why)"
        case .unsupportedKeyEncryption(let what):
            "unsupported private key encryption: \(what) (cosign's scrypt + nacl/secretbox is supported)"
        case .wrongPassphrase: "wrong passphrase for the private key (it does not decrypt the key)"
        case .cryptoFailure(let why): "cryptographic failure: \(why)"
        case .keyFileNotPrivate(let path, let mode):
            "private key file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); "
                + "run: chmod 600 \(path)"
        case .keyFileExists(let path): "\(path) already exists; refusing to overwrite a key file"
        case .io(let path, let why): "\(path): \(why)"
        }
    }
}
