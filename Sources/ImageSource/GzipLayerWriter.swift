import CZlib
import Foundation
import Threading
import OCI

/// Compresses a layer to one gzip member, deterministically and on several threads, pigz-style.
///
/// The input is cut into blocks of `blockSize` bytes. Each block is deflated on its own, primed
/// with the previous block's last 32 KiB as a preset dictionary (so the ratio stays that of one
/// long stream) and ended with a sync flush (so it ends on a byte boundary); the last block ends
/// the deflate stream. Concatenated, the blocks are one ordinary raw deflate stream, framed by a
/// fixed gzip header (no file name, no timestamp, OS "unknown") and the CRC-32/size trailer.
/// A block's bytes depend only on its own input, its dictionary and the level, never on which
/// thread made it or when, so the digest is the same for any thread count.
///
/// Blocks that would not shrink are written as stored blocks, without running the compressor on
/// them: random or already-compressed content (media, archives, compressed binaries) costs zlib
/// about as much CPU as text does (≈ 35 MiB/s at any level on this project's machines) and gains
/// nothing. Whether a block "would not shrink" is judged from four 16 KiB samples of it,
/// compressed at level 1: together they must shrink by 2 % or more for the block to be deflated.
/// The judgement reads only the block's own bytes, so it is as deterministic as the rest.
///
/// The CRC is computed per block by the workers and combined with `crc32_combine`; the input's
/// and the output's SHA-256 (diffID and digest) are computed by the calling thread, in order.
/// Memory: at most `2 × threads` blocks (input and output buffers) are in flight.
enum BlockGzip {
    /// 1 MiB: big enough that a dictionary-primed block loses no measurable ratio and per-block
    /// costs (thread hand-off, sync marker, sampling) stay small; small enough to keep memory flat.
    static let defaultBlockSize = 1 << 20
    static let dictionarySize = 32 << 10
    static let sampleSize = 16 << 10
    static let sampleCount = 4

