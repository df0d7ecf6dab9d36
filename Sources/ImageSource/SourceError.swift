import OCI

/// Why a source cannot be read. Every case is an "invalid input" error (exit code 2 in
/// docs/cli.md) and its description names the source, file, reference or blob at fault.
public enum SourceError: Error, Sendable, Equatable {
    /// The path does not exist.
    case notFound(path: String)
    /// The directory is not an OCI image layout (no `oci-layout`/`index.json`, or a file given
    /// where a directory is expected).
    case notALayout(path: String, reason: String)
    /// The `oci-layout` file names an `imageLayoutVersion` other than 1.x.
    case unsupportedLayoutVersion(path: String, version: String)
    /// The file is not a tar archive.
    case notATarArchive(path: String, reason: String)
    /// The file is a gzip/zstd/xz/bzip2-compressed archive (which must be decompressed first).
    case compressedArchive(path: String, format: String)
    /// The archive ends inside a member or header.
    case truncatedArchive(path: String, member: String, declared: Int64, available: Int64)
    /// Files the format requires are not in the archive (e.g. `manifest.json`, or the config and
    /// layer files `manifest.json` names); all of them.
    case missingArchiveMembers(archive: String, members: [String], hint: String?)
    /// A JSON document of the source does not parse (`file` names it; `detail` says where and why).
    case invalidJSON(source: String, file: String, detail: String)
    /// A document has the wrong shape (e.g. `manifest.json` is `null` or lists no image).
    case invalidDocument(source: String, file: String, reason: String)
    /// A manifest of the graph is not a valid manifest or index.
    case invalidManifest(source: String, digest: Digest, reason: String)
    /// A manifest's own `mediaType` contradicts its content (e.g. says index, has `config`).
    case inconsistentMediaType(source: String, digest: Digest, mediaType: String, reason: String)
    /// The source holds no image at all.
    case noImages(source: String)
    /// No REF was given and the source holds several images.
    case severalImages(source: String, available: [String])
    /// The REF names no image of the source.
    case unknownRef(source: String, ref: String, available: [String])
    /// `@DIGEST` names no blob of the layout.
    case digestNotInLayout(source: String, digest: Digest)
    /// The image chosen by digest is a blob, not a manifest or index (`what` says what it looks like).
    case notAManifest(source: String, digest: Digest, what: String)
    /// Several images carry the same REF.
    case ambiguousRef(source: String, ref: String, digests: [Digest])
    /// The REF cannot be used (e.g. `@` followed by an invalid digest).
    case invalidRef(source: String, ref: String, reason: String)
    /// Blobs or manifests the image references are missing or have the wrong size; all of them.
    case missingBlobs(source: String, blobs: [MissingBlob])
    /// A blob streamed with a different size than its descriptor says.
    case blobSizeMismatch(source: String, digest: Digest, expected: Int64, actual: Int64)
    /// A blob streamed with different bytes than its digest says.
    case blobDigestMismatch(source: String, expected: Digest, actual: Digest)
    /// An archive layer's content does not hash to the diffID its config lists.
    case diffIDMismatch(source: String, layer: String, expected: Digest, actual: Digest)
    /// An image config lists a different number of diffIDs than the archive has layers.
    case layerCountMismatch(source: String, config: String, diffIDs: Int, layers: Int)
    /// A layer compressed (on demand) to a different digest than the state database remembered.
    case knownCompressionMismatch(source: String, diffID: Digest, known: Digest, produced: Digest)
    /// `payload(for:)` was asked for a digest that is not part of the loaded graph.
    case unknownBlob(source: String, digest: Digest)
    /// A system call failed.
    case io(path: String, operation: String, reason: String)
    /// zlib failed while compressing a layer.
    case compression(source: String, layer: String, reason: String)

    /// The exit code class of every source error (docs/cli.md: invalid input).
    public var exitCode: Int32 { 2 }

    /// Whether the description begins with the source as the reader resolved it (the `source:`
    /// cases: `TRANSPORT:PATH[:REF]`); the others name only a file or path, so a message about
    /// them should say which source it was.
    public var namesItsSource: Bool {
        switch self {
        case .notFound, .notALayout, .unsupportedLayoutVersion, .notATarArchive, .compressedArchive, .truncatedArchive,
            .missingArchiveMembers, .io:
            false
        case .invalidJSON, .invalidDocument, .invalidManifest, .inconsistentMediaType, .noImages, .severalImages,
            .unknownRef, .digestNotInLayout, .notAManifest, .ambiguousRef, .invalidRef, .missingBlobs, .blobSizeMismatch,
            .blobDigestMismatch, .diffIDMismatch, .layerCountMismatch, .knownCompressionMismatch, .unknownBlob, .compression:
            true
        }
    }
}

