import Foundation
import OCI
import Testing

@testable import Signing

/// Encrypted keys written by sigstore's own Go code (Fixtures/sigstore-keys/README.md).
@Suite struct KeyVectorTests {
    let keys = testsDirectory + "/Fixtures/sigstore-keys"
    let cosignKeyID = "sha256:f1057bf3c114d5486f0bdb3c702596d6154158248980d4be49f6c61fdc62c591"

    @Test func keyWrittenByCosignDecrypts() throws {
        let pem = try String(contentsOfFile: keys + "/cosign-hello.key", encoding: .utf8)
        let key = try SigningKey(encryptedPEM: pem, passphrase: "hello")
        #expect(key.publicKey.id == cosignKeyID)
        #expect(throws: KeyError.wrongPassphrase) { try SigningKey(encryptedPEM: pem, passphrase: "hell") }
        // Python's reading of the same file agrees.
        #expect(try Interop.ok("decrypt", "--key", keys + "/cosign-hello.key", "--passphrase", "hello") == cosignKeyID)
        // And its signatures verify.
        let digest = Digest.of(Array("m".utf8))
        let signed = try key.sign(manifest: digest, identity: "registry.example.com/app")
        let verifier = Verifier(keys: [key.publicKey], expectedDigest: digest, identity: .prefix("registry.example.com"))
        #expect(verifier.verify(signed) == .verified(keyID: cosignKeyID))
    }

    /// The same file through KeyFiles: refused while group/others may read it, loaded at 0600.
    @Test func keyFileRuleAppliesToCosignsKey() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/cosign.key"
            try FileManager.default.copyItem(atPath: keys + "/cosign-hello.key", toPath: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(throws: KeyError.keyFileNotPrivate(path: path, mode: 0o644)) {
                try KeyFiles.loadSigningKey(path: path, passphrase: "hello")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            #expect(try KeyFiles.loadSigningKey(path: path, passphrase: "hello").publicKey.id == cosignKeyID)
        }
    }

    /// go-securesystemslib's vectors for its three scrypt parameter sets.
    @Test func securesystemslibVectorsDecrypt() throws {
        let lines = try String(contentsOfFile: keys + "/securesystemslib-supersecret.txt", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        let expected = [#""cmVhbGx5aW1wb3J0YW50""#, #""cmVhbGx5aW1wb3J0YW50""#, #""cmVhbGx5aW1wb3J0YW50""#, "reallyimportant"]
        for (line, plaintext) in zip(lines, expected) {
            let opened = try EncryptedBox.open(Array(line.utf8), passphrase: Array("supersecret".utf8))
            #expect(String(decoding: opened, as: UTF8.self) == plaintext)
            #expect(throws: KeyError.wrongPassphrase) { try EncryptedBox.open(Array(line.utf8), passphrase: Array("supersecreT".utf8)) }
        }
    }
}
