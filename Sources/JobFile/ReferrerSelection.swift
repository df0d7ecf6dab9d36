import YAML

/// `referrers:` of an image or of `defaults` (README "Signatures and SBOMs"): bring the image's
/// referrers (signatures, SBOMs, attestations — manifests whose `subject` is the image) along,
/// all of them (`true`) or those of some artifact types (`{artifactTypes: [...]}`); `false`
/// turns a default off for one image.
public struct ReferrerSelection: Sendable, Hashable {
    public var enabled: Bool
    /// nil: every artifact type.
    public var artifactTypes: [String]?

    public init(enabled: Bool, artifactTypes: [String]? = nil) {
        self.enabled = enabled
        self.artifactTypes = artifactTypes
    }

    /// Whether a referrer of this artifact type is brought along.
    public func selects(_ artifactType: String?) -> Bool {
        guard enabled else { return false }
        guard let artifactTypes else { return true }
        return artifactType.map(artifactTypes.contains) ?? false
    }
}

extension Job {
    /// The referrers an image entry brings along (its own `referrers:`, else `defaults`); nil: none.
    public func referrers(of image: ImageEntry) -> ReferrerSelection? {
        let selection = image.referrers ?? defaults.referrers
        return selection?.enabled == true ? selection : nil
    }
}

extension JobDecoder {
    static let referrersKeys = ["artifactTypes"]

    mutating func decodeReferrers(_ node: Node, _ what: String) -> ReferrerSelection? {
        if node.mapping != nil {
            guard let f = context.fields(node, in: what, known: Self.referrersKeys, required: ["artifactTypes"]) else { return nil }
            guard let n = f["artifactTypes"], let list = context.stringList(n, "'artifactTypes' of \(what)"),
                list.count == n.sequence?.count
            else { return nil }
            if list.isEmpty {
                context.error(
                    n.location,
                    "'artifactTypes' of \(what) is empty; list media types such as application/vnd.dev.sigstore.bundle.v0.3+json, or write 'referrers: true' for all"
                )
                return nil
            }
            var types: [String] = []
            for (type, location) in list {
                guard Self.isMediaType(type) else {
                    context.error(location, "'\(type)' in 'artifactTypes' of \(what) is not a media type (type/subtype)")
                    return nil
                }
                if !types.contains(type) { types.append(type) }
            }
            return ReferrerSelection(enabled: true, artifactTypes: types)
        }
        guard let enabled = context.bool(node, what) else { return nil }
        return ReferrerSelection(enabled: enabled)
    }

    /// `type/subtype` with the characters RFC 6838 allows (plus `+` suffixes).
    static func isMediaType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty
                && part.unicodeScalars.allSatisfy { c in
                    ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || "!#$&-^_.+".unicodeScalars.contains(c)
                }
        }
    }
}
