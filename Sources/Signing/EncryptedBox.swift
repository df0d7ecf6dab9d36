import CSodium
import Foundation
import OCI

/// The passphrase-encrypted container of go-securesystemslib's `encrypted` package (originally
/// go-tuf's), which cosign uses for the body of its private key files
/// (https://github.com/secure-systems-lab/go-securesystemslib/blob/main/encrypted/encrypted.go):
///
///     {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<base64, 32 bytes>"},
///      "cipher":{"name":"nacl/secretbox","nonce":"<base64, 24 bytes>"},
///      "ciphertext":"<base64>"}
///
/// key = scrypt(passphrase, salt, N, r, p, 32 bytes); ciphertext = NaCl secretbox (XSalsa20-Poly1305,
/// the 16-byte MAC first, as Go's `secretbox.Seal` and libsodium's `crypto_secretbox_easy` write it)
/// of the plaintext under key and nonce. Base64 is standard with padding (Go's `[]byte` in JSON).
///
/// Decryption accepts the three parameter sets go-securesystemslib knows (Legacy N=2^15,
/// Standard N=2^16, OWASP N=2^17, all r=8 p=1) and refuses any other: parameters come from the
/// file, and a huge N would make loading a key a denial of service (as the Go code argues).
/// Encryption writes N=32768 r=8 p=1, what cosign writes. Both primitives are libsodium's.
enum EncryptedBox {
    static let saltSize = 32
    static let nonceSize = 24
    static let keySize = 32
    static let macSize = 16
    static let kdfName = "scrypt"
    static let cipherName = "nacl/secretbox"
    /// (N, r, p) accepted when decrypting: go-securesystemslib's Legacy, Standard and OWASP.
    static let acceptedParameters: [(n: UInt64, r: UInt32, p: UInt32)] = [(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)]
    /// Written when encrypting.
    static let writeParameters: (n: UInt64, r: UInt32, p: UInt32) = (32768, 8, 1)

    private struct Body: Decodable {
        struct KDF: Decodable {
            struct Params: Decodable {
                var n: UInt64
                var r: UInt32
                var p: UInt32
                enum CodingKeys: String, CodingKey {
                    case n = "N", r, p
                }
            }
            var name: String
            var params: Params
            var salt: String
        }
        struct Cipher: Decodable {
            var name: String
            var nonce: String
        }
        var kdf: KDF
        var cipher: Cipher
        var ciphertext: String
    }

    /// The plaintext of an encrypted body.
    static func open(_ body: [UInt8], passphrase: [UInt8]) throws(KeyError) -> [UInt8] {
        let parsed: Body
        do {
            parsed = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch let error as DecodingError {
            throw .malformedEncryptedKey(JSONDiagnostics.describe(error, bytes: body))
        } catch {
            throw .malformedEncryptedKey(String(describing: error))
        }
        guard parsed.kdf.name == kdfName else { throw .unsupportedKeyEncryption("key derivation \"\(parsed.kdf.name)\"") }
        guard parsed.cipher.name == cipherName else { throw .unsupportedKeyEncryption("cipher \"\(parsed.cipher.name)\"") }
        let params = parsed.kdf.params
        guard acceptedParameters.contains(where: { $0.n == params.n && $0.r == params.r && $0.p == params.p }) else {
            throw .unsupportedKeyEncryption("scrypt parameters N=\(params.n) r=\(params.r) p=\(params.p)")
        }
        guard let salt = Data(base64Encoded: parsed.kdf.salt).map({ [UInt8]($0) }), !salt.isEmpty else {
            throw .malformedEncryptedKey("kdf.salt is not base64")
        }
        guard let nonce = Data(base64Encoded: parsed.cipher.nonce).map({ [UInt8]($0) }), nonce.count == nonceSize else {
            throw .malformedEncryptedKey("cipher.nonce is not \(nonceSize) bytes of base64")
        }
        guard let sealed = Data(base64Encoded: parsed.ciphertext).map({ [UInt8]($0) }), sealed.count >= macSize else {
            throw .malformedEncryptedKey("ciphertext is not base64 of at least \(macSize) bytes")
        }
        var key = try deriveKey(passphrase: passphrase, salt: salt, n: params.n, r: params.r, p: params.p)
        defer { sodium_memzero(&key, key.count) }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - macSize)
        let status = crypto_secretbox_open_easy(&plaintext, sealed, UInt64(sealed.count), nonce, key)
        // The only way a well-formed box fails to open: another key, that is another passphrase
        // (or a ciphertext changed after it was written, which the MAC cannot tell apart).
        guard status == 0 else { throw .wrongPassphrase }
        return plaintext
    }

    /// `plaintext` encrypted under `passphrase` with a fresh random salt and nonce, as the JSON
    /// text go-securesystemslib writes (same key order, no spaces).
    static func seal(_ plaintext: [UInt8], passphrase: [UInt8]) throws(KeyError) -> [UInt8] {
        guard Sodium.ready else { throw .cryptoFailure("libsodium did not initialise") }
        var salt = [UInt8](repeating: 0, count: saltSize)
        var nonce = [UInt8](repeating: 0, count: nonceSize)
        randombytes_buf(&salt, saltSize)
        randombytes_buf(&nonce, nonceSize)
        let (n, r, p) = writeParameters
        var key = try deriveKey(passphrase: passphrase, salt: salt, n: n, r: r, p: p)
        defer { sodium_memzero(&key, key.count) }
        var sealed = [UInt8](repeating: 0, count: plaintext.count + macSize)
        guard crypto_secretbox_easy(&sealed, plaintext, UInt64(plaintext.count), nonce, key) == 0 else {
            throw .cryptoFailure("crypto_secretbox_easy failed")
        }
        func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
        let text =
            #"{"kdf":{"name":"scrypt","params":{"N":\#(n),"r":\#(r),"p":\#(p)},"salt":"\#(b64(salt))"},"#
            + #""cipher":{"name":"nacl/secretbox","nonce":"\#(b64(nonce))"},"ciphertext":"\#(b64(sealed))"}"#
        return Array(text.utf8)
    }

    private static func deriveKey(passphrase: [UInt8], salt: [UInt8], n: UInt64, r: UInt32, p: UInt32) throws(KeyError) -> [UInt8] {
        guard Sodium.ready else { throw .cryptoFailure("libsodium did not initialise") }
        var key = [UInt8](repeating: 0, count: keySize)
        let status = crypto_pwhash_scryptsalsa208sha256_ll(passphrase, passphrase.count, salt, salt.count, n, r, p, &key, keySize)
        guard status == 0 else { throw .cryptoFailure("scrypt failed (N=\(n) r=\(r) p=\(p))") }
        return key
    }
}

enum Sodium {
    /// `sodium_init` once per process (it is thread-safe and idempotent; a global is initialised once).
    static let ready: Bool = sodium_init() >= 0
}

/// Overwrites secret bytes (a decrypted key) before their memory is released.
func sodiumWipe(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress else { return }
    sodium_memzero(base, buffer.count)
}
