/// The tag a local source's REF stands for (docs/jobfile.md "Tags": omitted `tags:` means the
/// source's own tag). One rule, used both when a job is validated and planned (`SourceSpec.ownTag`)
/// and when the source is read (the layout or archive lookup), so the two can never disagree.
public enum SourceRefTag {
    /// How a REF without a `:TAG` part is read.
    public enum BareName: Sendable {
        /// OCI `org.opencontainers.image.ref.name`: usually just the tag (`skopeo copy … oci:dir:1.4`
        /// writes `1.4`), so a bare name without `/` is the tag itself; `team/app` names no tag.
        case isTheTag
        /// docker RepoTags: a name without a tag means `latest`, as in `docker save app`.
        case meansLatest
    }

    /// The tag part of `reference`: the text after the last `:` that follows the last `/`
    /// (`registry.example.com:5000/team/app:1.4` → `1.4`; the port's `:` is not a tag), before any
    /// `@digest`. Nil when it names no tag or the tag is not a valid tag
    /// (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`), and for a digest alone (`@sha256:…`).
    public static func tag(of reference: String, bareName: BareName) -> String? {
        var ref = Substring(reference)
        var hadDigest = false
        if let at = ref.firstIndex(of: "@") {
            ref = ref[..<at]
            hadDigest = true
            if ref.isEmpty { return nil }
        }
        let lastSlash = ref.lastIndex(of: "/")
        if let colon = ref.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tag = String(ref[ref.index(after: colon)...])
            return ImageReference.isValidTag(tag) ? tag : nil
        }
        // `name@sha256:…` selects by digest: the digest, not a default tag, decides.
        if hadDigest { return nil }
        switch bareName {
        case .isTheTag: return lastSlash == nil && ImageReference.isValidTag(String(ref)) ? String(ref) : nil
        case .meansLatest: return "latest"
        }
    }
}
