import OCI

/// `oci:PATH[:REF]` and `oci-archive:FILE[:REF]`: an OCI image layout
/// (https://github.com/opencontainers/image-spec/blob/main/image-layout.md), in a directory or a tar.
struct OCILayoutSource: ImageSource {
    let files: any LayoutFiles
    let location: ImageSourceLocation
    let ref: String?
    /// Layouts this process already read, shared with the other images of the run (nil: read here).
    let opened: OpenedLayouts?

    var description: String { location.description }

    init(store: any LayoutFiles, location: ImageSourceLocation, ref: String?, opened: OpenedLayouts? = nil) throws(SourceError) {
        self.files = store
        self.location = location
        self.ref = ref
        self.opened = opened
    }

    private struct LayoutFile: Decodable { var imageLayoutVersion: String }
    private struct IndexFile: Decodable { var schemaVersion: Int?; var manifests: [Descriptor]? }

    func loadGraph() throws(SourceError) -> ImageGraph {
        let index = try Self.entries(of: files, source: description, opened: opened)
        let (root, tags) = try select(from: index)
        let files = self.files
        let builder = GraphBuilder(
            source: description,
            manifestBytes: { (digest) throws(SourceError) in try files.region(files.blobPath(digest))?.readAll() },
            blobSize: { (digest) throws(SourceError) in try files.region(files.blobPath(digest))?.length })
        return try builder.build(root: root, sourceTags: tags)
    }

    func payload(for blob: Descriptor) -> BlobPayload {
        let files = self.files
        let source = description
        return BlobPayload(descriptor: blob) { offset in
            guard let region = try files.region(files.blobPath(blob.digest)) else {
                throw SourceError.missingBlobs(
                    source: source,
                    blobs: [
                        MissingBlob(
                            digest: blob.digest, mediaType: blob.mediaType, expectedSize: blob.size, foundSize: nil, referencedBy: nil)
                    ])
            }
            return try VerifyingFileStream(region: region, expected: blob, source: source, offset: offset)
        }
    }

    /// The entries of the layout's `index.json`: read once per run through `opened` when given.
    static func entries(of files: any LayoutFiles, source: String, opened: OpenedLayouts?) throws(SourceError) -> [Descriptor] {
        let read = { () throws(SourceError) in try readIndex(files, source: source) }
        if let opened { return try opened.index(of: files, read) }
        return try read()
    }

    /// Reads `oci-layout` (version check) and `index.json`.
    private static func readIndex(_ files: any LayoutFiles, source description: String) throws(SourceError) -> [Descriptor] {
        let layoutRegion = try files.region("oci-layout")
        let indexRegion = try files.region("index.json")
        guard let layoutRegion else {
            throw .notALayout(
                path: files.path,
                reason: indexRegion == nil
                    ? "it has neither an oci-layout file nor an index.json"
                    : "it has no oci-layout file")
        }
        let layout = try decodeJSON(LayoutFile.self, from: layoutRegion.readAll(), source: description, file: "oci-layout")
        guard layout.imageLayoutVersion.split(separator: ".").first == "1" else {
            throw .unsupportedLayoutVersion(path: files.path, version: layout.imageLayoutVersion)
        }
        guard let indexRegion else { throw .notALayout(path: files.path, reason: "it has no index.json") }
        let index = try decodeJSON(IndexFile.self, from: indexRegion.readAll(), source: description, file: "index.json")
        if let version = index.schemaVersion, version != 2 {
            throw .invalidDocument(source: description, file: "index.json", reason: "unsupported schemaVersion \(version) (2 is supported)")
        }
        return index.manifests ?? []
    }

    /// Picks the root by REF (docs/jobfile.md "Sources") and the default tags that go with it.
    private func select(from entries: [Descriptor]) throws(SourceError) -> (Descriptor, [String]) {
        func refName(_ d: Descriptor) -> String? { d.annotations?[Descriptor.refNameAnnotation] }
        let available = uniqued(entries.map { refName($0) ?? "@\($0.digest)" })

        guard let ref else {
            guard let first = entries.first else { throw .noImages(source: description) }
            guard entries.allSatisfy({ $0.digest == first.digest }) else {
                throw .severalImages(source: description, available: available)
            }
            let tags = uniqued(entries.compactMap(refName).compactMap { tagPart(of: $0, bareNameIsTag: true) })
            return (first, tags)
        }

        if ref.hasPrefix("@") {
            let digest: Digest
            do { digest = try Digest(parsing: String(ref.dropFirst())) } catch {
                throw .invalidRef(source: description, ref: ref, reason: error.description)
            }
            if let entry = entries.first(where: { $0.digest == digest }) { return (entry, []) }
            // Not listed in index.json: any manifest blob of the layout may be picked (e.g. one
            // platform's manifest of an index). Its media type comes from the document itself.
            if let region = try files.region(files.blobPath(digest)) {
                return (Descriptor(mediaType: "", digest: digest, size: region.length), [])
            }
            throw .digestNotInLayout(source: description, digest: digest)
        }

        let matches = entries.filter { refName($0) == ref }
        guard let match = matches.first else { throw .unknownRef(source: description, ref: ref, available: available) }
        let digests = uniqued(matches.map(\.digest.string))
        guard digests.count == 1 else {
            throw .ambiguousRef(source: description, ref: ref, digests: matches.map(\.digest))
        }
        return (match, tagPart(of: ref, bareNameIsTag: true).map { [$0] } ?? [])
    }
}
