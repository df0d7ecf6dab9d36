/// Variable substitution in scalars (docs/jobfile.md "Variables").
///
/// - `${NAME}`: the variable's value; unset is an error.
/// - `${NAME:-default}`: the default when NAME is unset **or empty** (as in the shell and compose).
/// - `$$`: a literal `$`.
/// - Any other `$` (one not followed by `{` or `$`) is a literal `$` too, so that a regular
///   expression such as `'^v[0-9]+$'` needs no escaping (docs/jobfile.md "Variables"). `$NAME`
///   without braces is therefore plain text, not a variable.
/// NAME is `[A-Za-z_][A-Za-z0-9_]*`; a default is taken literally and cannot contain `}`.
public enum Variables {
    public struct Problem: Sendable, Equatable {
        /// Offset in characters from the start of the scalar's value.
        public var offset: Int
        public var message: String
    }

    /// Every problem found in one scalar.
    public struct Problems: Error, Sendable, Equatable {
        public var list: [Problem]
    }

    /// The substituted text, or every problem found in it.
    public static func substitute(_ text: String, environment: [String: String]) -> Result<String, Problems> {
        guard text.contains("$") else { return .success(text) }
        let chars = Array(text)
        var out = ""
        var problems: [Problem] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$" else { out.append(c); i += 1; continue }
            let next = i + 1 < chars.count ? chars[i + 1] : nil
            if next == "$" { out.append("$"); i += 2; continue }
            guard next == "{" else { out.append("$"); i += 1; continue }
            guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                problems.append(Problem(offset: i, message: "unterminated variable: '${' without a closing '}'"))
                break
            }
            let inner = String(chars[(i + 2)..<close])
            let name: String
            var fallback: String?
            if let range = inner.range(of: ":-") {
                name = String(inner[..<range.lowerBound])
                fallback = String(inner[range.upperBound...])
            } else {
                name = inner
            }
            if !isValidName(name) {
                let shown = name.isEmpty ? "${\(inner)}" : "'\(name)'"
                problems.append(
                    Problem(
                        offset: i,
                        message:
                            "invalid variable name \(shown): expected ${NAME} or ${NAME:-default} with NAME matching [A-Za-z_][A-Za-z0-9_]*"
                    ))
            } else if let value = environment[name], !(value.isEmpty && fallback != nil) {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                problems.append(
                    Problem(offset: i, message: "variable '\(name)' is not set (set it in the environment or write ${\(name):-default})"))
            }
            i = close + 1
        }
        return problems.isEmpty ? .success(out) : .failure(Problems(list: problems))
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII,
            first.properties.isAlphabetic || first == "_"
        else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}
