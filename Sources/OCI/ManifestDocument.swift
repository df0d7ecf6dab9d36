import Foundation

/// The parts of a manifest or index that matter for walking an image graph: which blobs and
/// child manifests it references. The exact bytes are kept elsewhere; they are what gets pushed.
public enum ManifestDocument: Sendable, Equatable {
    /// An image manifest: a config blob and layer blobs.
    case image(config: Descriptor, layers: [Descriptor])
    /// An index or manifest list: child manifests.
    case index(manifests: [Descriptor])

    private struct Raw: Decodable {
        var schemaVersion: Int?
        var mediaType: String?
        var config: Descriptor?
        var layers: [Descriptor]?
        var manifests: [Descriptor]?
    }

    /// Parses manifest bytes. The document's own `mediaType` field, when present, is its type.
    /// A Docker schema 2 manifest or list always carries that field (Docker's spec requires it, and
    /// distribution rejects one without), so a document without it is OCI — whatever a referrer
    /// declared — and its shape (`manifests` vs `config`) says whether index or manifest.
    public static func parse(_ bytes: [UInt8]) throws(ManifestError) -> (mediaType: String, document: ManifestDocument) {
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: Data(bytes))
        } catch {
            throw .invalidJSON(String(describing: error))
        }
        if let version = raw.schemaVersion, version != 2 {
            throw .unsupportedSchemaVersion(version)
        }
        if let manifests = raw.manifests, raw.config == nil {
            let type = raw.mediaType ?? MediaType.ociIndex
            return (type, .index(manifests: manifests))
        }
        if let config = raw.config {
            let type = raw.mediaType ?? MediaType.ociManifest
            return (type, .image(config: config, layers: raw.layers ?? []))
        }
        throw .notAManifest
    }

    /// Blobs (config and layers) referenced directly by this document.
    public var blobs: [Descriptor] {
        switch self {
        case .image(let config, let layers): [config] + layers
        case .index: []
        }
    }

    /// Child manifests referenced directly by this document.
    public var children: [Descriptor] {
        switch self {
        case .image: []
        case .index(let manifests): manifests
        }
    }
}

public enum ManifestError: Error, Equatable, Sendable {
    case invalidJSON(String)
    case unsupportedSchemaVersion(Int)
    case notAManifest
}

extension ManifestError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidJSON(let why): "manifest is not valid JSON: \(why)"
        case .unsupportedSchemaVersion(let v): "unsupported manifest schemaVersion \(v) (only 2 is supported)"
        case .notAManifest: "document is neither an image manifest nor an index"
        }
    }
}
