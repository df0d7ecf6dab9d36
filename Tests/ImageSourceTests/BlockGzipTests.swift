import CZlib
import Foundation
import Testing
import OCI
@testable import ImageSource

/// The block-parallel gzip of docker-archive layers: same bytes for any thread count, a valid
/// gzip member that zlib and the gzip CLI read back to the input, and the diffID check.
@Suite struct BlockGzipTests {
    /// Deterministic content with every kind of block: text (deflated), noise (stored), zeros
    /// (deflated to almost nothing), and mixes straddling block boundaries.
    static func mixedContent(size: Int, seed: UInt64 = 42) -> [UInt8] {
        var state = seed
        func nextRandom() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        let words = ["layer", "registry", "manifest", "blob", "digest", "tar", "usr/lib/", "etc/", "\n", " ", "0644 root root "]
        var out: [UInt8] = []
        out.reserveCapacity(size)
        while out.count < size {
            let stretch = min(size - out.count, 20_000 + Int(nextRandom() % 200_000))
            let end = out.count + stretch
            switch nextRandom() % 3 {
            case 0: while out.count < end { out += Array(words[Int(nextRandom() % UInt64(words.count))].utf8) }
            case 1: while out.count < end { out.append(UInt8(truncatingIfNeeded: nextRandom())) }
            default: out += [UInt8](repeating: 0, count: stretch)
            }
        }
        return Array(out.prefix(size))
    }

    func compress(_ bytes: [UInt8], level: Int32 = 6, threads: Int, blockSize: Int, in tmp: TempDir) throws -> ([UInt8], BlockGzip.Result) {
        let path = tmp.sub("input-\(bytes.count)")
        if !FileManager.default.fileExists(atPath: path) { try write(bytes, to: path) }
        let file = try ReadOnlyFile(path: path)
        var out: [UInt8] = []
        let result = try BlockGzip.compress(
            FileRegion(file: file, start: 0, length: file.size, name: path), level: level,
            threads: threads, blockSize: blockSize,
            failure: { SourceError.compression(source: "test", layer: path, reason: $0) },
            sink: { out += $0 })
        return (out, result)
    }

    /// Inflates with zlib's own gzip reader (windowBits 15 + 16), which checks the CRC and size.
    func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        #expect(inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var input = bytes
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            repeat {
                buffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    out += outBuf[0..<(outBuf.count - Int(stream.avail_out))]
                }
            } while status == Z_OK
        }
        #expect(status == Z_STREAM_END)
        #expect(stream.avail_in == 0, "bytes after the gzip member")
        return out
    }

    @Test(arguments: [(600_000 + 1234, 64 << 10), (2_500_000, BlockGzip.defaultBlockSize), (3 << 20, BlockGzip.defaultBlockSize)])
    func sameBytesForAnyThreadCountAndGunzipsToTheInput(size: Int, blockSize: Int) throws {
        let tmp = try TempDir()
        let input = Self.mixedContent(size: size)
        let (one, oneResult) = try compress(input, threads: 1, blockSize: blockSize, in: tmp)
        for threads in [2, 4] {
            let (many, manyResult) = try compress(input, threads: threads, blockSize: blockSize, in: tmp)
            #expect(many == one, "\(threads) threads")
            #expect(manyResult == oneResult)
        }
        #expect(oneResult.diffID == sha256(input))
        #expect(oneResult.digest == sha256(one))
        #expect(oneResult.size == Int64(one.count))
        #expect(Array(one.prefix(10)) == BlockGzip.header)
        #expect(try gunzip(one) == input)

        // The gzip CLI agrees: the member tests sound and decompresses to the input.
        let gz = tmp.sub("layer.gz")
        try write(one, to: gz)
        try mustRun("gzip", ["-t", gz])
        #expect(try mustRun("gunzip", ["-c", gz]).stdout == input)
    }

    @Test func noiseIsStoredAndTextIsDeflated() throws {
        let tmp = try TempDir()
        var state: UInt64 = 7
        let noise = (0..<(1 << 20)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let (stored, _) = try compress(noise, threads: 2, blockSize: 256 << 10, in: tmp)
        // Stored blocks cost 5 bytes per 65,535 (five per 256 KiB block); header and trailer 18.
        #expect(stored.count == noise.count + 5 * 5 * 4 + 18)
        #expect(try gunzip(stored) == noise)

        let text = Array(String(repeating: "usr/lib/x86_64-linux-gnu/libz.so.1 0644 root root\n", count: 20_000).utf8)
        let (deflated, _) = try compress(text, threads: 2, blockSize: 256 << 10, in: tmp)
        #expect(deflated.count < text.count / 20)
        #expect(try gunzip(deflated) == text)
    }

    @Test func emptyAndTinyInputs() throws {
        let tmp = try TempDir()
        for input in [[], [UInt8](repeating: 7, count: 1), Array("hello\n".utf8)] {
            let (out, result) = try compress(input, threads: 3, blockSize: 64 << 10, in: tmp)
            #expect(try gunzip(out) == input)
            #expect(result.diffID == sha256(input))
            let gz = tmp.sub("tiny.gz")
            try write(out, to: gz)
            #expect(try mustRun("gunzip", ["-c", gz]).stdout == input)
        }
    }

    @Test func levelAndFormatNameTheCacheEntries() {
        var options = SourceOptions(cacheDirectory: "/nonexistent")
        let first = options.settingsKey
        options.gzipLevel = 9
        #expect(options.settingsKey != first)
        // Never the single-stream key an older pushctl recorded.
        #expect(!["gzip-1", "gzip-6", "gzip-9"].contains(first))
    }
}

