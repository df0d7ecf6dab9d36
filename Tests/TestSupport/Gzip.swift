/// gzip (RFC 1952) with *stored* deflate blocks: valid gzip that every reader accepts, whose bytes
/// depend on nothing but the input (no compressor version, level or timestamp), so the digests of
/// the layers made with it are the same on every machine.
public enum StoredGzip {
    public static func compress(_ data: [UInt8]) -> [UInt8] {
        // Magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
        var out: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]
        var offset = 0
        repeat {
            let length = min(65535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 0x01 : 0x00)  // BFINAL, BTYPE 00 (stored)
            out += littleEndian(UInt32(length), bytes: 2)
            out += littleEndian(UInt32(~UInt16(length)), bytes: 2)
            out += data[offset..<offset + length]
            offset += length
        } while offset < data.count
        out += littleEndian(crc32(data), bytes: 4)
        out += littleEndian(UInt32(truncatingIfNeeded: data.count), bytes: 4)
        return out
    }

    static func littleEndian(_ value: UInt32, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// CRC-32 (IEEE 802.3, reflected), bit by bit: the inputs are a few kilobytes.
    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }
}
