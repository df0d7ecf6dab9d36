/// JSON string literals written by hand, where pushctl writes documents byte for byte (manifests
/// it builds, cosign payloads) instead of leaving the bytes to an encoder.
public enum JSONText {
    /// `text` as a JSON string literal: `"`, backslash and control characters escaped (`\n`, `\r`,
    /// `\t`, else `\u00XX`). With `goHTMLSafe`, also `<` `>` `&` U+2028 U+2029 as `\u` escapes, as
    /// Go's `encoding/json` writes them by default (cosign's payloads are written that way).
    /// Identical text for identical input, so documents are byte-stable.
    public static func quoted(_ text: String, goHTMLSafe: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}",
                "\u{2029}" where goHTMLSafe:
                out += "\\u" + hex4(scalar.value)
            case let s where s.value < 0x20: out += "\\u" + hex4(s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
