import Foundation

/// What makes a manifest a referrer (OCI image spec 1.1): its `subject`, and what a referrers
/// listing says of it — `artifactType` (the manifest's own, else its config's media type) and its
/// `annotations`.
public struct ReferrerManifest: Sendable, Equatable {
    public var subject: Descriptor
    public var artifactType: String?
    public var annotations: [String: String]?

    private struct Raw: Decodable {
        var subject: Descriptor?
        var artifactType: String?
        var annotations: [String: String]?
        var config: Descriptor?
    }

    /// nil when the bytes are not a manifest with a `subject`.
    public static func parse(_ bytes: [UInt8]) -> ReferrerManifest? {
        guard let raw = try? JSONDecoder().decode(Raw.self, from: Data(bytes)), let subject = raw.subject else { return nil }
        var artifactType = raw.artifactType
        // The spec's rule for listings: without `artifactType`, the config's media type, unless
        // it is the empty descriptor's.
        if artifactType == nil, let config = raw.config?.mediaType, config != "application/vnd.oci.empty.v1+json" { artifactType = config }
        return ReferrerManifest(subject: subject, artifactType: artifactType, annotations: raw.annotations)
    }

    /// The descriptor a referrers listing holds for this manifest.
    public func listingDescriptor(mediaType: String, digest: Digest, size: Int64) -> Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: size, annotations: annotations, artifactType: artifactType)
    }
}

/// The referrers tag schema (distribution spec 1.1, "Referrers Tag Schema"): registries without
/// the referrers API keep a subject's referrers in an index tagged `<alg>-<hex>`.
public enum ReferrersFallback {
    public static func tag(for subject: Digest) -> String { "\(subject.algorithm.rawValue)-\(subject.hex)" }

    /// An empty fallback index, to which entries are appended.
    public static let emptyIndex = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8)

    /// The entries of a fallback index (empty when it has none).
    public static func entries(_ bytes: [UInt8]) -> [Descriptor] {
        (try? ManifestDocument.parse(bytes).document.children) ?? []
    }

    /// `existing` (or a new index) with `entry` added; nil when an entry with its digest is
    /// already there — the index is left exactly as others wrote it, entries of theirs included.
    public static func merge(_ existing: [UInt8]?, adding entry: Descriptor) throws(IndexEntriesError) -> [UInt8]? {
        let base = existing ?? emptyIndex
        if entries(base).contains(where: { $0.digest == entry.digest }) { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Descriptor encodes only its known fields; nil ones are left out.
        let text = (try? encoder.encode(entry)).map { [UInt8]($0) } ?? []
        return try IndexEntries(base).appending(text)
    }
}
