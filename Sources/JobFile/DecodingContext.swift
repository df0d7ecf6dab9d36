import YAML

/// The checked fields of one mapping: known keys only, duplicates and unknown keys already reported.
struct Fields {
    var entries: [String: MappingEntry] = [:]
    /// Where the mapping starts, for "missing key" messages.
    var location: Location

    subscript(key: String) -> Node? { entries[key]?.value }
}

/// Collects problems while the node tree is decoded, so that one pass reports all of them.
/// Typed accessors substitute variables first, then check the type; they return nil after
/// reporting a problem, and callers simply skip what depends on a missing value.
struct DecodingContext {
    let environment: [String: String]
    var problems: [JobFileProblem] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    mutating func error(_ location: Location, _ message: String) {
        problems.append(JobFileProblem(location: location, message: message))
    }

    /// Checks a mapping's keys: unknown keys (with a "did you mean" hint), duplicates, missing required keys.
    /// With `allowExtensions`, keys starting with `x-` are accepted and ignored (a place for YAML
    /// anchors, as in compose files); a typo of a real key never starts with `x-`.
    mutating func fields(
        _ node: Node, in context: String, known: [String], required: [String] = [],
        allowExtensions: Bool = false
    ) -> Fields? {
        guard let entries = node.mapping else {
            error(node.location, "\(context) must be a mapping, found \(node.kindDescription)")
            return nil
        }
        var fields = Fields(location: node.location)
        for entry in expandingMergeKeys(entries) {
            guard let key = entry.key.scalar?.value else {
                error(entry.key.location, "keys in \(context) must be plain words, found \(entry.key.kindDescription)")
                continue
            }
            if allowExtensions && key.hasPrefix("x-") { continue }
            guard known.contains(key) else {
                var message = "unknown key '\(key)' in \(context)"
                if let hint = Suggestions.closest(to: key, among: known) {
                    message += "; did you mean '\(hint)'?"
                } else {
                    message += " (known keys: \(known.joined(separator: ", ")))"
                }
                error(entry.key.location, message)
                continue
            }
            if let first = fields.entries[key] {
                error(entry.key.location, "duplicate key '\(key)' in \(context) (first given at line \(first.key.location.line))")
                continue
            }
            fields.entries[key] = entry
        }
        for key in required where fields.entries[key] == nil {
            error(node.location, "\(context) is missing the required key '\(key)'")
        }
        return fields
    }

    /// Applies YAML merge keys (`<<: *anchor` or `<<: [*a, *b]`): merged entries fill in keys the
    /// mapping does not set itself; among several merged mappings the first one wins.
    mutating func expandingMergeKeys(_ entries: [MappingEntry]) -> [MappingEntry] {
        var own: [MappingEntry] = []
        var merged: [MappingEntry] = []
        for entry in entries {
            guard let key = entry.key.scalar, key.style == .plain, key.value == "<<" else {
                own.append(entry)
                continue
            }
            let sources = entry.value.mapping.map { [$0] } ?? entry.value.sequence?.map { $0.mapping }
            guard let sources, sources.allSatisfy({ $0 != nil }) else {
                error(entry.value.location, "a merge key '<<' takes a mapping or a list of mappings (usually '*anchor')")
                continue
            }
            merged.append(contentsOf: sources.flatMap { $0! })
        }
        var keys = Set(own.compactMap { $0.key.scalar?.value })
        for entry in merged {
            guard let key = entry.key.scalar?.value, keys.insert(key).inserted else { continue }
            own.append(entry)
        }
        return own
    }

    /// A scalar's text after variable substitution. Null is an error unless `allowNull` (then nil, no error).
    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error(node.location, "\(what) must be a string, found \(node.kindDescription)")
            return nil
        }
        if scalar.isNull {
            error(node.location, "\(what) must not be empty")
            return nil
        }
        return substitute(scalar, at: node.location)
    }

    /// Substitutes variables in a scalar, reporting each problem at its column when it can be known.
    mutating func substitute(_ scalar: Scalar, at location: Location) -> String? {
        switch Variables.substitute(scalar.value, environment: environment) {
        case .success(let text):
            return text
        case .failure(let problems):
            for problem in problems.list {
                error(columnLocation(scalar, location, offset: problem.offset), problem.message)
            }
            return nil
        }
    }

    /// The location of a character inside a scalar: exact for plain and quoted one-line scalars.
    private func columnLocation(_ scalar: Scalar, _ location: Location, offset: Int) -> Location {
        guard !scalar.value.contains("\n") else { return location }
        switch scalar.style {
        case .plain: return location.advanced(by: offset)
        case .singleQuoted where !scalar.value.contains("'"): return location.advanced(by: offset + 1)
        case .doubleQuoted where !scalar.value.contains("\\") && !scalar.value.contains("\""): return location.advanced(by: offset + 1)
        default: return location
        }
    }

    /// An integer: a plain scalar (or one produced by a variable) made only of digits.
    mutating func int(_ node: Node, _ what: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard let scalar = node.scalar, !scalar.isNull else {
            error(node.location, "\(what) must be an integer, found \(node.kindDescription)")
            return nil
        }
        guard let text = substitute(scalar, at: node.location) else { return nil }
        let fromVariable = scalar.value.contains("${")
        guard scalar.style == .plain || fromVariable else {
            error(node.location, "\(what) must be an integer, found the string \"\(text)\" (remove the quotes)")
            return nil
        }
        guard let value = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text), !text.isEmpty,
            text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+" || $0 == "-") })
        else {
            error(node.location, "\(what) must be an integer, found '\(text)'")
            return nil
        }
        if let range, !range.contains(value) {
            error(
                node.location,
                range.upperBound == Int(Int32.max)
                    ? "\(what) must be at least \(range.lowerBound), found \(value)"
                    : "\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
            return nil
        }
        return value
    }

    /// A boolean: `true` or `false` (YAML 1.2 core schema spellings).
    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        guard let scalar = node.scalar, !scalar.isNull else {
            error(node.location, "\(what) must be true or false, found \(node.kindDescription)")
            return nil
        }
        guard let text = substitute(scalar, at: node.location) else { return nil }
        let fromVariable = scalar.value.contains("${")
        if scalar.style == .plain || fromVariable {
            if ["true", "True", "TRUE"].contains(text) { return true }
            if ["false", "False", "FALSE"].contains(text) { return false }
        }
        error(node.location, "\(what) must be true or false, found '\(text)'")
        return nil
    }

    /// A sequence's items; a non-sequence is reported.
    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard let items = node.sequence else {
            error(node.location, "\(what) must be a list, found \(node.kindDescription)")
            return nil
        }
        return items
    }

    /// A list of strings with their locations; bad items are reported and skipped.
    mutating func stringList(_ node: Node, _ what: String) -> [(String, Location)]? {
        guard let items = sequence(node, what) else { return nil }
        return items.compactMap { item in string(item, "each item of \(what)").map { ($0, item.location) } }
    }
}

/// "Did you mean" hints by edit distance.
enum Suggestions {
    static func closest(to word: String, among candidates: [String]) -> String? {
        // An abbreviation (`user` for `username`) is a strong hint on its own.
        if word.count >= 3, let prefixed = candidates.first(where: { $0.lowercased().hasPrefix(word.lowercased()) }) {
            return prefixed
        }
        let limit = max(1, min(3, word.count / 3))
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return nil }
        return best.0
    }

    /// Damerau–Levenshtein (optimal string alignment) distance: transposed letters count once.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
