import Foundation

/// Makes text that came from a server, or URLs that carry secrets, safe to print.
///
/// Registry error messages end up on terminals and in logs. A registry (or anything between it
/// and us) controls their text, so escape sequences in it could recolour, move the cursor,
/// rewrite earlier lines or forge whole log lines. And upload session URLs (`_state=…`),
/// pre-signed storage URLs and token requests carry credentials in their query strings.
public enum DisplayText {
    /// `text` with every control character written as a visible escape: C0 controls (ESC, CR,
    /// LF, TAB, NUL, …) and DEL as `\x1b`, C1 controls as `\x9b`, and the Unicode bidirectional
    /// overrides and isolates (which reorder what a terminal shows) as `\u{202e}`. A backslash
    /// stays as it is; everything else passes unchanged.
    public static func escapingControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else { out.append(scalar); continue }
            let hex = String(scalar.value, radix: 16)
            let escape =
                scalar.value <= 0xFF
                ? "\\x" + (hex.count < 2 ? "0" + hex : hex)
                : "\\u{" + hex + "}"
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        // LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI.
        case 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `url` without its query string and fragment: `https://r/v2/a/blobs/uploads/u?_state=…`
    /// becomes `https://r/v2/a/blobs/uploads/u`.
    public static func withoutQuery(_ url: String) -> String {
        guard let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) else { return url }
        return String(url[..<cut])
    }

    /// `text` with the query string of every `http://` or `https://` URL in it removed (a URL
    /// runs up to whitespace, a quote or an angle bracket).
    public static func strippingURLQueries(_ text: String) -> String {
        guard text.contains("?") || text.contains("#") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = firstURLStart(in: rest) {
            out += rest[..<start]
            let url = rest[start...]
            let end = url.firstIndex(where: { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "<" || $0 == ">" }) ?? url.endIndex
            out += withoutQuery(String(url[..<end]))
            rest = url[end...]
        }
        return out + rest
    }

    private static func firstURLStart(in text: Substring) -> Substring.Index? {
        let http = text.range(of: "http://")?.lowerBound
        let https = text.range(of: "https://")?.lowerBound
        switch (http, https) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }

    /// Both: what a server said, fit for one line of a terminal or log, without secrets in URLs.
    public static func safe(_ text: String) -> String {
        escapingControlCharacters(strippingURLQueries(text))
    }
}