extension DockerArchiveMadeTests {
    /// A multi-block uncompressed layer: any parallelism gives the same graph, the pushed bytes
    /// gunzip to the layer, and a layer that does not hash to its diffID is refused.
    @Test func multiBlockLayerIsDeterministicAndChecked() throws {
        let tmp = try TempDir()
        let layer = BlockGzipTests.mixedContent(size: 3 * BlockGzip.defaultBlockSize + 777, seed: 9)
        let config = Array("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(sha256(layer))\"]}}".utf8)
        let file = try makeArchive(
            [
                "manifest.json": Array(#"[{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]"#.utf8),
                "c.json": config, "l/layer.tar": layer
            ], in: tmp)
        var graphs: [ImageGraph] = []
        for parallelism in [1, 2, 4] {
            let options = SourceOptions(cacheDirectory: tmp.sub("cache-\(parallelism)"), parallelism: parallelism)
            let (source, graph) = try load(.dockerArchive(path: file, ref: nil), options: options)
            let compressed = try readAll(source.payload(for: graph.blobs[1]))
            #expect(sha256(compressed) == graph.blobs[1].digest)
            #expect(try BlockGzipTests().gunzip(compressed) == layer)
            #expect(graph.diffIDs[graph.blobs[1].digest] == sha256(layer))
            graphs.append(graph)
        }
        #expect(graphs.allSatisfy { $0.root == graphs[0].root && $0.blobs == graphs[0].blobs })

        let tmp2 = try TempDir()
        let (bad, claimed) = try archiveClaimingAnotherDiffID(for: layer, in: tmp2)
        let error = sourceError { _ = try load(.dockerArchive(path: bad, ref: nil), cache: tmp2.sub("cache")) }
        #expect(
            error == .diffIDMismatch(source: "docker-archive:\(bad)", layer: "\(bad):l/layer.tar", expected: claimed, actual: sha256(layer))
        )
        #expect((try? FileManager.default.contentsOfDirectory(atPath: tmp2.sub("cache/layers")).filter { $0.hasSuffix(".gz") }) ?? [] == [])
    }
}

