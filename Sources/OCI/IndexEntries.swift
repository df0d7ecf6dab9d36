/// Byte-level access to the `manifests` array of an index: where each entry's JSON text lies, so
/// an index can be narrowed (a platform subset) or extended (a referrers fallback tag) while every
/// other byte — key order, fields pushctl does not know, whitespace — stays as the source wrote it.
/// Re-encoding with a JSON library would reorder keys and drop unknown fields, changing digests
/// for no reason.
public struct IndexEntries: Sendable {
    public let bytes: [UInt8]
    /// Position of the `[` that opens `manifests`.
    let open: Int
    /// Position of the matching `]`.
    let close: Int
    /// Each entry's text: `bytes[start..<end]`.
    public let spans: [Range<Int>]

    /// Finds the top-level `manifests` array of `bytes` (a JSON object).
    public init(_ bytes: [UInt8]) throws(IndexEntriesError) {
        self.bytes = bytes
        var scanner = JSONScanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "{") else { throw .notAnObject }
        scanner.position += 1
        var found: (open: Int, close: Int, spans: [Range<Int>])?
        while true {
            scanner.skipSpace()
            if scanner.peek == UInt8(ascii: "}") { break }
            if scanner.peek == UInt8(ascii: ",") { scanner.position += 1; continue }
            guard scanner.peek == UInt8(ascii: "\"") else { throw .malformed(at: scanner.position) }
            let keyRange = try scanner.skipValue()
            scanner.skipSpace()
            guard scanner.peek == UInt8(ascii: ":") else { throw .malformed(at: scanner.position) }
            scanner.position += 1
            scanner.skipSpace()
            let isManifests = Array(bytes[keyRange]) == Array("\"manifests\"".utf8)
            if isManifests {
                guard scanner.peek == UInt8(ascii: "[") else { throw .manifestsNotAnArray }
                let open = scanner.position
                scanner.position += 1
                var spans: [Range<Int>] = []
                while true {
                    scanner.skipSpace()
                    guard let c = scanner.peek else { throw .malformed(at: scanner.position) }
                    if c == UInt8(ascii: "]") { break }
                    if c == UInt8(ascii: ",") { scanner.position += 1; continue }
                    spans.append(try scanner.skipValue())
                }
                found = (open, scanner.position, spans)
                scanner.position += 1
            } else {
                _ = try scanner.skipValue()
            }
        }
        guard let found else { throw .noManifests }
        open = found.open
        close = found.close
        spans = found.spans
    }

    /// The index with only the entries whose positions are in `keep` (in their original order).
    /// Separators are the source's own: the first kept entry follows the text that followed `[`,
    /// each later one the separator that preceded it in the source.
    public func keeping(_ keep: Set<Int>) -> [UInt8] {
        var out = Array(bytes[..<(open + 1)])
        var first = true
        for (i, span) in spans.enumerated() where keep.contains(i) {
            if first {
                out += bytes[(open + 1)..<spans[0].lowerBound]
                first = false
            } else {
                out += bytes[spans[i - 1].upperBound..<span.lowerBound]
            }
            out += bytes[span]
        }
        let tail = spans.last.map { $0.upperBound } ?? (open + 1)
        out += bytes[tail...]
        return out
    }

    /// The index with `entry` (JSON text of one descriptor) added after the others, separated
    /// as the source separates its entries (", " style when it has fewer than two).
    public func appending(_ entry: [UInt8]) -> [UInt8] {
        var out = Array(bytes[..<(spans.last?.upperBound ?? (open + 1))])
        if spans.count >= 2 {
            out += bytes[spans[spans.count - 2].upperBound..<spans[spans.count - 1].lowerBound]
        } else if !spans.isEmpty {
            out += Array(",".utf8)
        }
        out += entry
        out += bytes[(spans.last?.upperBound ?? (open + 1))...]
        return out
    }
}

public enum IndexEntriesError: Error, Equatable, Sendable, CustomStringConvertible {
    case notAnObject
    case noManifests
    case manifestsNotAnArray
    case malformed(at: Int)

    public var description: String {
        switch self {
        case .notAnObject: "the index is not a JSON object"
        case .noManifests: "the index has no 'manifests' array"
        case .manifestsNotAnArray: "the index's 'manifests' is not an array"
        case .malformed(let at): "the index is not well-formed JSON at byte \(at)"
        }
    }
}

/// Just enough of a JSON reader to find where values begin and end.
struct JSONScanner {
    let bytes: [UInt8]
    var position = 0

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 }
    }

    /// Skips one value (string, object, array, or literal) and returns its range.
    mutating func skipValue() throws(IndexEntriesError) -> Range<Int> {
        let start = position
        guard let c = peek else { throw .malformed(at: position) }
        switch c {
        case UInt8(ascii: "\""):
            position += 1
            while true {
                guard let d = peek else { throw .malformed(at: position) }
                position += 1
                if d == UInt8(ascii: "\\") { position += 1 } else if d == UInt8(ascii: "\"") { break }
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while true {
                guard let d = peek else { throw .malformed(at: position) }
                if d == UInt8(ascii: "\"") { _ = try skipValue(); continue }
                position += 1
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
        default:
            while let d = peek, d != UInt8(ascii: ","), d != UInt8(ascii: "]"), d != UInt8(ascii: "}"),
                d != 0x20, d != 0x0A, d != 0x0D, d != 0x09
            { position += 1 }
            guard position > start else { throw .malformed(at: position) }
        }
        return start..<position
    }
}
