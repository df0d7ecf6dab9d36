/// Values that travel in JSON as one string (digests, image references): decoding parses the
/// string with the type's own parser, so a malformed value fails with that parser's message.
protocol StringCodable: Codable {
    associatedtype ParseError: Error & CustomStringConvertible
    init(codableString: String) throws(ParseError)
    var codableString: String { get }
}

extension StringCodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(codableString: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(codableString)
    }
}
