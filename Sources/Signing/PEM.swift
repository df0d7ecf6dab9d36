import Foundation

/// One PEM block (RFC 7468): `-----BEGIN TYPE-----`, base64 lines, `-----END TYPE-----`.
/// Only what pushctl's key files need: the first block of a text, no RFC 1421 headers.
struct PEMBlock: Equatable {
    var type: String
    var bytes: [UInt8]

    /// The first block in `text`; nil when there is none or its body is not base64.
    init?(parsing text: String) {
        guard let begin = text.range(of: "-----BEGIN ") else { return nil }
        guard let typeEnd = text.range(of: "-----", range: begin.upperBound..<text.endIndex) else { return nil }
        let type = String(text[begin.upperBound..<typeEnd.lowerBound])
        guard let end = text.range(of: "-----END \(type)-----", range: typeEnd.upperBound..<text.endIndex) else { return nil }
        let body = text[typeEnd.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else { return nil }
        self.type = type
        self.bytes = [UInt8](data)
    }

    init(type: String, bytes: [UInt8]) {
        self.type = type
        self.bytes = bytes
    }

    /// The block as Go's `pem.EncodeToMemory` writes it (what cosign writes): 64-column base64
    /// lines and a final newline.
    var text: String {
        let body = Data(bytes).base64EncodedString()
        var lines = ["-----BEGIN \(type)-----"]
        var index = body.startIndex
        while index < body.endIndex {
            let next = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            lines.append(String(body[index..<next]))
            index = next
        }
        lines.append("-----END \(type)-----")
        return lines.joined(separator: "\n") + "\n"
    }
}
