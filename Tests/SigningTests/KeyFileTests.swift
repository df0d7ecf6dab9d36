import Foundation
import OCI
import Testing

@testable import Signing

@Suite struct KeyFileTests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func writtenKeyPairIsPrivateAndLoadsBack() throws {
        try withTemporaryDirectory { dir in
            let keyPath = dir + "/cosign.key"
            let pubPath = dir + "/cosign.pub"
            let written = try KeyFiles.writeKeyPair(passphrase: "correct horse", privateKeyPath: keyPath, publicKeyPath: pubPath)
            #expect(try mode(keyPath) == 0o600)
            #expect(try mode(pubPath) == 0o644)
            let text = try String(contentsOfFile: keyPath, encoding: .utf8)
            #expect(text.hasPrefix("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
            #expect(text.hasSuffix("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
            let key = try KeyFiles.loadSigningKey(path: keyPath, passphrase: "correct horse")
            #expect(key.publicKey == written)
            #expect(try KeyFiles.loadPublicKey(path: pubPath) == written)
            // Never over an existing key.
            #expect(throws: KeyError.keyFileExists(path: keyPath)) {
                try KeyFiles.writeKeyPair(passphrase: "x", privateKeyPath: keyPath, publicKeyPath: dir + "/other.pub")
            }
        }
    }

    @Test func wrongPassphraseIsAClearError() throws {
        let (privatePEM, _) = try generateKeyPair(passphrase: "right")
        #expect(throws: KeyError.wrongPassphrase) { try SigningKey(encryptedPEM: privatePEM, passphrase: "wrong") }
        #expect(KeyError.wrongPassphrase.description == "wrong passphrase for the private key (it does not decrypt the key)")
        #expect(throws: KeyError.wrongPassphrase) { try SigningKey(encryptedPEM: privatePEM, passphrase: "") }
        _ = try SigningKey(encryptedPEM: privatePEM, passphrase: "right")
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o610])
    func keyFileOpenToOthersIsRefused(permissions: Int) throws {
        try withTemporaryDirectory { dir in
            let keyPath = dir + "/cosign.key"
            try KeyFiles.writeKeyPair(passphrase: "pw", privateKeyPath: keyPath, publicKeyPath: dir + "/cosign.pub")
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: keyPath)
            #expect(throws: KeyError.keyFileNotPrivate(path: keyPath, mode: UInt16(permissions))) {
                try KeyFiles.loadSigningKey(path: keyPath, passphrase: "pw")
            }
            let message = KeyError.keyFileNotPrivate(path: keyPath, mode: UInt16(permissions)).description
            #expect(message.contains("mode \(String(permissions, radix: 8))") && message.contains("chmod 600 \(keyPath)"))
        }
    }

    @Test(arguments: [0o600, 0o400])
    func ownerOnlyKeyFileLoads(permissions: Int) throws {
        try withTemporaryDirectory { dir in
            let keyPath = dir + "/cosign.key"
            try KeyFiles.writeKeyPair(passphrase: "pw", privateKeyPath: keyPath, publicKeyPath: dir + "/cosign.pub")
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: keyPath)
            _ = try KeyFiles.loadSigningKey(path: keyPath, passphrase: "pw")
        }
    }

    @Test func missingKeyFileNamesThePath() throws {
        #expect {
            try KeyFiles.loadSigningKey(path: "/nonexistent/cosign.key", passphrase: "pw")
        } throws: { error in
            guard case KeyError.io(let path, _)? = error as? KeyError else { return false }
            return path == "/nonexistent/cosign.key"
        }
    }

    @Test func malformedKeysAreRefused() throws {
        #expect(throws: KeyError.notPEM) { try SigningKey(encryptedPEM: "hello", passphrase: "pw") }
        let publicPEM = try String(contentsOfFile: fixtures + "/cosign.pub", encoding: .utf8)
        #expect(
            throws: KeyError.unexpectedPEMType("PUBLIC KEY", expected: [SigningKey.sigstorePEMType, SigningKey.cosignPEMType])
        ) { try SigningKey(encryptedPEM: publicPEM, passphrase: "pw") }
        #expect(throws: KeyError.self) { try PublicKey(pem: PEMBlock(type: "PUBLIC KEY", bytes: [1, 2, 3]).text) }

        // Parameters other than go-securesystemslib's are refused before any scrypt work.
        let salt = Data(repeating: 1, count: 32).base64EncodedString()
        let nonce = Data(repeating: 2, count: 24).base64EncodedString()
        let sealed = Data(repeating: 3, count: 48).base64EncodedString()
        let body =
            #"{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":"\#(salt)"},"#
            + #""cipher":{"name":"nacl/secretbox","nonce":"\#(nonce)"},"ciphertext":"\#(sealed)"}"#
        let pem = PEMBlock(type: SigningKey.sigstorePEMType, bytes: Array(body.utf8)).text
        #expect(throws: KeyError.unsupportedKeyEncryption("scrypt parameters N=1073741824 r=8 p=1")) {
            try SigningKey(encryptedPEM: pem, passphrase: "pw")
        }
        let notJSON = PEMBlock(type: SigningKey.cosignPEMType, bytes: Array("{".utf8)).text
        #expect {
            try SigningKey(encryptedPEM: notJSON, passphrase: "pw")
        } throws: { error in
            if case KeyError.malformedEncryptedKey? = error as? KeyError { true } else { false }
        }
    }

    /// The encrypted body has go-securesystemslib's exact shape.
    @Test func encryptedBodyShape() throws {
        let (privatePEM, _) = try generateKeyPair(passphrase: "pw")
        let block = try #require(PEMBlock(parsing: privatePEM))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(block.bytes)) as? [String: Any])
        let kdf = try #require(object["kdf"] as? [String: Any])
        #expect(kdf["name"] as? String == "scrypt")
        let params = try #require(kdf["params"] as? [String: Int])
        #expect(params == ["N": 32768, "r": 8, "p": 1])
        #expect(Data(base64Encoded: kdf["salt"] as? String ?? "")?.count == 32)
        let cipher = try #require(object["cipher"] as? [String: String])
        #expect(cipher["name"] == "nacl/secretbox")
        #expect(Data(base64Encoded: cipher["nonce"] ?? "")?.count == 24)
        #expect(
            String(decoding: block.bytes, as: UTF8.self).hasPrefix(#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#))
    }
}
