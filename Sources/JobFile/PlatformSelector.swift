import OCI
import YAML

/// One entry of `platforms:` (an image's or `defaults`'): `os/architecture[/variant]`, as docker
/// and skopeo write platforms. An index is pushed with only the entries it selects.
public struct PlatformSelector: Sendable, Hashable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `os/arch[/variant]`, each part `[a-z0-9._-]+`; nil for anything else.
    public static func parse(_ text: String) -> PlatformSelector? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count),
            parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(isPartCharacter) })
        else { return nil }
        return PlatformSelector(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    private static func isPartCharacter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-"
    }

    /// Whether an index entry's platform is selected. Without a variant any variant matches
    /// (`linux/arm` takes v6 and v7); `arm64` without a variant is `v8`, as containerd normalizes
    /// it, so `linux/arm64/v8` selects an entry that leaves the variant out.
    public func matches(_ platform: Platform) -> Bool {
        guard platform.os == os, platform.architecture == architecture else { return false }
        guard let variant else { return true }
        if let other = platform.variant { return other == variant }
        return architecture == "arm64" && variant == "v8"
    }

    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }
}

extension JobDecoder {
    /// `platforms:` of an image or of `defaults`: a non-empty list of distinct `os/arch[/variant]`.
    mutating func decodePlatforms(_ node: Node, _ what: String) -> [PlatformSelector]? {
        guard node.sequence != nil else {
            context.error(
                node.location, "\(what) must be a list of platforms such as [linux/amd64, linux/arm64/v8], found \(node.kindDescription)")
            return nil
        }
        guard let list = context.stringList(node, what) else { return nil }
        var ok = list.count == node.sequence?.count
        if list.isEmpty && ok {
            context.error(node.location, "\(what) is empty; list at least one platform or leave the key out to push every platform")
            return nil
        }
        var out: [PlatformSelector] = []
        for (text, location) in list {
            guard let selector = PlatformSelector.parse(text) else {
                context.error(
                    location, "invalid platform '\(text)' in \(what): write os/architecture[/variant] in lower case, e.g. linux/arm64/v8")
                ok = false
                continue
            }
            if out.contains(selector) {
                context.error(location, "platform '\(text)' is listed twice in \(what)")
                ok = false
                continue
            }
            out.append(selector)
        }
        return ok ? out : nil
    }
}
