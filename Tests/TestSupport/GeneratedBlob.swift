import OCI

/// A large pseudo-random blob that is never held in memory: byte `i` is computed from `seed` and
/// `i`, so a stream can start at any offset. For tests that push big layers.
public struct GeneratedBlob: Sendable {
    public let size: Int64
    public let seed: UInt64
    public let descriptor: Descriptor

    public init(size: Int64, seed: UInt64 = UInt64.random(in: 0...UInt64.max), mediaType: String = MediaType.ociLayerGzip) {
        self.size = size
        self.seed = seed
        var hasher = DigestHasher()
        let stream = Stream(size: size, seed: seed, offset: 0)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { stream.fill($0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        descriptor = Descriptor(mediaType: mediaType, digest: hasher.finalize(), size: size)
    }

    public var digest: Digest { descriptor.digest }

    public func payload() -> BlobPayload {
        let size = size, seed = seed
        return BlobPayload(descriptor: descriptor) { offset in Stream(size: size, seed: seed, offset: offset) }
    }

    final class Stream: BlobStream {
        let size: Int64
        let seed: UInt64
        var position: Int64

        init(size: Int64, seed: UInt64, offset: Int64) {
            self.size = size
            self.seed = seed
            self.position = min(offset, size)
        }

        /// SplitMix64 of the word index: any word can be computed directly.
        static func word(_ seed: UInt64, _ index: UInt64) -> UInt64 {
            var z = seed &+ index &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
            let n = Int(min(Int64(buffer.count), size - position))
            for i in 0..<n {
                let p = UInt64(position) + UInt64(i)
                buffer[i] = UInt8(truncatingIfNeeded: Self.word(seed, p >> 3) >> ((p & 7) * 8))
            }
            position += Int64(n)
            return n
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { fill(buffer) }
    }
}
