import Foundation

/// Applies a `TagSelector` to a source repository's tag list (docs/jobfile.md "Tags").
///
/// `match` and every `exclude` pattern are anchored: they must match the whole tag
/// (`^(?:PATTERN)$`), so `3\.[0-9]+` does not pick `3.19-alpine`.
public enum TagSelection {
    /// The error text when `pattern` does not compile, else nil.
    public static func compileProblem(_ pattern: String) -> String? {
        do {
            _ = try NSRegularExpression(pattern: anchored(pattern))
            return nil
        } catch {
            return "'\(pattern)' does not compile (ICU regular expression syntax)"
        }
    }

    static func anchored(_ pattern: String) -> String { "^(?:\(pattern))$" }

    /// The selected tags, in the source's order; with `latest`, the highest N by semantic-version
    /// order, highest first. Tags that are not versions are dropped when `semver` or `latest` is set.
    ///
    /// Pre-releases (`2.1.0-rc1`) are left out by `semver` and `latest` unless the selector says
    /// `prerelease: true`: `latest: 1` over `2.0.0` and `2.1.0-rc1` is `2.0.0`. A `semver` range that
    /// names a pre-release itself (`>=2.1.0-rc0`) still admits that version's pre-releases (npm's
    /// rule), and `latest` then ranks what the range admitted. `match`/`exclude` alone take
    /// pre-release tags like any other tag.
    public static func select(_ selector: TagSelector, from tags: [String]) throws(TagSelectionError) -> [String] {
        func compile(_ p: String) throws(TagSelectionError) -> NSRegularExpression {
            do { return try NSRegularExpression(pattern: anchored(p)) } catch { throw .invalidPattern(p) }
        }
        func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
            re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
        }
        let match = try selector.match.map { p throws(TagSelectionError) in try compile(p) }
        var excludes: [NSRegularExpression] = []
        for p in selector.exclude { excludes.append(try compile(p)) }
        var range: SemverRange?
        if let text = selector.semver {
            do { range = try SemverRange(parsing: text, includePrereleases: selector.prerelease) } catch { throw .invalidRange(error) }
        }

        var picked = tags.filter { tag in
            if let match, !matches(match, tag) { return false }
            return !excludes.contains { matches($0, tag) }
        }
        if let range {
            picked = picked.filter { SemanticVersion(tag: $0).map(range.contains) ?? false }
        }
        if let latest = selector.latest {
            var versioned = picked.compactMap { tag in SemanticVersion(tag: tag).map { (tag, $0) } }
            // Without a range, `latest` alone would otherwise crown a release candidate over the
            // release before it; a range already decided which pre-releases may stay.
            if !selector.prerelease && range == nil { versioned.removeAll { !$0.1.prerelease.isEmpty } }
            picked = versioned.sorted { a, b in a.1 != b.1 ? a.1 > b.1 : a.0 > b.0 }.prefix(latest).map(\.0)
        }
        return picked
    }
}

public enum TagSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidPattern(String)
    case invalidRange(SemverRangeError)

    public var description: String {
        switch self {
        case .invalidPattern(let p): "invalid tag pattern '\(p)'"
        case .invalidRange(let e): e.description
        }
    }
}