/// One blob or manifest that `loadGraph` could not find (or found with the wrong size).
public struct MissingBlob: Sendable, Hashable, CustomStringConvertible {
    public let digest: Digest
    public let mediaType: String
    public let expectedSize: Int64
    /// The size found when the blob exists with a different size; nil when it does not exist.
    public let foundSize: Int64?
    /// The manifest that references it (nil for the root).
    public let referencedBy: Digest?

    public init(digest: Digest, mediaType: String, expectedSize: Int64, foundSize: Int64?, referencedBy: Digest?) {
        self.digest = digest
        self.mediaType = mediaType
        self.expectedSize = expectedSize
        self.foundSize = foundSize
        self.referencedBy = referencedBy
    }

    public var description: String {
        var text = "\(digest) (\(mediaType), \(expectedSize) bytes)"
        if let found = foundSize { text += " has \(found) bytes" } else { text += " is missing" }
        if let parent = referencedBy { text += ", referenced by manifest \(parent)" }
        return text
    }
}

extension SourceError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notFound(let path):
            "\(path): no such file or directory"
        case .notALayout(let path, let reason):
            "\(path) is not an OCI image layout: \(reason)"
        case .unsupportedLayoutVersion(let path, let version):
            "\(path)/oci-layout: unsupported imageLayoutVersion \"\(version)\" (1.x is supported)"
        case .notATarArchive(let path, let reason):
            "\(path) is not a tar archive: \(reason)"
        case .compressedArchive(let path, let format):
            "\(path) is a \(format)-compressed file; decompress it first (e.g. `docker save` output piped through gzip)"
        case .truncatedArchive(let path, let member, let declared, let available):
            "\(path) is truncated: member \"\(member)\" declares \(declared) bytes but only \(available) follow"
        case .missingArchiveMembers(let archive, let members, let hint):
            "\(archive): the archive has no \(members.joined(separator: ", "))" + (hint.map { " (\($0))" } ?? "")
        case .invalidJSON(let source, let file, let detail):
            "\(source): \(file) is not valid JSON: \(detail)"
        case .invalidDocument(let source, let file, let reason):
            "\(source): \(file): \(reason)"
        case .invalidManifest(let source, let digest, let reason):
            "\(source): manifest \(digest): \(reason)"
        case .inconsistentMediaType(let source, let digest, let mediaType, let reason):
            "\(source): manifest \(digest) declares mediaType \(mediaType) but \(reason)"
        case .noImages(let source):
            "\(source): the source holds no image"
        case .severalImages(let source, let available):
            "\(source): the source holds several images; choose one with :REF (available: \(available.joined(separator: ", ")))"
        case .digestNotInLayout(let source, let digest):
            "\(source): the layout has no blob \(digest) (neither index.json nor blobs/ list it)"
        case .notAManifest(let source, let digest, let what):
            "\(source): \(digest) is \(what), not an image manifest or index; choose a manifest's digest or a tag"
        case .unknownRef(let source, let ref, let available):
            "\(source): no image named \"\(ref)\""
                + (available.isEmpty ? " (the source names none of its images)" : " (available: \(available.joined(separator: ", ")))")
        case .ambiguousRef(let source, let ref, let digests):
            "\(source): \"\(ref)\" names several images: \(digests.map(\.string).joined(separator: ", "))"
        case .invalidRef(let source, let ref, let reason):
            "\(source): invalid REF \"\(ref)\": \(reason)"
        case .missingBlobs(let source, let blobs):
            "\(source): \(blobs.count) blob\(blobs.count == 1 ? "" : "s") missing or damaged:\n"
                + blobs.map { "  - \($0)" }.joined(separator: "\n")
        case .blobSizeMismatch(let source, let digest, let expected, let actual):
            "\(source): blob \(digest) should have \(expected) bytes but has \(actual)"
        case .blobDigestMismatch(let source, let expected, let actual):
            "\(source): blob \(expected) is corrupt: its content hashes to \(actual)"
        case .diffIDMismatch(let source, let layer, let expected, let actual):
            "\(source): layer \(layer) hashes to \(actual) but the image config lists diffID \(expected)"
        case .layerCountMismatch(let source, let config, let diffIDs, let layers):
            "\(source): config \(config) lists \(diffIDs) diffIDs but the image has \(layers) layers"
        case .knownCompressionMismatch(let source, let diffID, let known, let produced):
            "\(source): layer \(diffID) compressed to \(produced), not to \(known) as recorded earlier (compression settings or zlib changed?)"
        case .unknownBlob(let source, let digest):
            "\(source): blob \(digest) is not part of the loaded image"
        case .io(let path, let operation, let reason):
            "\(path): \(operation) failed: \(reason)"
        case .compression(let source, let layer, let reason):
            "\(source): compressing layer \(layer) failed: \(reason)"
        }
    }
}
