import Foundation
import OCI

/// The payload cosign signs: a "simple signing" document (containers/image's
/// https://github.com/containers/image/blob/main/docs/containers-signature.5.md, in cosign's flavour
/// https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md):
///
///     {"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},
///                  "image":{"docker-manifest-digest":"sha256:…"},
///                  "type":"cosign container image signature"},
///      "optional":null}
///
/// It is stored as a layer of media type `application/vnd.dev.cosign.simplesigning.v1+json`; the
/// signature is over its exact bytes, so a payload is never re-encoded after signing.
public struct SimpleSigningPayload: Sendable, Equatable {
    /// `critical.identity.docker-reference`: the repository (sometimes with a tag) the signer named.
    public var dockerReference: String
    /// `critical.image.docker-manifest-digest`: the manifest digest signed, as written.
    public var manifestDigest: String
    /// `optional`: free-form annotations (`cosign sign -a key=value`); nil is written `null`.
    public var optional: [String: String]?

    public static let mediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    public static let signatureType = "cosign container image signature"

    public init(dockerReference: String, manifestDigest: Digest, optional: [String: String]? = nil) {
        self.dockerReference = dockerReference
        self.manifestDigest = manifestDigest.string
        self.optional = optional
    }

    /// The payload bytes, as cosign writes them (key order `critical`, `optional`; within
    /// `critical`: `identity`, `image`, `type`; no spaces). Deterministic: `optional` is written
    /// with sorted keys.
    public var bytes: [UInt8] {
        let quoted = goJSONString
        let optionalText: String
        if let optional {
            optionalText =
                "{" + optional.keys.sorted(by: utf8Order).map { "\(quoted($0)):\(quoted(optional[$0]!))" }.joined(separator: ",") + "}"
        } else {
            optionalText = "null"
        }
        let text =
            #"{"critical":{"identity":{"docker-reference":\#(quoted(dockerReference))},"#
            + #""image":{"docker-manifest-digest":\#(quoted(manifestDigest))},"#
            + #""type":\#(quoted(Self.signatureType))},"optional":\#(optionalText)}"#
        return Array(text.utf8)
    }

    private struct Raw: Decodable {
        struct Critical: Decodable {
            struct Identity: Decodable {
                var dockerReference: String
                enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" }
            }
            struct Image: Decodable {
                var manifestDigest: String
                enum CodingKeys: String, CodingKey { case manifestDigest = "docker-manifest-digest" }
            }
            var identity: Identity
            var image: Image
            var type: String
        }
        var critical: Critical
        var optional: [String: OptionalValue]?
    }

    /// `optional` values other than strings (cosign allows any JSON) are kept as their description.
    private enum OptionalValue: Decodable {
        case string(String)
        case other
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let s = try? container.decode(String.self) { self = .string(s) } else { self = .other }
        }
    }

    /// Parses payload bytes. The checks are containers/image's for cosign payloads
    /// (`signature/internal/sigstore_payload.go`): `critical` with `identity.docker-reference`,
    /// `image.docker-manifest-digest` (strings) and `type` equal to
    /// "cosign container image signature".
    public init(parsing bytes: [UInt8]) throws(PayloadError) {
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .malformed(JSONDiagnostics.describe(error, bytes: bytes))
        } catch {
            throw .malformed(String(describing: error))
        }
        guard raw.critical.type == Self.signatureType else { throw .unexpectedType(raw.critical.type) }
        dockerReference = raw.critical.identity.dockerReference
        manifestDigest = raw.critical.image.manifestDigest
        optional = raw.optional.map { values in
            values.compactMapValues { if case .string(let s) = $0 { s } else { nil } }
        }
    }
}

public enum PayloadError: Error, Equatable, Sendable {
    case malformed(String)
    case unexpectedType(String)
}

extension PayloadError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformed(let why): "payload is not a cosign simple-signing document: \(why)"
        case .unexpectedType(let type): "payload type is \"\(type)\", not \"\(SimpleSigningPayload.signatureType)\""
        }
    }
}

/// A JSON string literal escaped as Go's `encoding/json` escapes it (what cosign's payloads use).
func goJSONString(_ s: String) -> String { JSONText.quoted(s, goHTMLSafe: true) }

func utf8Order(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