    /// RFC 1952 header: magic, CM=deflate, FLG=0, MTIME=0, XFL=0, OS=255 (unknown).
    static let header: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]

    struct Result: Equatable {
        var diffID: Digest
        var digest: Digest
        var size: Int64
    }

    /// Compresses `region`, handing the gzip bytes in order to `sink` on the calling thread.
    static func compress(
        _ region: FileRegion, level: Int32, threads: Int, blockSize: Int = defaultBlockSize,
        failure: (String) -> SourceError,
        sink: (UnsafeRawBufferPointer) throws(SourceError) -> Void
    ) throws(SourceError) -> Result {
        precondition(blockSize >= sampleSize * sampleCount)
        var outputHasher = DigestHasher()
        var inputHasher = DigestHasher()
        func emit(_ bytes: UnsafeRawBufferPointer) throws(SourceError) {
            outputHasher.update(bytes)
            try sink(bytes)
        }
        func emit(_ bytes: [UInt8]) throws(SourceError) {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            defer { buffer.deallocate() }
            buffer.copyBytes(from: bytes)
            try emit(UnsafeRawBufferPointer(buffer))
        }
        try emit(header)

        let blockCount = max(1, Int((region.length + Int64(blockSize) - 1) / Int64(blockSize)))
        let pool = threads > 1 ? WorkerPool(threads: threads, level: level) : nil
        let inline = threads > 1 ? nil : try BlockCompressor(level: level, failure: failure)
        var spare: [Block] = []
        var inFlight: [Block] = []
        defer {
            pool?.shutDown()  // waits for the workers, which may still hold blocks, before freeing them
            for block in spare + inFlight { block.deallocate() }
        }

        // The previous block's last bytes, copied in front of the next block as its dictionary.
        let tail = UnsafeMutableRawBufferPointer.allocate(byteCount: dictionarySize, alignment: 16)
        defer { tail.deallocate() }
        var tailLength = 0
        var crc = crc32(0, nil, 0)
        var position: Int64 = 0
        var next = 0
        let window = max(1, 2 * threads)
        while true {
            while next < blockCount && inFlight.count < window {
                let block = spare.popLast() ?? Block(blockSize: blockSize)
                block.dictionaryLength = tailLength
                if tailLength > 0 {
                    block.input.baseAddress!.copyMemory(from: tail.baseAddress!, byteCount: tailLength)
                }
                let length = Int(min(Int64(blockSize), region.length - position))
                var filled = 0
                while filled < length {
                    let target = UnsafeMutableRawBufferPointer(rebasing: block.input[(tailLength + filled)..<(tailLength + length)])
                    let n = try region.file.read(into: target, at: region.start + position + Int64(filled))
                    guard n > 0 else {
                        throw .truncatedArchive(
                            path: region.file.path, member: region.name, declared: region.length,
                            available: position + Int64(filled))
                    }
                    filled += n
                }
                block.length = length
                block.isLast = next == blockCount - 1
                inputHasher.update(block.data)
                // The next dictionary: the last 32 KiB of dictionary + data, as the inflater's window will hold.
                let all = UnsafeRawBufferPointer(rebasing: block.input[0..<(tailLength + length)])
                tailLength = min(dictionarySize, all.count)
                tail.baseAddress!.copyMemory(from: all.baseAddress! + (all.count - tailLength), byteCount: tailLength)
                position += Int64(length)
                next += 1
                block.failure = nil
                if let pool { pool.submit(block) } else { inline!.compress(block) }
                inFlight.append(block)
            }
            guard !inFlight.isEmpty else { break }
            let block = inFlight.removeFirst()
            pool?.wait(for: block)
            if let reason = block.failure { spare.append(block); throw failure(reason) }
            crc = crc32_combine(crc, block.crc, .init(block.length))
            try emit(UnsafeRawBufferPointer(rebasing: block.output[0..<block.outputLength]))
            spare.append(block)
        }

        var trailer = [UInt8](repeating: 0, count: 8)
        let crcValue = UInt32(truncatingIfNeeded: crc)
        let sizeValue = UInt32(truncatingIfNeeded: UInt64(region.length))
        for i in 0..<4 {
            trailer[i] = UInt8(truncatingIfNeeded: crcValue >> (8 * UInt32(i)))
            trailer[4 + i] = UInt8(truncatingIfNeeded: sizeValue >> (8 * UInt32(i)))
        }
        try emit(trailer)
        return Result(diffID: inputHasher.finalize(), digest: outputHasher.finalize(), size: outputHasher.count)
    }

    /// One block's buffers and result. Owned by the calling thread, lent to one worker at a time
    /// (hand-over under the pool's lock).
    final class Block: @unchecked Sendable {
        /// Dictionary (up to 32 KiB) followed by the block's data.
        let input: UnsafeMutableRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        var dictionaryLength = 0
        var length = 0
        var isLast = false
        var outputLength = 0
        var crc: uLong = 0
        var failure: String?
        var done = false

        init(blockSize: Int) {
            input = .allocate(byteCount: dictionarySize + blockSize, alignment: 16)
            // Room for the worst case either way: stored blocks add 5 bytes per 65,535; deflate's
            // bound is smaller than that, plus a sync marker.
            output = .allocate(byteCount: blockSize + (blockSize / 65_535 + 2) * 5 + 1024, alignment: 16)
        }

        var data: UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: input[dictionaryLength..<(dictionaryLength + length)])
        }

        func deallocate() {
            input.deallocate()
            output.deallocate()
        }
    }

    /// A worker's zlib state: the real compressor and the level-1 sampler, reused across blocks.
    final class BlockCompressor {
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private let sampler = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * sampleSize, alignment: 16)
        private var initialized = 0

        init(level: Int32, failure: (String) -> SourceError) throws(SourceError) {
            stream.initialize(to: z_stream())
            sampler.initialize(to: z_stream())
            // windowBits -15: raw deflate; the gzip framing is written by `compress`.
            var status = deflateInit2_(
                stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
                ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else { throw failure("deflateInit2 failed (\(status))") }
            initialized = 1
            status = deflateInit2_(
                sampler, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
                ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else { throw failure("deflateInit2 failed (\(status))") }
            initialized = 2
        }

        deinit {
            if initialized >= 1 { deflateEnd(stream) }
            if initialized >= 2 { deflateEnd(sampler) }
            stream.deallocate()
            sampler.deallocate()
            scratch.deallocate()
        }

        func compress(_ block: Block) {
            let data = block.data
            block.crc = uLong(GzipCRC.checksum(data))
            if data.count >= 4096 && !worthCompressing(data) {
                store(block)
            } else {
                deflateBlock(block)
            }
        }

        /// Compresses the samples at level 1; they must shrink by at least 2 % together.
        ///
        /// It stops at the first sample after which the answer is yes whatever the others give:
        /// when even each remaining sample at zlib's bound for it (`deflateBound`, more than any
        /// input can take) would leave the total below 98 %. So a compressible block costs one
        /// sample, not four, and the answer, hence every byte written, is the one all four give
        /// (`BlockGzipStableBytesTests`).
        private func worthCompressing(_ data: UnsafeRawBufferPointer) -> Bool {
            let size = min(sampleSize, data.count)
            let samples = data.count <= size ? 1 : sampleCount
            let taken = size * samples
            let most = Int(deflateBound(sampler, uLong(size)))
            var produced = 0
            for i in 0..<samples {
                let start = samples == 1 ? 0 : (data.count - size) * i / (sampleCount - 1)
                deflateReset(sampler)
                sampler.pointee.next_in = UnsafeMutablePointer(mutating: (data.baseAddress! + start).assumingMemoryBound(to: Bytef.self))
                sampler.pointee.avail_in = uInt(size)
                sampler.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
                sampler.pointee.avail_out = uInt(scratch.count)
                // Z_FINISH with ample room completes; anything else means "do not judge, compress".
                guard deflate(sampler, Z_FINISH) == Z_STREAM_END else { return true }
                produced += scratch.count - Int(sampler.pointee.avail_out)
                let remaining = samples - 1 - i
                if (produced + remaining * most) * 50 < taken * 49 { return true }
            }
            return false
        }

        /// Stored blocks (RFC 1951 §3.2.4): byte-aligned, since every block before ends on a
        /// byte boundary; BFINAL only on the stream's very last one.
        private func store(_ block: Block) {
            let data = block.data
            var out = block.output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var offset = 0
            while offset < data.count {
                let n = min(65_535, data.count - offset)
                let final = block.isLast && offset + n == data.count
                out[0] = final ? 1 : 0
                out[1] = UInt8(truncatingIfNeeded: n)
                out[2] = UInt8(truncatingIfNeeded: n >> 8)
                out[3] = ~out[1]
                out[4] = ~out[2]
                UnsafeMutableRawPointer(out + 5).copyMemory(from: data.baseAddress! + offset, byteCount: n)
                out += 5 + n
                offset += n
            }
            block.outputLength = UnsafeMutableRawPointer(out) - block.output.baseAddress!
        }

        private func deflateBlock(_ block: Block) {
            deflateReset(stream)
            if block.dictionaryLength > 0 {
                let status = deflateSetDictionary(
                    stream, block.input.baseAddress!.assumingMemoryBound(to: Bytef.self),
                    uInt(block.dictionaryLength))
                guard status == Z_OK else { block.failure = "deflateSetDictionary failed (\(status))"; return }
            }
            let data = block.data
            stream.pointee.next_in =
                data.isEmpty ? nil : UnsafeMutablePointer(mutating: data.baseAddress!.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(data.count)
            stream.pointee.next_out = block.output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(block.output.count)
            let status = deflate(stream, block.isLast ? Z_FINISH : Z_SYNC_FLUSH)
            // The output buffer exceeds deflate's bound, so one call consumes and flushes everything.
            let complete =
                block.isLast
                ? status == Z_STREAM_END
                : status == Z_OK && stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0
            guard complete else { block.failure = "deflate failed (\(status))"; return }
            block.outputLength = block.output.count - Int(stream.pointee.avail_out)
        }
    }

    /// `threads` dedicated threads (they block in zlib, so not Swift's cooperative pool) taking
    /// blocks in submission order.
    final class WorkerPool: @unchecked Sendable {
        private let condition = Lock()
        private var queue: [Block] = []
        private var closed = false
        private let finished = DispatchGroup()

        init(threads: Int, level: Int32) {
            for _ in 0..<threads {
                finished.enter()
                let thread = Thread { [self] in
                    defer { finished.leave() }
                    let compressor = try? BlockCompressor(level: level) { SourceError.compression(source: "", layer: "", reason: $0) }
                    while let block = take() {
                        if let compressor { compressor.compress(block) } else { block.failure = "deflateInit2 failed" }
                        condition.lock()
                        block.done = true
                        condition.broadcast()
                        condition.unlock()
                    }
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        }

        private func take() -> Block? {
            condition.lock()
            defer { condition.unlock() }
            while queue.isEmpty && !closed { condition.wait() }
            return closed ? nil : queue.removeFirst()
        }

        func submit(_ block: Block) {
            condition.lock()
            block.done = false
            block.failure = nil
            queue.append(block)
            condition.broadcast()
            condition.unlock()
        }

        func wait(for block: Block) {
            condition.lock()
            while !block.done { condition.wait() }
            condition.unlock()
        }

        /// Drops blocks not yet started and waits until no worker holds one.
        func shutDown() {
            condition.lock()
            closed = true
            queue.removeAll()
            condition.broadcast()
            condition.unlock()
            finished.wait()
        }
    }
}
