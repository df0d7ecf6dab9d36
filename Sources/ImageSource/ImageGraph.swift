import OCI

/// Everything the pusher needs to know about one image (or multi-platform index) from a source.
public struct ImageGraph: Sendable {
    /// The root manifest or index; its `mediaType` is the document's own.
    public let root: Descriptor
    /// Default target tags: the tag part of the REF, or of the single `ref.name`/`RepoTag`(s)
    /// (`registry/name:tag` → `tag`; a RepoTag without a tag means `latest`). Empty when selected by
    /// digest or when the source names no tag.
    public let sourceTags: [String]
    /// Every manifest of the graph, children before parents, root last. Media types are the
    /// documents' own (see docs/image-sources.md on mismatching index entries).
    public let manifestsChildrenFirst: [Descriptor]
    /// Every config and layer blob, deduplicated, in walk order; non-distributable layers
    /// (descriptors with `urls`) are left out: they are never read or pushed.
    public let blobs: [Descriptor]
    /// The platforms of the root index's image manifests (nested indexes flattened); empty for a
    /// single image.
    public let platforms: [Platform]
    /// Compressed layer digest → uncompressed diffID, for layers this source compressed or passed
    /// through (docker archives).
    public let diffIDs: [Digest: Digest]

    private let manifestBytesByDigest: [Digest: [UInt8]]

    public init(
        root: Descriptor, sourceTags: [String], manifests: [(descriptor: Descriptor, bytes: [UInt8])],
        blobs: [Descriptor], platforms: [Platform], diffIDs: [Digest: Digest]
    ) {
        self.root = root
        self.sourceTags = sourceTags
        self.manifestsChildrenFirst = manifests.map(\.descriptor)
        var bytes: [Digest: [UInt8]] = [:]
        for m in manifests { bytes[m.descriptor.digest] = m.bytes }
        self.manifestBytesByDigest = bytes
        self.blobs = blobs
        self.platforms = platforms
        self.diffIDs = diffIDs
    }

    /// The exact bytes of a manifest of the graph (what gets pushed; its digest is their sha256).
    public func manifestBytes(_ digest: Digest) -> [UInt8]? { manifestBytesByDigest[digest] }

    /// Bytes of every manifest and blob (non-distributable layers excluded).
    public var totalSize: Int64 {
        manifestsChildrenFirst.reduce(0) { $0 + $1.size } + blobs.reduce(0) { $0 + $1.size }
    }

    /// True when the root is an index or manifest list.
    public var isIndex: Bool { MediaType.isIndex(root.mediaType) }
}
