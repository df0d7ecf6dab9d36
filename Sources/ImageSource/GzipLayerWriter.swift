import CZlib
import OCI

/// Compresses a layer to gzip, deterministically: raw deflate framed by a fixed gzip header (no
/// file name, no timestamp, OS "unknown") and the CRC-32/size trailer, so the same input and level
/// always give the same bytes and digest, whatever the machine's OS code.
/// Hashes the input (the diffID) and the output (the compressed digest) while it goes.
/// Used by one thread at a time.
final class GzipLayerWriter {
    /// zlib keeps a pointer back to its `z_stream`, so it lives at a fixed address.
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var crc: uLong = crc32(0, nil, 0)
    private var inputCount: UInt64 = 0
    private var inputHasher = DigestHasher()
    private var outputHasher = DigestHasher()
    private let sink: (UnsafeRawBufferPointer) throws(SourceError) -> Void
    private let outBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private let failure: (String) -> SourceError
    private var initialized = false

    /// RFC 1952 header: magic, CM=deflate, FLG=0, MTIME=0, XFL=0, OS=255 (unknown).
    static let header: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]

    init(level: Int32, failure: @escaping (String) -> SourceError,
         sink: @escaping (UnsafeRawBufferPointer) throws(SourceError) -> Void) throws(SourceError) {
        self.sink = sink
        self.failure = failure
        stream.initialize(to: z_stream())
        // windowBits -15: raw deflate; the gzip framing is written here, deterministically.
        let status = deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw failure("deflateInit2 failed (\(status))") }
        initialized = true
        try emit(Self.header)
    }

    deinit {
        if initialized { deflateEnd(stream) }
        stream.deallocate()
        outBuffer.deallocate()
    }

    private func emit(_ bytes: [UInt8]) throws(SourceError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        try emit(UnsafeRawBufferPointer(buffer))
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws(SourceError) {
        outputHasher.update(bytes)
        try sink(bytes)
    }

    func write(_ input: UnsafeRawBufferPointer) throws(SourceError) {
        guard input.count > 0 else { return }
        inputHasher.update(input)
        crc = crc32(crc, input.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(input.count))
        inputCount &+= UInt64(input.count)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        try pump(flush: Z_NO_FLUSH)
    }

    /// Finishes the stream; returns the input's digest (diffID) and the output's digest and size.
    func finish() throws(SourceError) -> (diffID: Digest, digest: Digest, size: Int64) {
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try pump(flush: Z_FINISH)
        var trailer = [UInt8](repeating: 0, count: 8)
        let crcValue = UInt32(truncatingIfNeeded: crc)
        let sizeValue = UInt32(truncatingIfNeeded: inputCount)
        for i in 0..<4 {
            trailer[i] = UInt8(truncatingIfNeeded: crcValue >> (8 * UInt32(i)))
            trailer[4 + i] = UInt8(truncatingIfNeeded: sizeValue >> (8 * UInt32(i)))
        }
        try emit(trailer)
        return (inputHasher.finalize(), outputHasher.finalize(), outputHasher.count)
    }

    private func pump(flush: Int32) throws(SourceError) {
        while true {
            stream.pointee.next_out = outBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(outBuffer.count)
            let status = deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw failure("deflate failed (\(status))")
            }
            let produced = outBuffer.count - Int(stream.pointee.avail_out)
            if produced > 0 {
                try emit(UnsafeRawBufferPointer(rebasing: outBuffer[0..<produced]))
            }
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 {
                return
            }
        }
    }
}
