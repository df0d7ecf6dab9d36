/// An index of a tar archive's members, built by reading its headers once (skipping over member
/// data), so members can then be streamed straight from the file at their offsets — no extraction.
/// Understands ustar (with `prefix`), GNU long names/links (`L`/`K`) and pax headers (`x`: `path`,
/// `linkpath`, `size`); symlinks and hard links are resolved to the member they point to.
final class TarArchive: Sendable {
    let path: String
    let file: ReadOnlyFile
    /// Normalised member path → entry. Later entries of the same name replace earlier ones, as
    /// when tar extracts.
    private let entries: [String: Entry]
    /// Regular file names in archive order.
    let fileNames: [String]

    struct Entry: Sendable {
        enum Kind: Sendable { case file, directory, symlink(String), hardlink(String), other }
        let name: String
        let kind: Kind
        let offset: Int64
        let size: Int64
    }

    private init(path: String, file: ReadOnlyFile, entries: [String: Entry], fileNames: [String]) {
        self.path = path
        self.file = file
        self.entries = entries
        self.fileNames = fileNames
    }

    static func open(_ path: String) throws(SourceError) -> TarArchive {
        switch pathKind(path) {
        case .missing: throw .notFound(path: path)
        case .directory: throw .notATarArchive(path: path, reason: "it is a directory (use oci: for a layout directory)")
        case .file, .other: break
        }
        let file = try ReadOnlyFile(path: path)
        let (entries, names) = try scan(file)
        return TarArchive(path: path, file: file, entries: entries, fileNames: names)
    }

    /// The region of a regular file member (following links), or nil when there is none.
    func region(_ name: String) -> FileRegion? {
        var current = TarArchive.normalize(name)
        for _ in 0..<16 {
            guard let entry = entries[current] else { return nil }
            switch entry.kind {
            case .file:
                return FileRegion(file: file, start: entry.offset, length: entry.size, name: "\(path):\(entry.name)")
            case .hardlink(let target):
                current = TarArchive.normalize(target)
            case .symlink(let target):
                if target.hasPrefix("/") {
                    current = TarArchive.normalize(target)
                } else {
                    let dir = current.split(separator: "/").dropLast().joined(separator: "/")
                    current = TarArchive.normalize(dir.isEmpty ? target : dir + "/" + target)
                }
            case .directory, .other:
                return nil
            }
        }
        return nil
    }

    func contains(_ name: String) -> Bool { region(name) != nil }

