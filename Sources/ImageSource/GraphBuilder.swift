import OCI

/// Walks a manifest graph from its root: reads and checks every manifest (exact bytes, digest,
/// size), resolves media types, collects blobs and checks they exist, and reports every missing
/// or wrong-sized manifest and blob at once.
///
/// Media types: an index entry's `mediaType` is advisory. The document's own `mediaType` field
/// decides (it is what a registry checks the upload's Content-Type against); without one, the
/// entry's type is used when it is a manifest type of the same kind, else the document's shape
/// (`manifests` → index, `config` → manifest) picks the OCI type. Only a document that contradicts
/// itself (its own `mediaType` says index but it has a `config`, or the reverse) is an error.
/// This is how fixture `test_index` reads: its entry typed `application/vnd.oci.descriptor.v1+json`
/// is a Docker manifest, and its OCI-typed entry points at a Docker manifest too.
struct GraphBuilder {
    let source: String
    /// The bytes of a manifest blob; nil when absent.
    let manifestBytes: (Digest) throws(SourceError) -> [UInt8]?
    /// The size of a blob; nil when absent.
    let blobSize: (Digest) throws(SourceError) -> Int64?

    private final class Walk {
        var manifests: [(descriptor: Descriptor, bytes: [UInt8])] = []
        var visited: Set<Digest> = []
        var blobs: [Descriptor] = []
        var seenBlobs: Set<Digest> = []
        var missing: [MissingBlob] = []
        var missingDigests: Set<Digest> = []
        var platforms: [Platform] = []

        func addMissing(_ descriptor: Descriptor, found: Int64?, parent: Digest?) {
            guard missingDigests.insert(descriptor.digest).inserted else { return }
            missing.append(
                MissingBlob(
                    digest: descriptor.digest, mediaType: descriptor.mediaType,
                    expectedSize: descriptor.size, foundSize: found, referencedBy: parent))
        }
    }

    /// Builds the graph of `root` (an index entry or a descriptor made from a REF).
    func build(root: Descriptor, sourceTags: [String], diffIDs: [Digest: Digest] = [:]) throws(SourceError) -> ImageGraph {
        let walk = Walk()
        let resolvedRoot = try visit(root, parent: nil, walk: walk)
        if !walk.missing.isEmpty { throw .missingBlobs(source: source, blobs: walk.missing) }
        guard let resolvedRoot else { throw .missingBlobs(source: source, blobs: walk.missing) }
        return ImageGraph(
            root: resolvedRoot, sourceTags: sourceTags, manifests: walk.manifests, blobs: walk.blobs,
            platforms: walk.platforms, diffIDs: diffIDs)
    }

    /// What a blob that is not a manifest looks like: an image config, other JSON, or bytes (a
    /// layer); nil when it looks like a (broken) manifest.
    static func nonManifestKind(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes.prefix(1 << 20), as: UTF8.self)
        // JSON is UTF-8: a layer whose first byte happens to be `{` is not taken for a document.
        guard text.first(where: { !$0.isWhitespace }) == "{", startsAsUTF8(bytes) else {
            return "a blob of \(bytes.count) bytes that is not JSON (a layer?)"
        }
        // An image config has "config" (the runtime settings) too, but never "layers".
        // (As keys: a config's rootfs says `"type":"layers"`.)
        func hasKey(_ key: String) -> Bool { text.contains("\"\(key)\":") || text.contains("\"\(key)\" :") }
        if hasKey("manifests") || hasKey("layers") { return nil }
        if text.contains("\"rootfs\"") || text.contains("\"architecture\"") { return "an image configuration" }
        return hasKey("config") ? nil : "a JSON document of another kind"
    }

    /// Whether the blob's first 4 KiB are UTF-8 (a sequence cut off at the end of those allowed).
    static func startsAsUTF8(_ bytes: [UInt8]) -> Bool {
        let count = min(bytes.count, 4096)
        let cut = count == bytes.count ? 0 : 3
        return (0...cut).contains { String(validating: bytes[..<(count - $0)], as: UTF8.self) != nil }
    }

    /// Visits one manifest; returns its descriptor with the resolved media type, or nil when it is
    /// missing (recorded in `walk.missing`).
    private func visit(_ descriptor: Descriptor, parent: Digest?, walk: Walk) throws(SourceError) -> Descriptor? {
        guard let bytes = try manifestBytes(descriptor.digest) else {
            walk.addMissing(descriptor, found: nil, parent: parent)
            return nil
        }
        guard Int64(bytes.count) == descriptor.size else {
            walk.addMissing(descriptor, found: Int64(bytes.count), parent: parent)
            return nil
        }
        let actual = Digest.of(bytes, algorithm: descriptor.digest.algorithm)
        guard actual == descriptor.digest else {
            throw .blobDigestMismatch(source: source, expected: descriptor.digest, actual: actual)
        }
        let parsed: (mediaType: String, document: ManifestDocument)
        do {
            parsed = try ManifestDocument.parse(bytes)
        } catch {
            // The root chosen by digest may be any blob: say what it is rather than how JSON
            // decoding of a manifest failed.
            if parent == nil, let what = Self.nonManifestKind(bytes) {
                throw .notAManifest(source: source, digest: descriptor.digest, what: what)
            }
            throw .invalidManifest(source: source, digest: descriptor.digest, reason: error.description)
        }
        switch parsed.document {
        case .index where !MediaType.isIndex(parsed.mediaType):
            throw .inconsistentMediaType(
                source: source, digest: descriptor.digest, mediaType: parsed.mediaType,
                reason: "the document lists \"manifests\" and has no \"config\", as an index does")
        case .image where !MediaType.isImageManifest(parsed.mediaType):
            throw .inconsistentMediaType(
                source: source, digest: descriptor.digest, mediaType: parsed.mediaType,
                reason: "the document has a \"config\", as an image manifest does")
        default: break
        }
        var resolved = descriptor
        resolved.mediaType = parsed.mediaType
        if walk.visited.contains(descriptor.digest) { return resolved }
        walk.visited.insert(descriptor.digest)

        switch parsed.document {
        case .index(let children):
            for child in children {
                if let resolvedChild = try visit(child, parent: descriptor.digest, walk: walk),
                    MediaType.isImageManifest(resolvedChild.mediaType), let platform = child.platform,
                    !walk.platforms.contains(platform)
                {
                    walk.platforms.append(platform)
                }
            }
        case .image(let config, let layers):
            for blob in [config] + layers where !blob.isNonDistributable {
                guard walk.seenBlobs.insert(blob.digest).inserted else { continue }
                let size = try blobSize(blob.digest)
                if size != blob.size {
                    walk.addMissing(blob, found: size, parent: descriptor.digest)
                } else {
                    walk.blobs.append(blob)
                }
            }
        }
        walk.manifests.append((resolved, bytes))
        return resolved
    }
}

/// The tag a reference names, for default target tags: `registry/repo:tag` → `tag`; a bare
/// `name` means `latest` in docker archives (docker's rule) and is the tag itself in OCI layouts
/// (`ref.name` is usually just a tag). Nil when it names no usable tag (e.g. digest only).
/// The rule lives in `OCI.SourceRefTag`, shared with the job file's `SourceSpec.ownTag`.
func tagPart(of reference: String, bareNameIsTag: Bool) -> String? {
    SourceRefTag.tag(of: reference, bareName: bareNameIsTag ? .isTheTag : .meansLatest)
}

func uniqued(_ items: [String]) -> [String] {
    var seen: Set<String> = []
    return items.filter { seen.insert($0).inserted }
}
