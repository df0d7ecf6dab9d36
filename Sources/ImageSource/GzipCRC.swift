import CChecksum
import CZlib

/// gzip's CRC-32 (RFC 1952) of a compressed layer's input, the value zlib's `crc32` gives.
///
/// On a CPU with carry-less multiplies (every x86-64 since 2010) blocks of 64 bytes and more are
/// folded in C (`CChecksum`), three times as fast as zlib 1.2.13's table CRC here (256 MiB in
/// 21 ms against 70); anything else goes to zlib (docs/performance.md "Docker-archive: where the
/// CPU goes").
enum GzipCRC {
    static let folds = pushctl_crc32_folded_available() != 0

    /// The CRC of `bytes` on its own (zlib's `crc32(0, bytes, count)`).
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return UInt32(crc32(0, nil, 0)) }
        if folds && bytes.count >= 64 {
            return pushctl_crc32_folded(0, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        return UInt32(crc32(0, base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}
