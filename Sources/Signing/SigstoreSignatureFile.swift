import Foundation

/// containers/image's serialised form of a sigstore signature, as skopeo stores signatures in a
/// `dir:` image (`signature-1`, `signature-2`, …) and in lookaside storage
/// (containers/image `signature/sigstore.go`, `signature/signature.go`): the bytes
/// `\0sigstore-json\n`, then `{"mimeType":…,"payload":"<base64>","annotations":{…}}` — one
/// signature layer's media type, content and annotations.
public enum SigstoreSignatureFile {
    static let prefix: [UInt8] = [0] + Array("sigstore-json\n".utf8)

    private struct Raw: Decodable {
        var mimeType: String
        var payload: String
        var annotations: [String: String]?
    }

    /// The signed payload in a `dir:` signature file.
    public static func parse(_ bytes: [UInt8]) throws(SignatureManifestError) -> SignedPayload {
        guard bytes.starts(with: prefix) else { throw .malformed("not a sigstore-json signature (no \\0sigstore-json prefix)") }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(bytes[prefix.count...]))
        } catch {
            throw .malformed("sigstore-json signature: \(error)")
        }
        guard raw.mimeType == SimpleSigningPayload.mediaType else {
            throw .malformed("sigstore-json signature of type \"\(raw.mimeType)\", not \(SimpleSigningPayload.mediaType)")
        }
        guard let payload = Data(base64Encoded: raw.payload) else { throw .malformed("sigstore-json payload is not base64") }
        var annotations = raw.annotations ?? [:]
        let signature = annotations.removeValue(forKey: SignatureManifest.signatureAnnotation)
        return SignedPayload(payload: [UInt8](payload), signature: signature, otherAnnotations: annotations)
    }

    /// `signed` in the same form (keys in byte order, so deterministic).
    public static func serialize(_ signed: SignedPayload) -> [UInt8] {
        let value = JSONValue.object([
            "mimeType": .string(SimpleSigningPayload.mediaType),
            "payload": .string(Data(signed.payload).base64EncodedString()),
            "annotations": .object(signed.annotations.mapValues { .string($0) })
        ])
        return prefix + value.bytes
    }
}
