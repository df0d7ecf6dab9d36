/// Semantic versions and npm-style ranges for tag selectors (docs/jobfile.md "Tags": `semver`, `latest`).
///
/// Tags are read leniently, as registries name them: an optional leading `v`, and a partial version
/// such as `3.18` or `3` means `3.18.0` / `3.0.0`. Build metadata (`+…`) is ignored for ordering.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    /// Dot-separated pre-release identifiers (`rc1`, `alpha.2`); empty for a release.
    public var prerelease: [String]

    public init(_ major: Int, _ minor: Int, _ patch: Int, prerelease: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
    }

    var triple: [Int] { [major, minor, patch] }

    /// Parses a tag as a version (`1.2.3`, `v1.2`, `3`, `3.21.0-rc1`); nil when it is not one.
    public init?(tag: String) {
        guard let p = PartialVersion(parsing: Substring(tag), allowWildcards: false) else { return nil }
        self.init(p.major ?? 0, p.minor ?? 0, p.patch ?? 0, prerelease: p.prerelease)
    }

    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        if a.triple != b.triple { return a.triple.lexicographicallyPrecedes(b.triple) }
        // A pre-release sorts before its release.
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case (let i?, let j?): return i < j
            case (_?, nil): return true  // numeric identifiers sort before alphanumeric ones
            case (nil, _?): return false
            case (nil, nil): return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }
}

/// A version as written in a range: any of major/minor/patch may be missing or a wildcard.
struct PartialVersion {
    var major: Int?
    var minor: Int?
    var patch: Int?
    var prerelease: [String] = []

    init?(parsing text: Substring, allowWildcards: Bool) {
        var s = text
        if s.first == "v" || s.first == "V" { s = s.dropFirst() }
        if let plus = s.firstIndex(of: "+") {
            let build = s[s.index(after: plus)...]
            guard !build.isEmpty, build.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isIdentifier) else {
                return nil
            }
            s = s[..<plus]
        }
        if let dash = s.firstIndex(of: "-") {
            let pre = s[s.index(after: dash)...]
            let ids = pre.split(separator: ".", omittingEmptySubsequences: false)
            guard !pre.isEmpty, ids.allSatisfy(Self.isIdentifier) else { return nil }
            prerelease = ids.map(String.init)
            s = s[..<dash]
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int?] = []
        var sawWildcard = false
        for part in parts {
            if allowWildcards && (part == "x" || part == "X" || part == "*") {
                sawWildcard = true
                numbers.append(nil)
                continue
            }
            // A number after a wildcard (`1.x.3`) is not meaningful.
            guard !sawWildcard, !part.isEmpty, part.count <= 9, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part == "0" || part.first != "0"
            else { return nil }
            numbers.append(Int(part))
        }
        if !prerelease.isEmpty && (numbers.count < 3 || numbers.contains { $0 == nil }) && allowWildcards { return nil }
        while numbers.count < 3 { numbers.append(nil) }
        major = numbers[0]; minor = numbers[1]; patch = numbers[2]
    }

    private static func isIdentifier(_ s: Substring) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    /// The lowest version this partial version covers (`1.2` → `1.2.0`).
    var floor: SemanticVersion { SemanticVersion(major ?? 0, minor ?? 0, patch ?? 0, prerelease: prerelease) }
    var isFull: Bool { major != nil && minor != nil && patch != nil }
}

/// An npm-style range: comparator sets joined by `||`; a set is space-separated comparators
/// (`>=3.18 <4`), a hyphen range (`1.2 - 1.4`), an x-range (`3.x`, `*`), `~` or `^`.
public struct SemverRange: Sendable, Hashable, CustomStringConvertible {
    struct Comparator: Sendable, Hashable {
        enum Op: String, Sendable { case lt = "<", le = "<=", gt = ">", ge = ">=", eq = "=" }
        var op: Op
        var version: SemanticVersion

        func test(_ v: SemanticVersion) -> Bool {
            switch op {
            case .lt: v < version
            case .le: v <= version
            case .gt: v > version
            case .ge: v >= version
            case .eq: v == version
            }
        }
    }

    /// Each inner array is a set of comparators that must all hold; any set may match.
    var sets: [[Comparator]]
    public let text: String
    /// The selector's `prerelease: true` (npm's `includePrerelease`): pre-releases are tested
    /// against the comparators like any other version.
    public let includesPrereleases: Bool
    public var description: String { text }

    public init(parsing text: String) throws(SemverRangeError) {
        try self.init(parsing: text, includePrereleases: false)
    }

    public init(parsing text: String, includePrereleases: Bool) throws(SemverRangeError) {
        self.text = text
        self.includesPrereleases = includePrereleases
        var sets: [[Comparator]] = []
        for alternative in text.split(separator: "||", omittingEmptySubsequences: false).map({
            $0.split(separator: "|", omittingEmptySubsequences: false)
        }) {
            guard alternative.count == 1 else { throw .invalid(text, reason: "use '||' to join alternatives") }
            sets.append(try SemverRange.parseSet(alternative[0], whole: text, includePrereleases: includePrereleases))
        }
        self.sets = sets
    }

    /// npm's rule: a version with a pre-release only matches a set that names a pre-release of the
    /// same major.minor.patch, so `>=3.18` never picks `3.21.0-rc1` — unless the range includes
    /// pre-releases (`prerelease: true`), when every version is simply tested against the set.
    public func contains(_ v: SemanticVersion) -> Bool {
        sets.contains { set in
            guard set.allSatisfy({ $0.test(v) }) else { return false }
            if v.prerelease.isEmpty || includesPrereleases { return true }
            return set.contains { !$0.version.prerelease.isEmpty && $0.version.triple == v.triple }
        }
    }