    /// `./a//b/../c` → `a/c`: member names as tar writers spell them vary.
    static func normalize(_ name: String) -> String {
        var parts: [Substring] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    // MARK: scanning

    private static func scan(_ file: ReadOnlyFile) throws(SourceError) -> ([String: Entry], [String]) {
        let path = file.path
        guard file.size > 0 else { throw .notATarArchive(path: path, reason: "the file is empty") }
        let magic = try file.readBytes(at: 0, count: 6)
        if let format = compressionFormat(magic) { throw .compressedArchive(path: path, format: format) }

        var entries: [String: Entry] = [:]
        var names: [String] = []
        var offset: Int64 = 0
        var longName: String?
        var longLink: String?
        var pax: [String: String] = [:]
        var first = true

        while true {
            if offset == file.size { break }  // no end-of-archive blocks: tolerated, as GNU tar does
            let header = try file.readBytes(at: offset, count: 512)
            guard header.count == 512 else {
                throw .truncatedArchive(path: path, member: "(header at offset \(offset))", declared: 512, available: Int64(header.count))
            }
            if header.allSatisfy({ $0 == 0 }) { break }  // end of archive
            guard checksumMatches(header) else {
                throw .notATarArchive(
                    path: path,
                    reason: first
                        ? "no tar header at the start of the file"
                        : "bad tar header checksum at offset \(offset)")
            }
            first = false
            let type = header[156]
            var size = try parseNumber(header[124..<136], path: path, offset: offset)
            if let paxSize = pax["size"], let value = Int64(paxSize) { size = value }
            let dataOffset = offset + 512
            let available = max(0, file.size - dataOffset)
            var name = pax["path"] ?? longName ?? headerName(header)

            guard size <= available else {
                throw .truncatedArchive(path: path, member: name, declared: size, available: available)
            }
            let next = dataOffset + (size + 511) / 512 * 512

            switch type {
            case UInt8(ascii: "L"):
                longName = cString(try file.readBytes(at: dataOffset, count: Int(size)))
            case UInt8(ascii: "K"):
                longLink = cString(try file.readBytes(at: dataOffset, count: Int(size)))
            case UInt8(ascii: "x"):
                pax = parsePax(try file.readBytes(at: dataOffset, count: Int(size)))
            case UInt8(ascii: "g"):
                break  // global pax header: nothing pushctl needs
            default:
                let link = pax["linkpath"] ?? longLink ?? cString(Array(header[157..<257]))
                let kind: Entry.Kind
                switch type {
                case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .file
                case UInt8(ascii: "1"): kind = .hardlink(link)
                case UInt8(ascii: "2"): kind = .symlink(link)
                case UInt8(ascii: "5"): kind = .directory
                default: kind = .other
                }
                if case .directory = kind, name.hasSuffix("/") { name.removeLast() }
                let key = normalize(name)
                entries[key] = Entry(name: name, kind: kind, offset: dataOffset, size: size)
                if case .file = kind { names.append(key) }
                longName = nil
                longLink = nil
                pax = [:]
            }
            offset = next
            if offset > file.size {
                throw .truncatedArchive(path: path, member: name, declared: size, available: available)
            }
        }
        return (entries, names)
    }

    static func compressionFormat(_ magic: [UInt8]) -> String? {
        if magic.starts(with: [0x1f, 0x8b]) { return "gzip" }
        if magic.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return "zstd" }
        if magic.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return "xz" }
        if magic.starts(with: Array("BZh".utf8)) { return "bzip2" }
        return nil
    }

    private static func checksumMatches(_ header: [UInt8]) -> Bool {
        var unsigned = 0
        var signed = 0
        for (i, byte) in header.enumerated() {
            let b = (148..<156).contains(i) ? UInt8(ascii: " ") : byte
            unsigned += Int(b)
            signed += Int(Int8(bitPattern: b))
        }
        guard let stored = try? parseOctal(header[148..<156]) else { return false }
        return stored == Int64(unsigned) || stored == Int64(signed)
    }

    private static func headerName(_ header: [UInt8]) -> String {
        let name = cString(Array(header[0..<100]))
        // POSIX ustar ("ustar\0") splits long names into prefix + name; GNU ("ustar  ") uses that
        // area for other fields.
        if header[257..<263].elementsEqual(Array("ustar".utf8) + [0]) {
            let prefix = cString(Array(header[345..<500]))
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    private static func parseNumber(_ field: ArraySlice<UInt8>, path: String, offset: Int64) throws(SourceError) -> Int64 {
        if let first = field.first, first & 0x80 != 0 {
            // GNU base-256: big-endian, top bit of the first byte is the marker.
            var value: Int64 = Int64(first & 0x7f)
            for byte in field.dropFirst() {
                guard value < (Int64.max >> 8) else {
                    throw .notATarArchive(path: path, reason: "member size out of range at offset \(offset)")
                }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        do { return try parseOctal(field) } catch {
            throw .notATarArchive(path: path, reason: "invalid size field at offset \(offset)")
        }
    }

    private struct NotOctal: Error {}

    private static func parseOctal(_ field: ArraySlice<UInt8>) throws(NotOctal) -> Int64 {
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || (byte == UInt8(ascii: " ") && seenDigit) { break }
            if byte == UInt8(ascii: " ") { continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { throw NotOctal() }
            value = value * 8 + Int64(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    private static func cString(_ bytes: [UInt8]) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// pax records: `LENGTH KEY=VALUE\n`.
    private static func parsePax(_ bytes: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        var index = 0
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)),
                length > 0, index + length <= bytes.count
            else { break }
            let record = bytes[(space + 1)..<(index + length)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
                var value = Array(record[(equals + 1)...])
                if value.last == UInt8(ascii: "\n") { value.removeLast() }
                result[key] = String(decoding: value, as: UTF8.self)
            }
            index += length
        }
        return result
    }
}