extension DockerArchiveMadeTests {
    /// A layer this source compressed is uploaded without hashing it a second time (its digest was
    /// computed as it was written), but its size is still checked: a cache file cut short under
    /// the running source is compressed again before its upload reads it.
    @Test func aLayerCompressedHereAndCutShortIsCompressedAgain() throws {
        let tmp = try TempDir()
        let file = testImages.imageOneArchive
        let (source, graph) = try load(.dockerArchive(path: file, ref: nil), cache: tmp.path)
        let layer = try #require(graph.blobs.last)
        #expect(sha256(try readAll(source.payload(for: layer))) == layer.digest)
        func contents(_ name: String) -> [UInt8]? {
            (try? Data(contentsOf: URL(fileURLWithPath: tmp.sub("layers/\(name)")))).map { Array($0) }
        }
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: tmp.sub("layers")).first { name in
                name.hasSuffix(".gz") && contents(name).map(sha256) == layer.digest
            })
        let bytes = try #require(contents(name))
        try write(Array(bytes.dropLast(10)), to: tmp.sub("layers/\(name)"))
        let read = try readAll(source.payload(for: layer))
        #expect(read.count == Int(layer.size) && sha256(read) == layer.digest)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: tmp.sub("layers/\(name)")))) == bytes)
    }

    /// Cache entries are not fsynced: one whose bytes are wrong (a torn write after a crash) fails
    /// its upload's digest check once, is dropped, and the next open compresses the layer again.
    @Test func corruptCacheEntryIsDroppedAndRecompressed() throws {
        let tmp = try TempDir()
        let file = testImages.imageOneArchive
        let (_, graph) = try load(.dockerArchive(path: file, ref: nil), cache: tmp.path)
        let layer = try #require(graph.blobs.last)
        let entries = try FileManager.default.contentsOfDirectory(atPath: tmp.sub("layers")).filter { $0.hasSuffix(".gz") }
        var damaged: Digest?
        for name in entries {
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: tmp.sub("layers/\(name)"))))
            guard sha256(bytes) == layer.digest else { continue }
            bytes[bytes.count / 2] ^= 0xff
            try write(bytes, to: tmp.sub("layers/\(name)"))
            damaged = sha256(bytes)
        }
        let actual = try #require(damaged)

        let (source, again) = try load(.dockerArchive(path: file, ref: nil), cache: tmp.path)
        #expect(again.blobs.last == layer)  // the metadata still says so
        #expect(
            sourceError { _ = try readAll(source.payload(for: layer)) }
                == .blobDigestMismatch(source: "docker-archive:\(file)", expected: layer.digest, actual: actual))
        #expect(try readAll(source.payload(for: layer)).count == Int(layer.size))
        #expect(sha256(try readAll(source.payload(for: layer))) == layer.digest)
    }
}

/// The bytes pushctl makes of a layer never change between its versions: a layer compressed again
/// (another machine, an emptied cache, an upgrade) must keep the digest its manifests name.
@Suite struct BlockGzipStableBytesTests {
    /// 1 MiB blocks from random to compressible: in block `k` of the first 24, the first `k`
    /// bytes of every 64 are a fixed pattern, so the samples' saving crosses the 2 % line somewhere
    /// in between. In the 40 after them only the block's first 16 KiB (its first sample) has the
    /// pattern, `k - 24` bytes of 64: a first sample that saves something, others that save
    /// nothing, the case where stopping after one sample would be wrong.
    static func graded(blocks: Int = 24, firstSampleOnly: Int = 40) -> [UInt8] {
        var state: UInt64 = 2026
        var out = [UInt8](repeating: 0, count: (blocks + firstSampleOnly) << 20)
        for k in 0..<(blocks + firstSampleOnly) {
            let patterned = k < blocks ? 1 << 20 : 16 << 10
            let width = k < blocks ? k : k - blocks
            for i in 0..<(1 << 20) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                out[(k << 20) + i] =
                    i < patterned && i % 64 < width ? UInt8(ascii: "a") + UInt8(i % 64) : UInt8(truncatingIfNeeded: state >> 33)
            }
        }
        return out
    }

    @Test func theDigestsOfEarlierVersionsAreKept() throws {
        let tmp = try TempDir()
        let path = tmp.sub("graded")
        try write(Self.graded(), to: path)
        let file = try ReadOnlyFile(path: path)
        var written = 0
        let result = try BlockGzip.compress(
            FileRegion(file: file, start: 0, length: file.size, name: path), level: 1, threads: 2,
            failure: { SourceError.compression(source: "test", layer: path, reason: $0) },
            sink: { written += $0.count })
        // What pushctl made of it before its sampling stopped early and its CRC was folded
        // (main at 8d3a132, zlib 1.2.13).
        #expect(result.digest.string == "sha256:bd8e0093eaab8b618b90f10b7d8945ef772373285fdeb33b388b89413ca8bdcd")
        #expect(result.size == 63_227_994)
        #expect(written == 63_227_994)
    }
}
