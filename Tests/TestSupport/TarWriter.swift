/// Writes ustar archives byte for byte the same on every machine: owner root, modification time
/// 0, no user or group names. Tests need tars no tool writes on request (symlinks and hard links
/// in a `docker save`, whiteout files, layers of a known digest), so this writer, and not tar(1),
/// makes them.
public struct TarWriter {
    private var output: [UInt8] = []

    public init() {}

    public enum EntryType: UInt8 {
        case file = 0x30, hardLink = 0x31, symbolicLink = 0x32, directory = 0x35
    }

    public mutating func file(_ name: String, _ contents: [UInt8], mode: Int = 0o644) {
        append(name: name, type: .file, mode: mode, contents: contents)
    }

    public mutating func directory(_ name: String, mode: Int = 0o755) {
        append(name: name, type: .directory, mode: mode)
    }

    /// A symbolic link `name` → `target` (relative to the link's directory, as in a real archive).
    public mutating func symbolicLink(_ name: String, to target: String) {
        append(name: name, type: .symbolicLink, mode: 0o777, linkName: target)
    }

    /// A hard link: `name` has the contents of the earlier member `target` (a path in the archive).
    public mutating func hardLink(_ name: String, to target: String) {
        append(name: name, type: .hardLink, mode: 0o644, linkName: target)
    }

    /// The archive: the entries, the two zero blocks that end it, and zeros up to a multiple of
    /// `recordSize` (10240 is what GNU tar and docker write; 512 means no padding beyond the end).
    public func bytes(recordSize: Int = 10240) -> [UInt8] {
        var archive = output + [UInt8](repeating: 0, count: 1024)
        let rest = archive.count % recordSize
        if rest != 0 { archive += [UInt8](repeating: 0, count: recordSize - rest) }
        return archive
    }

    private mutating func append(name: String, type: EntryType, mode: Int, linkName: String = "", contents: [UInt8] = []) {
        precondition(name.utf8.count <= 100 && linkName.utf8.count <= 100, "ustar names longer than 100 bytes need a prefix field: \(name)")
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte }
        }
        func octal(_ value: Int, width: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: width - 1 - digits.count) + digits
        }
        put(name, at: 0)
        put(octal(mode, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)  // uid
        put(octal(0, width: 8), at: 116)  // gid
        put(octal(contents.count, width: 12), at: 124)
        put(octal(0, width: 12), at: 136)  // mtime
        header[156] = type.rawValue
        put(linkName, at: 157)
        put("ustar", at: 257)  // POSIX magic "ustar\0" and version "00"
        put("00", at: 263)
        put(octal(0, width: 8), at: 329)  // devmajor
        put(octal(0, width: 8), at: 337)  // devminor
        // The checksum is computed with its own field read as spaces.
        for i in 148..<156 { header[i] = 0x20 }
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7), at: 148)
        header[155] = 0x20
        output += header
        output += contents
        let padding = (512 - contents.count % 512) % 512
        output += [UInt8](repeating: 0, count: padding)
    }
}
