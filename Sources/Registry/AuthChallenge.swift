/// One challenge of a `WWW-Authenticate` header (RFC 7235): `Bearer realm="…",service="…",scope="…"`
/// or `Basic realm="…"`. A header may carry several challenges, and a response several headers.
public struct AuthChallenge: Sendable, Equatable {
    /// Lower-cased scheme: "basic" or "bearer" (others are kept but unused).
    public var scheme: String
    /// Parameters with lower-cased names.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }

    /// Parses every challenge in the given header values.
    public static func parse(_ headerValues: [String]) -> [AuthChallenge] {
        headerValues.flatMap(parse(_:))
    }

    /// Parses one header value, which may list several challenges separated by commas.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C }
            let scheme = scanner.token()
            guard !scheme.isEmpty else { break }
            var challenge = AuthChallenge(scheme: scheme)
            // Parameters: name=value or name="quoted", separated by commas, until the next scheme.
            while true {
                let mark = scanner.position
                scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C }
                let name = scanner.token()
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                guard !name.isEmpty, scanner.peek == 0x3D /* = */ else {
                    scanner.position = mark
                    break
                }
                scanner.advance()
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                let value = scanner.peek == 0x22 ? scanner.quoted() : scanner.token()
                challenge.parameters[name.lowercased()] = value
            }
            challenges.append(challenge)
            if scanner.atEnd { break }
        }
        return challenges
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { position >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[position] }
        mutating func advance() { position += 1 }
        mutating func skip(while predicate: (UInt8) -> Bool) {
            while let b = peek, predicate(b) { position += 1 }
        }
        /// An RFC 7230 token (also accepts token68 characters such as "/" and "+" for odd servers).
        mutating func token() -> String {
            let start = position
            while let b = peek, b > 0x20, b != 0x2C, b != 0x3D, b != 0x22, b != 0x3B { position += 1 }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
        mutating func quoted() -> String {
            advance()  // opening quote
            var out: [UInt8] = []
            while let b = peek {
                advance()
                if b == 0x5C, let next = peek { out.append(next); advance(); continue }  // backslash escape
                if b == 0x22 { break }
                out.append(b)
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
