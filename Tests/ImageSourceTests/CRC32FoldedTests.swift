import CChecksum
import CZlib
import Testing

@testable import ImageSource

/// The folded CRC-32 (`CChecksum`) gives zlib's value for every length, alignment and starting CRC.
@Suite struct CRC32FoldedTests {
    /// Random bytes, the same for every run of a test (a failure can be reproduced).
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    static func zlibCRC(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(crc32(uLong(start), bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }

    @Test func theFoldedPathIsTakenOnX86() {
        #if arch(x86_64)
            #expect(GzipCRC.folds)
        #endif
    }

    @Test func everyLengthUpTo600AtEveryAlignmentIsZlibsValue() {
        let data = Self.bytes(600 + 16, seed: 1)
        data.withUnsafeBytes { all in
            for offset in 0..<16 {
                for length in 0...600 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    let expected = Self.zlibCRC(0, slice)
                    let got = GzipCRC.checksum(slice)
                    if got != expected {
                        Issue.record("offset \(offset), length \(length): \(got) != zlib's \(expected)")
                        return
                    }
                }
            }
        }
    }

    @Test(arguments: [64, 65, 127, 1 << 20, (1 << 20) + 13, 3 * (1 << 20) - 1])
    func largeBlocksAndAStartingCRCAreZlibsValue(length: Int) throws {
        try #require(GzipCRC.folds, "no carry-less multiply on this CPU")
        let data = Self.bytes(length, seed: UInt64(length))
        data.withUnsafeBytes { bytes in
            #expect(GzipCRC.checksum(bytes) == Self.zlibCRC(0, bytes))
            // Continued from another CRC, as zlib's `crc32(crc, …)` is.
            let start: UInt32 = 0xdead_beef
            let folded = pushctl_crc32_folded(start, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
            #expect(folded == Self.zlibCRC(start, bytes))
        }
    }

    @Test func knownValues() {
        // The CRC-32 check value (RFC 1952's polynomial) and a block of zeros and of 0xff.
        #expect(Array("123456789".utf8).withUnsafeBytes { GzipCRC.checksum($0) } == 0xcbf4_3926)
        let zeros = [UInt8](repeating: 0, count: 4096)
        #expect(zeros.withUnsafeBytes { GzipCRC.checksum($0) } == zeros.withUnsafeBytes { Self.zlibCRC(0, $0) })
        let ones = [UInt8](repeating: 0xff, count: 4096)
        #expect(ones.withUnsafeBytes { GzipCRC.checksum($0) } == ones.withUnsafeBytes { Self.zlibCRC(0, $0) })
        #expect(GzipCRC.checksum(UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
    }
}
