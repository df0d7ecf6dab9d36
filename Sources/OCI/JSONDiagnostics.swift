import Foundation

/// Readable explanations of JSON that does not decode, shared by everything that reads JSON files
/// a user may have edited by hand (image sources, credential files): Foundation's `DecodingError`
/// text names neither a position nor a readable key path.
public enum JSONDiagnostics {
    /// What is wrong, in words: `syntax error at line 3, column 7`, or the key path of a shape
    /// error (`expected String at .auths.host.auth: …`).
    public static func describe(_ error: DecodingError, bytes: [UInt8]) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            guard !codingPath.isEmpty else { return "the top level" }
            return codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, let location = syntaxErrorLocation(bytes) {
                return "syntax error at line \(location.line), column \(location.column)"
            }
            return "\(context.debugDescription) at \(path(context.codingPath))"
        case .keyNotFound(let key, let context):
            return "missing key \"\(key.stringValue)\" at \(path(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(path(context.codingPath)): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "expected \(type) but found null at \(path(context.codingPath))"
        @unknown default:
            return String(describing: error)
        }
    }

    /// Where a JSON text stops being valid (1-based line and column), with a small recursive
    /// descent checker: Foundation's messages do not reliably carry a position. Nil when the text
    /// is valid JSON.
    public static func syntaxErrorLocation(_ bytes: [UInt8]) -> (line: Int, column: Int)? {
        var checker = JSONSyntaxChecker(bytes: bytes)
        guard let offset = checker.firstErrorOffset() else { return nil }
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }
}

private struct JSONSyntaxChecker {
    let bytes: [UInt8]
    var i = 0

    struct Failure: Error { let offset: Int }

    mutating func firstErrorOffset() -> Int? {
        do {
            skipSpace()
            try value(depth: 0)
            skipSpace()
            if i != bytes.count { throw Failure(offset: i) }
            return nil
        } catch {
            return (error as? Failure)?.offset ?? i
        }
    }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ byte: UInt8) throws {
        guard i < bytes.count, bytes[i] == byte else { throw Failure(offset: i) }
        i += 1
    }

    mutating func value(depth: Int) throws {
        guard depth < 512, i < bytes.count else { throw Failure(offset: i) }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1; skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipSpace(); try string(); skipSpace(); try expect(UInt8(ascii: ":")); skipSpace()
                try value(depth: depth + 1); skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}")); return
            }
        case UInt8(ascii: "["):
            i += 1; skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return }
            while true {
                skipSpace(); try value(depth: depth + 1); skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]")); return
            }
        case UInt8(ascii: "\""):
            try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try number()
        }
    }

    mutating func literal(_ word: String) throws {
        for byte in word.utf8 { try expect(byte) }
    }

    mutating func string() throws {
        try expect(UInt8(ascii: "\""))
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") { i += 1; return }
            if byte < 0x20 { throw Failure(offset: i) }
            if byte == UInt8(ascii: "\\") { i += 2 } else { i += 1 }
        }
        throw Failure(offset: i)
    }

    mutating func number() throws {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        while i < bytes.count, "0123456789.eE+-".utf8.contains(bytes[i]) { i += 1 }
        if i == start { throw Failure(offset: i) }
    }
}
