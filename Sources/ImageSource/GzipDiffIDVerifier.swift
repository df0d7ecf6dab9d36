import CZlib
import OCI

/// Hashes a gzip layer's compressed bytes and, by inflating them, its uncompressed content (the
/// diffID), in one pass with fixed buffers. Used for gzip layers that docker archives carry as
/// they are: their diffID → digest pair is recorded by the executor and reused for other images,
/// so it must be true, not just what the config claims.
/// Concatenated gzip members (as some writers produce) are followed to the end.
func hashGzipLayer(_ region: FileRegion, source: String) throws(SourceError) -> (digest: Digest, diffID: Digest) {
    let failure = { (reason: String) in SourceError.compression(source: source, layer: region.name, reason: reason) }
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    // 15 + 32: zlib or gzip header, detected automatically.
    guard inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        stream.deallocate()
        throw failure("inflateInit2 failed")
    }
    defer { inflateEnd(stream); stream.deallocate() }

    let chunk = 1 << 20
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { input.deallocate(); output.deallocate() }
    var compressed = DigestHasher()
    var plain = DigestHasher()
    var position: Int64 = 0
    var ended = false
    while position < region.length {
        let want = Int(min(Int64(chunk), region.length - position))
        let n = try region.file.read(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<want]), at: region.start + position)
        guard n > 0 else {
            throw .truncatedArchive(path: region.file.path, member: region.name, declared: region.length, available: position)
        }
        position += Int64(n)
        compressed.update(UnsafeRawBufferPointer(rebasing: input[0..<n]))
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(n)
        while stream.pointee.avail_in > 0 {
            if ended {
                // Another gzip member follows the one that ended.
                guard inflateReset(stream) == Z_OK else { throw failure("inflateReset failed") }
                ended = false
            }
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(chunk)
            let status = inflate(stream, Z_NO_FLUSH)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw failure("not a valid gzip stream (inflate: \(status))")
            }
            let produced = chunk - Int(stream.pointee.avail_out)
            if produced > 0 { plain.update(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            if status == Z_STREAM_END { ended = true }
            if status == Z_BUF_ERROR && produced == 0 { break }
        }
    }
    // Drain what inflate still holds.
    while !ended {
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(chunk)
        let status = inflate(stream, Z_FINISH)
        let produced = chunk - Int(stream.pointee.avail_out)
        if produced > 0 { plain.update(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
        if status == Z_STREAM_END { ended = true; break }
        if produced == 0 { throw failure("the gzip stream is truncated") }
    }
    return (compressed.finalize(), plain.finalize())
}
