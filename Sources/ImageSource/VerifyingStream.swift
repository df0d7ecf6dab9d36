import OCI

/// Streams a file region and checks that exactly `expected.size` bytes hashing to
/// `expected.digest` came out: the digest as soon as the last expected byte is read, the size at
/// the end. It never reads more than `size + 1` bytes, so an overlong file fails
/// early instead of streaming to its end.
///
/// Opened at an offset (a resumed upload), it first reads and hashes the skipped prefix without
/// returning it, so a resumed upload is verified as well as a whole one; the price is re-reading
/// the prefix from local disk.
final class VerifyingFileStream: BlobStream {
    private let region: FileRegion
    private let expectedDigest: Digest
    private let expectedSize: Int64
    private let source: String
    private var hasher: DigestHasher
    /// False for bytes this process wrote and hashed moments ago (`LayerCache` entries it
    /// compressed): their size is still checked, their digest not a second time.
    private let hashes: Bool
    private var position: Int64 = 0
    private var finished = false

    init(region: FileRegion, expected: Descriptor, source: String, offset: Int64, hashes: Bool = true) throws(SourceError) {
        self.hashes = hashes
        self.region = region
        self.expectedDigest = expected.digest
        self.expectedSize = expected.size
        self.source = source
        self.hasher = DigestHasher(algorithm: expected.digest.algorithm)
        guard offset >= 0, offset <= expected.size else {
            throw .io(
                path: region.name, operation: "open at offset \(offset)",
                reason: "offset outside the blob's \(expected.size) bytes")
        }
        if offset > 0 { try skip(offset) }
    }

    private func skip(_ count: Int64) throws(SourceError) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = count
        while remaining > 0 {
            let want = Int(min(Int64(chunk), remaining))
            let n = try readHashed(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard n > 0 else {
                throw SourceError.blobSizeMismatch(source: source, digest: expectedDigest, expected: expectedSize, actual: position)
            }
            remaining -= Int64(n)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try readHashed(into: buffer)
    }

    private func readHashed(into buffer: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        if finished { return 0 }
        // Allow one byte past the expected size, to notice files that are too long.
        let limit = min(region.length, expectedSize + 1)
        let want = Int(min(Int64(buffer.count), limit - position))
        let n =
            want > 0
            ? try region.file.read(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]),
                at: region.start + position) : 0
        if n > 0 {
            if hashes { hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            position += Int64(n)
            if position > expectedSize {
                throw SourceError.blobSizeMismatch(
                    source: source, digest: expectedDigest, expected: expectedSize,
                    actual: max(region.length, position))
            }
            if position == expectedSize, hashes {
                // The last expected byte: verify now, not at the end of the stream. A consumer
                // that stops after `size` bytes (curl sends exactly Content-Length) never asks for
                // the end, and a corrupt blob would reach the registry unnoticed by pushctl.
                let actual = hasher.finalize()
                if actual != expectedDigest {
                    throw SourceError.blobDigestMismatch(source: source, expected: expectedDigest, actual: actual)
                }
            }
            return n
        }
        // End of the region: verify.
        finished = true
        if position != expectedSize {
            throw SourceError.blobSizeMismatch(source: source, digest: expectedDigest, expected: expectedSize, actual: position)
        }
        let actual = hashes ? hasher.finalize() : expectedDigest
        if actual != expectedDigest {
            throw SourceError.blobDigestMismatch(source: source, expected: expectedDigest, actual: actual)
        }
        return 0
    }
}
