@preconcurrency import Crypto

/// A content digest, `ALGORITHM:HEX`, as defined by the OCI image spec
/// (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests).
/// Only the registered algorithms `sha256` and `sha512` are accepted, with their exact hex lengths.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256, sha512

        /// Number of lower-case hex characters in an encoded digest of this algorithm.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// Lower-case hex encoding.
    public let hex: String

    public init(algorithm: Algorithm, hex: String) throws(DigestError) {
        guard hex.utf8.count == algorithm.hexLength else {
            throw .invalidLength(algorithm: algorithm.rawValue, expected: algorithm.hexLength, actual: hex.utf8.count)
        }
        guard hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .invalidHex(hex)
        }
        self.algorithm = algorithm
        self.hex = hex
    }

    /// Parses `sha256:…` or `sha512:…`.
    public init(parsing string: String) throws(DigestError) {
        guard let colon = string.firstIndex(of: ":") else { throw .missingAlgorithm(string) }
        let name = String(string[..<colon])
        guard let algorithm = Algorithm(rawValue: name) else { throw .unsupportedAlgorithm(name) }
        try self.init(algorithm: algorithm, hex: String(string[string.index(after: colon)...]))
    }

    public var string: String { "\(algorithm.rawValue):\(hex)" }
    public var description: String { string }

    /// The first 12 hex characters, as docker prints short IDs.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.string < rhs.string }

    /// The digest of a complete byte buffer.
    public static func of<Bytes: Sequence>(_ bytes: Bytes, algorithm: Algorithm = .sha256) -> Digest where Bytes.Element == UInt8 {
        var hasher = DigestHasher(algorithm: algorithm)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }
}

extension Digest: StringCodable {
    init(codableString: String) throws(DigestError) { try self.init(parsing: codableString) }
    var codableString: String { string }
}

public enum DigestError: Error, Equatable, Sendable {
    case missingAlgorithm(String)
    case unsupportedAlgorithm(String)
    case invalidLength(algorithm: String, expected: Int, actual: Int)
    case invalidHex(String)
}

extension DigestError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .missingAlgorithm(let s): "invalid digest \"\(s)\": expected ALGORITHM:HEX"
        case .unsupportedAlgorithm(let a): "unsupported digest algorithm \"\(a)\" (sha256 and sha512 are supported)"
        case .invalidLength(let a, let expected, let actual): "invalid \(a) digest: expected \(expected) hex characters, found \(actual)"
        case .invalidHex(let h): "invalid digest hex \"\(h)\": only 0-9 and a-f are allowed"
        }
    }
}

/// Incremental hashing, so blobs are hashed while they stream and never held whole in memory.
public struct DigestHasher {
    private enum State {
        case sha256(SHA256)
        case sha512(SHA512)
    }

    private var state: State
    public let algorithm: Digest.Algorithm
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    public init(algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256: state = .sha256(SHA256())
        case .sha512: state = .sha512(SHA512())
        }
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        count += Int64(buffer.count)
        switch state {
        case .sha256(var h): h.update(bufferPointer: buffer); state = .sha256(h)
        case .sha512(var h): h.update(bufferPointer: buffer); state = .sha512(h)
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        let hex: String
        switch state {
        case .sha256(let h): hex = h.finalize().hexString
        case .sha512(let h): hex = h.finalize().hexString
        }
        // The hex produced here is always valid for the algorithm.
        return try! Digest(algorithm: algorithm, hex: hex)
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
