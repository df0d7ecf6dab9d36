import OCI

/// A byte range of a file: a whole blob file in a layout directory, or a member inside a tar.
struct FileRegion: Sendable {
    let file: ReadOnlyFile
    let start: Int64
    let length: Int64
    /// How to name this region in messages (the file, or `archive.tar:member`).
    let name: String

    /// Reads the whole region into memory; refuses regions above `limit` (JSON documents only).
    func readAll(limit: Int64 = 64 << 20) throws(SourceError) -> [UInt8] {
        guard length <= limit else {
            throw .io(path: name, operation: "read", reason: "\(length) bytes is too large for a JSON document (limit \(limit))")
        }
        let bytes = try file.readBytes(at: start, count: Int(length))
        guard bytes.count == Int(length) else {
            throw .truncatedArchive(path: file.path, member: name, declared: length, available: Int64(bytes.count))
        }
        return bytes
    }
}

/// Where the files of an OCI layout live: a directory, or a tar archive of one.
protocol LayoutFiles: Sendable {
    /// The directory or archive path, for messages.
    var path: String { get }
    /// The region of a file given by its path relative to the layout root; nil when absent.
    func region(_ relativePath: String) throws(SourceError) -> FileRegion?
}

extension LayoutFiles {
    func blobPath(_ digest: Digest) -> String { "blobs/\(digest.algorithm.rawValue)/\(digest.hex)" }
}

/// A layout directory on disk.
struct DirectoryBlobStore: LayoutFiles {
    let path: String

    init(root: String) throws(SourceError) {
        switch pathKind(root) {
        case .missing: throw .notFound(path: root)
        case .directory: break
        case .file: throw .notALayout(path: root, reason: "it is a file, not a directory (use oci-archive: for a tar of a layout)")
        case .other: throw .notALayout(path: root, reason: "it is not a directory")
        }
        self.path = root
    }

    func region(_ relativePath: String) throws(SourceError) -> FileRegion? {
        let full = path.hasSuffix("/") ? path + relativePath : path + "/" + relativePath
        guard pathKind(full) == .file else { return nil }
        let file = try ReadOnlyFile(path: full)
        return FileRegion(file: file, start: 0, length: file.size, name: full)
    }
}

/// A layout inside a tar archive (`oci-archive:`), read in place.
struct TarBlobStore: LayoutFiles {
    let archive: TarArchive
    var path: String { archive.path }

    func region(_ relativePath: String) throws(SourceError) -> FileRegion? {
        archive.region(relativePath)
    }
}
