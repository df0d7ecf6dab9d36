import Foundation
import OCI
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Compressed docker-archive layers on disk, keyed by diffID and compression settings, so that
/// loading the same archive again (or another archive sharing layers) compresses nothing.
///
/// Layout: `CACHE/layers/<settings key>-<diffID algorithm>-<diffID hex>.gz` holds the compressed bytes and
/// `….json` its digest and size. Both are written to a temporary file and renamed into place,
/// the data before the metadata, so a reader never sees a partial entry; two processes
/// compressing the same layer at once both produce a whole file and the last rename wins.
/// Entries are not fsynced (see `compress`); the bytes of an entry an earlier process wrote are
/// hashed on every upload (one this process wrote was hashed as it was written).
struct LayerCache: Sendable {
    let directory: String
    let level: Int32
    /// `SourceOptions.settingsKey`: names the bytes a level and format produce, so entries made by
    /// other settings (or an older pushctl's single-stream gzip) are never taken for these.
    let settingsKey: String
    /// Threads compressing one layer's blocks.
    let threads: Int

    struct Entry: Codable, Sendable, Equatable {
        var digest: Digest
        var size: Int64
        var diffID: Digest
    }

    init(directory: String, level: Int32, settingsKey: String, threads: Int) {
        self.directory = (directory as NSString).appendingPathComponent("layers")
        self.level = level
        self.settingsKey = settingsKey
        self.threads = threads
    }

    private func base(_ diffID: Digest) -> String {
        (directory as NSString).appendingPathComponent("\(settingsKey)-\(diffID.algorithm.rawValue)-\(diffID.hex)")
    }

    func dataPath(_ diffID: Digest) -> String { base(diffID) + ".gz" }
    private func metaPath(_ diffID: Digest) -> String { base(diffID) + ".json" }

    /// The cached entry for a diffID, when both files are there and agree on the size.
    func lookup(_ diffID: Digest) -> Entry? {
        guard let data = FileManager.default.contents(atPath: metaPath(diffID)),
            let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.diffID == diffID,
            let attributes = try? FileManager.default.attributesOfItem(atPath: dataPath(diffID)),
            let size = (attributes[.size] as? NSNumber)?.int64Value, size == entry.size
        else { return nil }
        return entry
    }

    /// Compresses `region` (an uncompressed layer tar) into the cache and checks that its content
    /// hashes to `diffID`, on `threads` threads unless told fewer (see `BlockGzip`). Streams: memory
    /// does not grow with the layer.
    func compress(_ region: FileRegion, diffID: Digest, source: String, threads: Int? = nil) throws(SourceError) -> Entry {
        try createDirectory()
        let temp = (directory as NSString).appendingPathComponent(".tmp-\(UUID().uuidString)")
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: temp, operation: "create", reason: systemError(errno)) }
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(temp) }
        }
        let result = try BlockGzip.compress(
            region, level: level, threads: threads ?? self.threads,
            failure: { SourceError.compression(source: source, layer: region.name, reason: $0) },
            sink: { (bytes) throws(SourceError) in try writeAll(fd: fd, bytes, path: temp) })
        guard result.diffID == diffID else {
            throw .diffIDMismatch(source: source, layer: region.name, expected: diffID, actual: result.diffID)
        }
        // No fsync: the entry is derived data, and waiting for the disk cost a cold push about a
        // tenth of a second per 64 MiB. After a crash an entry whose data did not reach the disk
        // shows up shorter (filesystems commit the size with the data), which `lookup` rejects;
        // one with the right size but wrong bytes fails the digest check of every upload, which
        // drops it (`remove`), so the next attempt compresses again.
        guard rename(temp, dataPath(diffID)) == 0 else {
            throw .io(path: dataPath(diffID), operation: "rename", reason: systemError(errno))
        }
        keep = true
        let entry = Entry(digest: result.digest, size: result.size, diffID: diffID)
        try writeMeta(entry)
        return entry
    }

    /// Forgets an entry whose bytes turned out not to be what its metadata says.
    func remove(_ diffID: Digest) {
        unlink(metaPath(diffID))
        unlink(dataPath(diffID))
    }

    private func writeMeta(_ entry: Entry) throws(SourceError) {
        let final = metaPath(entry.diffID)
        let temp = final + ".tmp-\(UUID().uuidString)"
        do {
            let data = try JSONEncoder().encode(entry)
            try data.write(to: URL(fileURLWithPath: temp))
        } catch {
            unlink(temp)
            throw .io(path: temp, operation: "write", reason: String(describing: error))
        }
        guard rename(temp, final) == 0 else {
            let code = errno
            unlink(temp)
            throw .io(path: final, operation: "rename", reason: systemError(code))
        }
    }

    private func createDirectory() throws(SourceError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, operation: "create cache directory", reason: String(describing: error))
        }
    }
}

private func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SourceError) {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw .io(path: path, operation: "write", reason: systemError(errno))
        }
        done += n
    }
}