    private static func parseSet(_ raw: Substring, whole: String, includePrereleases: Bool) throws(SemverRangeError) -> [Comparator] {
        // Join an operator separated from its version by spaces (`>= 3.18`).
        var tokens: [Substring] = []
        for token in raw.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            if let last = tokens.last, ["<", "<=", ">", ">=", "=", "~", "^", "~>"].contains(String(last)) {
                tokens[tokens.count - 1] = Substring(String(last) + String(token))
            } else {
                tokens.append(token)
            }
        }
        if tokens.isEmpty { return [] }  // empty set: any version
        if tokens.count == 3 && tokens[1] == "-" {
            guard let low = PartialVersion(parsing: tokens[0], allowWildcards: true),
                let high = PartialVersion(parsing: tokens[2], allowWildcards: true)
            else {
                throw .invalid(whole, reason: "'\(raw)' is not a valid hyphen range")
            }
            var out = [Comparator(op: .ge, version: low.floor)]
            out.append(contentsOf: upperBound(high, inclusiveWhenFull: true))
            return out
        }
        var out: [Comparator] = []
        for token in tokens {
            guard token != "-" else { throw .invalid(whole, reason: "a hyphen range needs exactly one version on each side of ' - '") }
            out.append(contentsOf: try parseComparator(token, whole: whole, includePrereleases: includePrereleases))
        }
        return out
    }

    private static func parseComparator(_ token: Substring, whole: String, includePrereleases: Bool) throws(SemverRangeError)
        -> [Comparator]
    {
        var opText = ""
        var rest = token
        for candidate in ["<=", ">=", "~>", "<", ">", "=", "~", "^"] where rest.hasPrefix(candidate) {
            opText = candidate
            rest = rest.dropFirst(candidate.count)
            break
        }
        if rest == "*" || rest == "x" || rest == "X" || rest.isEmpty {
            guard rest.isEmpty == false || opText.isEmpty == false else { return [] }
            if opText == "<" || opText == ">" {
                // `<*` / `>*` match nothing; express as an impossible pair.
                return [
                    Comparator(op: .lt, version: SemanticVersion(0, 0, 0, prerelease: ["0"])),
                    Comparator(op: .gt, version: SemanticVersion(0, 0, 0, prerelease: ["0"]))
                ]
            }
            return []
        }
        guard let v = PartialVersion(parsing: rest, allowWildcards: true), v.major != nil else {
            throw .invalid(whole, reason: "'\(token)' is not a version comparator")
        }
        let floor = v.floor
        switch opText {
        case "", "=":
            if v.isFull { return [Comparator(op: .eq, version: floor)] }
            return [Comparator(op: .ge, version: floor)] + upperBound(v, inclusiveWhenFull: false)
        case ">=":
            return [Comparator(op: .ge, version: floor)]
        case "<":
            // With pre-releases included, `<4` must still stop below 4's pre-releases (`4.0.0-rc1`
            // sorts below `4.0.0`), as npm's includePrerelease reads it: `<4.0.0-0`. A full version
            // (`<4.0.0`) is taken literally.
            if includePrereleases && !v.isFull {
                return [Comparator(op: .lt, version: SemanticVersion(floor.major, floor.minor, floor.patch, prerelease: ["0"]))]
            }
            return [Comparator(op: .lt, version: floor)]
        case ">":
            if v.isFull { return [Comparator(op: .gt, version: floor)] }
            // `>1.2` means `>=1.3.0`.
            return [Comparator(op: .ge, version: bump(v))]
        case "<=":
            if v.isFull { return [Comparator(op: .le, version: floor)] }
            return [Comparator(op: .lt, version: bump(v))]
        case "~", "~>":
            // `~1.2.3` → `<1.3.0`; `~1` → `<2.0.0`.
            let upper =
                v.minor == nil
                ? SemanticVersion(floor.major + 1, 0, 0, prerelease: ["0"])
                : SemanticVersion(floor.major, floor.minor + 1, 0, prerelease: ["0"])
            return [Comparator(op: .ge, version: floor), Comparator(op: .lt, version: upper)]
        case "^":
            // Bump the left-most non-zero part among those written.
            let upper: SemanticVersion
            if floor.major > 0 || v.minor == nil {
                upper = SemanticVersion(floor.major + 1, 0, 0, prerelease: ["0"])
            } else if floor.minor > 0 || v.patch == nil {
                upper = SemanticVersion(0, floor.minor + 1, 0, prerelease: ["0"])
            } else {
                upper = SemanticVersion(0, 0, floor.patch + 1, prerelease: ["0"])
            }
            return [Comparator(op: .ge, version: floor), Comparator(op: .lt, version: upper)]
        default:
            throw .invalid(whole, reason: "unknown operator in '\(token)'")
        }
    }

    /// The smallest version above everything a partial version covers (`1.2` → `1.3.0-0`).
    private static func bump(_ v: PartialVersion) -> SemanticVersion {
        if v.minor == nil { return SemanticVersion((v.major ?? 0) + 1, 0, 0, prerelease: ["0"]) }
        return SemanticVersion(v.major ?? 0, (v.minor ?? 0) + 1, 0, prerelease: ["0"])
    }

    private static func upperBound(_ v: PartialVersion, inclusiveWhenFull: Bool) -> [Comparator] {
        if v.isFull { return [Comparator(op: .le, version: v.floor)] }
        return [Comparator(op: .lt, version: bump(v))]
    }
}

public enum SemverRangeError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let text, let reason): "invalid semver range '\(text)': \(reason)"
        }
    }
}
