import Foundation
import OCI

/// A payload and its signature: one signature layer's content (or one signature of a
/// containers/image `dir:` image, `SigstoreSignatureFile`).
public struct SignedPayload: Sendable, Equatable {
    /// The exact payload bytes that were signed.
    public var payload: [UInt8]
    /// Base64 of the ASN.1 DER ECDSA signature; nil when the layer carries none.
    public var signature: String?
    /// The layer's other annotations (cosign's certificate, chain or Rekor bundle, …), kept as found.
    public var otherAnnotations: [String: String]

    public init(payload: [UInt8], signature: String?, otherAnnotations: [String: String] = [:]) {
        self.payload = payload
        self.signature = signature
        self.otherAnnotations = otherAnnotations
    }

    /// The layer's annotations: the others, and the signature under its key.
    public var annotations: [String: String] {
        var all = otherAnnotations
        if let signature { all[SignatureManifest.signatureAnnotation] = signature }
        return all
    }

    /// The descriptor of this payload as a signature layer.
    public var layerDescriptor: Descriptor {
        Descriptor(
            mediaType: SimpleSigningPayload.mediaType, digest: Digest.of(payload), size: Int64(payload.count),
            annotations: annotations)
    }
}

/// One signature layer listed in a signature manifest (its payload not yet fetched).
public struct SignatureEntry: Sendable, Equatable {
    /// The layer descriptor: the payload blob's digest and size, and its annotations.
    public var descriptor: Descriptor
    /// Base64 signature from the layer's `dev.cosignproject.cosign/signature` annotation, if any.
    public var signature: String? { descriptor.annotations?[SignatureManifest.signatureAnnotation] }

    public init(descriptor: Descriptor) { self.descriptor = descriptor }
}

/// What to push to add a signature: the payload and config blobs, then the manifest under
/// `SignatureManifest.tag(for:)`.
public struct SignatureManifestUpdate: Sendable, Equatable {
    public var manifest: [UInt8]
    public var manifestMediaType: String
    public var config: [UInt8]
    public var configDescriptor: Descriptor
    public var payload: [UInt8]
    public var payloadDescriptor: Descriptor
}

/// cosign's signature storage (https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md,
/// "Storage"): the signatures of manifest `sha256:<hex>` live in the same repository under the tag
/// `sha256-<hex>.sig`, an OCI image manifest with one layer per signature — the payload blob, of
/// media type `application/vnd.dev.cosign.simplesigning.v1+json`, with the base64 signature in
/// the layer's `dev.cosignproject.cosign/signature` annotation. The config is an image config
/// whose `rootfs.diff_ids` lists the layers; no verifier reads it.
///
/// Adding a signature follows containers/image (skopeo ≥ 1.9, `docker/docker_image_dest.go`,
/// `putSignaturesToSigstoreAttachments`): keep every layer already there, append the new one,
/// rebuild the config. pushctl writes the config as `{"architecture":"","config":{},"os":"",
/// "rootfs":{"diff_ids":[…],"type":"layers"}}` from the layer list alone, and the manifest with
/// keys in byte order and no spaces, so the same existing manifest and signature always give the
/// same bytes.
public enum SignatureManifest {
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"

    /// `sha256-<hex>.sig` for `sha256:<hex>` (cosign's rule: `:` becomes `-`, `.sig` appended).
    public static func tag(for digest: Digest) -> String { "\(digest.algorithm.rawValue)-\(digest.hex).sig" }

    /// The simple-signing layers of a signature manifest, in order. Layers of other media types
    /// (attestations, others' artifacts) are not signatures and are left out.
    public static func entries(_ manifest: [UInt8]) throws(SignatureManifestError) -> [SignatureEntry] {
        struct Raw: Decodable { var layers: [Descriptor]? }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(manifest))
        } catch let error as DecodingError {
            throw .malformed(JSONDiagnostics.describe(error, bytes: manifest))
        } catch {
            throw .malformed(String(describing: error))
        }
        return (raw.layers ?? []).filter { $0.mediaType == SimpleSigningPayload.mediaType }.map(SignatureEntry.init)
    }

    /// `existing` (or a new manifest when nil) with `signed` added as a layer; nil when a layer
    /// with the same payload digest and the same signature is already there — nothing to push, the
    /// manifest stays exactly as it is. Every other layer, and every field of the manifest pushctl
    /// does not know, is kept.
    public static func merge(_ existing: [UInt8]?, adding signed: SignedPayload) throws(SignatureManifestError) -> SignatureManifestUpdate?
    {
        guard let signature = signed.signature else { throw .noSignature }
        var members: [String: JSONValue]
        if let existing {
            guard case .object(let parsed)? = try? JSONValue.parse(existing) else { throw .malformed("not a JSON object") }
            members = parsed
        } else {
            members = ["schemaVersion": .integer(2), "mediaType": .string(MediaType.ociManifest)]
        }
        var layers: [JSONValue]
        switch members["layers"] {
        case nil, .null?: layers = []
        case .array(let items)?: layers = items
        default: throw .malformed("\"layers\" is not an array")
        }
        let layer = signed.layerDescriptor
        let present = layers.contains { item in
            item["mediaType"]?.stringValue == layer.mediaType && item["digest"]?.stringValue == layer.digest.string
                && item["annotations"]?[signatureAnnotation]?.stringValue == signature
        }
        if present { return nil }
        layers.append(descriptorValue(layer))

        var diffIDs: [JSONValue] = []
        for item in layers {
            guard let digest = item["digest"]?.stringValue else { throw .malformed("a layer has no digest") }
            diffIDs.append(.string(digest))
        }
        let config = JSONValue.object([
            "architecture": .string(""), "os": .string(""), "config": .object([:]),
            "rootfs": .object(["type": .string("layers"), "diff_ids": .array(diffIDs)])
        ]).bytes
        let configMediaType = members["config"]?["mediaType"]?.stringValue ?? MediaType.ociConfig
        let configDescriptor = Descriptor(mediaType: configMediaType, digest: Digest.of(config), size: Int64(config.count))
        // The old config descriptor is replaced whole: its digest and size no longer apply.
        members["config"] = descriptorValue(configDescriptor)
        members["layers"] = .array(layers)
        let manifestMediaType = members["mediaType"]?.stringValue ?? MediaType.ociManifest
        return SignatureManifestUpdate(
            manifest: JSONValue.object(members).bytes, manifestMediaType: manifestMediaType, config: config,
            configDescriptor: configDescriptor, payload: signed.payload, payloadDescriptor: layer)
    }

    private static func descriptorValue(_ d: Descriptor) -> JSONValue {
        var members: [String: JSONValue] = [
            "mediaType": .string(d.mediaType), "digest": .string(d.digest.string), "size": .integer(d.size)
        ]
        if let annotations = d.annotations, !annotations.isEmpty {
            members["annotations"] = .object(annotations.mapValues { .string($0) })
        }
        return .object(members)
    }
}

public enum SignatureManifestError: Error, Equatable, Sendable {
    case malformed(String)
    /// A layer to add carries no signature.
    case noSignature
}

extension SignatureManifestError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformed(let why): "malformed signature manifest: \(why)"
        case .noSignature: "cannot add a signature layer without a signature"
        }
    }
}
