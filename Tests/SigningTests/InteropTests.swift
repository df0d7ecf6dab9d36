import Foundation
import OCI
import Testing

@testable import Signing

/// pushctl against an independent implementation (cosign_interop.py: Debian's python3-cryptography
/// and python3-nacl), both ways.
@Suite struct InteropTests {
    let digest = Digest.of(Array(#"{"schemaVersion":2}"#.utf8))
    let identity = "registry.example.com/team/app"

    /// (a) A key made and encrypted by Python loads with its passphrase; its signature verifies.
    @Test(arguments: [SigningKey.sigstorePEMType, SigningKey.cosignPEMType])
    func pythonKeyAndSignatureAreAccepted(pemType: String) throws {
        try withTemporaryDirectory { dir in
            let keyPath = dir + "/py.key"
            let pubPath = dir + "/py.pub"
            let pythonKeyID = try Interop.ok(
                "make-key", "--passphrase", "s3cret pass", "--key", keyPath, "--pub", pubPath, "--pem-type", pemType)

            let key = try KeyFiles.loadSigningKey(path: keyPath, passphrase: "s3cret pass")
            #expect(key.publicKey.id == pythonKeyID)
            let publicKey = try KeyFiles.loadPublicKey(path: pubPath)
            #expect(publicKey.id == pythonKeyID)
            #expect(throws: KeyError.wrongPassphrase) { try KeyFiles.loadSigningKey(path: keyPath, passphrase: "s3cret pas") }

            // Python's payload is byte for byte pushctl's; Python signs it, pushctl verifies.
            let payloadPath = dir + "/payload.json"
            let pythonPayload = try Interop.ok("payload", "--digest", digest.string, "--identity", identity)
            let payload = SimpleSigningPayload(dockerReference: identity, manifestDigest: digest).bytes
            #expect(String(decoding: payload, as: UTF8.self) == pythonPayload)
            try Data(payload).write(to: URL(fileURLWithPath: payloadPath))
            let signature = try Interop.ok("sign", "--key", keyPath, "--passphrase", "s3cret pass", "--payload", payloadPath)
            let verifier = Verifier(keys: [publicKey], expectedDigest: digest, identity: .prefix("registry.example.com"))
            #expect(verifier.verify(SignedPayload(payload: payload, signature: signature)) == .verified(keyID: pythonKeyID))
        }
    }

    /// (b) A key pushctl writes decrypts in Python to the same key; pushctl's signatures verify in
    /// Python, and a corrupted one does not.
    @Test func pushctlKeyAndSignatureAreAcceptedByPython() throws {
        try withTemporaryDirectory { dir in
            let keyPath = dir + "/cosign.key"
            let pubPath = dir + "/cosign.pub"
            let publicKey = try KeyFiles.writeKeyPair(passphrase: "pushctl pass", privateKeyPath: keyPath, publicKeyPath: pubPath)
            #expect(try Interop.ok("decrypt", "--key", keyPath, "--passphrase", "pushctl pass") == publicKey.id)
            #expect(try Interop.ok("key-id", "--pub", pubPath) == publicKey.id)
            let wrong = try Interop.run("decrypt", "--key", keyPath, "--passphrase", "pushctl")
            #expect(wrong.status == 3 && wrong.trimmed == "wrong passphrase")

            let key = try KeyFiles.loadSigningKey(path: keyPath, passphrase: "pushctl pass")
            let payload = SimpleSigningPayload(dockerReference: identity, manifestDigest: digest).bytes
            let payloadPath = dir + "/payload.json"
            try Data(payload).write(to: URL(fileURLWithPath: payloadPath))
            let signature = try key.sign(payload)
            #expect(try Interop.ok("verify", "--pub", pubPath, "--payload", payloadPath, "--signature", signature) == "ok")

            var der = [UInt8](Data(base64Encoded: signature)!)
            der[der.count - 1] ^= 0x01
            let corrupted = try Interop.run(
                "verify", "--pub", pubPath, "--payload", payloadPath, "--signature", Data(der).base64EncodedString())
            #expect(corrupted.status == 1 && corrupted.trimmed == "bad")
        }
    }

    /// A signature manifest pushctl builds and extends reads correctly in Python: config digest and
    /// size, `rootfs.diff_ids` equal to the layers, each layer's signature verifying over its payload.
    @Test func pythonReadsPushctlSignatureManifests() throws {
        try withTemporaryDirectory { dir in
            let first = SigningKey.generate()
            let second = SigningKey.generate()
            let payload = SimpleSigningPayload(dockerReference: identity, manifestDigest: digest).bytes
            let one = try #require(
                try SignatureManifest.merge(nil, adding: SignedPayload(payload: payload, signature: try first.sign(payload))))
            let two = try #require(
                try SignatureManifest.merge(one.manifest, adding: SignedPayload(payload: payload, signature: try second.sign(payload))))

            try Data(two.manifest).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
            try Data(two.config).write(to: URL(fileURLWithPath: dir + "/config.json"))
            try Data(payload).write(to: URL(fileURLWithPath: dir + "/payload.json"))
            let summary = try Interop.ok("manifest", "--manifest", dir + "/manifest.json", "--config", dir + "/config.json")
            struct Summary: Decodable {
                struct Layer: Decodable {
                    var digest: String
                    var mediaType: String
                    var signature: String?
                }
                var mediaType: String?
                var layers: [Layer]
            }
            let parsed = try JSONDecoder().decode(Summary.self, from: Data(summary.utf8))
            #expect(parsed.mediaType == MediaType.ociManifest)
            #expect(parsed.layers.count == 2)
            for (layer, key) in zip(parsed.layers, [first, second]) {
                #expect(layer.mediaType == SimpleSigningPayload.mediaType)
                #expect(layer.digest == Digest.of(payload).string)
                try PEMBlockWriter.write(key.publicKey, to: dir + "/k.pub")
                let signature = try #require(layer.signature)
                #expect(
                    try Interop.ok("verify", "--pub", dir + "/k.pub", "--payload", dir + "/payload.json", "--signature", signature) == "ok")
            }
        }
    }
}

enum PEMBlockWriter {
    static func write(_ key: PublicKey, to path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        try Data(key.pem.utf8).write(to: URL(fileURLWithPath: path))
    }
}
