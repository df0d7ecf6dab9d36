import JobFile
import OCI

/// The resolved form of one job: one item per (image entry, target registry), in file order
/// (images as written, then targets as written). Offline plans need no I/O.
public struct Plan: Sendable, Codable {
    public var job: String
    public var file: String
    public var fileDigest: String
    public var defaults: PlanDefaults
    public var items: [PlanItem]
}

public struct PlanDefaults: Sendable, Codable, Hashable {
    public var concurrency: Int
    public var images: Int
    public var retries: Int
}

/// One push: an image entry to one target registry.
public struct PlanItem: Sendable, Codable {
    /// Stable identity (16 hex characters), used by `--shard` and the state database.
    public var id: String
    /// 0-based position of the image entry in `images:`.
    public var imageIndex: Int
    public var source: PlanSource
    /// Registry name from the job file.
    public var registry: String
    /// Repository path as the registry API sees it (Docker Hub one-word names carry `library/`).
    public var repository: String
    public var tags: PlanTags
    /// Endpoints in fallback order.
    public var endpoints: [RegistryEndpoint]

    /// True when this item belongs to shard `index` (0-based) of `count`: the item's stable hash
    /// modulo `count`, so N runners given `0/N` … `N-1/N` split a job without overlap.
    public func inShard(_ index: Int, of count: Int) -> Bool {
        precondition(count > 0 && (0..<count).contains(index), "shard index must be in 0..<count")
        return Int(stableHash % UInt64(count)) == index
    }

    /// The first 8 bytes of the identity as a number.
    public var stableHash: UInt64 { UInt64(id.prefix(16), radix: 16) ?? 0 }
}

/// The source of an item, as written and as resolved without I/O.
public struct PlanSource: Sendable, Codable, Hashable {
    /// The `source:` text after variable substitution.
    public var written: String
    /// The typed source (paths absolute): what preparation reads. Not part of the JSON form, which
    /// spells it out in the fields below.
    public var spec: SourceSpec
    /// `oci`, `oci-archive`, `docker-archive`, `docker-daemon` or `docker`.
    public var transport: String { spec.transport }
    /// Absolute path for the file forms.
    public var path: String? { spec.path }
    /// REF of the file forms (`name` or `@sha256:…`).
    public var ref: String? {
        switch spec {
        case .ociLayout(_, let ref), .ociArchive(_, let ref): ref?.description
        case .dockerArchive(_, let ref): ref
        case .registry, .engine: nil
        }
    }
    /// Canonical reference for `docker://` sources, e.g. `docker.io/library/alpine:3.19`; the
    /// engine's name (or image ID) for `docker-daemon:` sources.
    public var reference: String? {
        switch spec {
        case .registry(let reference): reference.canonicalString
        case .engine(let name): name
        default: nil
        }
    }
    /// Registry API host for `docker://` sources (`registry-1.docker.io` for Docker Hub).
    public var apiHost: String? {
        if case .registry(let reference) = spec { return reference.apiHost }
        return nil
    }

    public init(written: String, spec: SourceSpec) {
        self.written = written
        self.spec = spec
    }

    private enum CodingKeys: String, CodingKey { case written, transport, path, ref, reference, apiHost }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(written, forKey: .written)
        try c.encode(transport, forKey: .transport)
        try c.encodeIfPresent(path, forKey: .path)
        try c.encodeIfPresent(ref, forKey: .ref)
        try c.encodeIfPresent(reference, forKey: .reference)
        try c.encodeIfPresent(apiHost, forKey: .apiHost)
    }

    /// Rebuilds the typed source from the resolved fields (absolute paths, canonical references).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        written = try c.decode(String.self, forKey: .written)
        let transport = try c.decode(String.self, forKey: .transport)
        let text: String
        if transport == "docker" {
            text = "docker://" + (try c.decode(String.self, forKey: .reference))
        } else if transport == "docker-daemon" {
            text = "docker-daemon:" + (try c.decode(String.self, forKey: .reference))
        } else {
            let ref = try c.decodeIfPresent(String.self, forKey: .ref)
            text =
                transport + ":" + (try c.decode(String.self, forKey: .path))
                + (ref.map { $0.hasPrefix("@") ? $0 : ":" + $0 } ?? "")
        }
        switch SourceSpec.parse(text, relativeTo: "/") {
        case .success(let spec): self.spec = spec
        case .failure(let error):
            throw DecodingError.dataCorruptedError(forKey: .written, in: c, debugDescription: "source \(text): \(error)")
        }
    }
}

/// The tags an item pushes.
public enum PlanTags: Sendable, Hashable, Codable {
    case list([String])
    /// The source's own tag: known (`tag`) when the source names it, else read from the source.
    case fromSource(String?)
    /// Tags picked from the source repository when the plan is applied (or planned online).
    case selector(TagSelector)

    private enum CodingKeys: String, CodingKey { case kind, tags, sourceTag, match, exclude, semver, latest, prerelease }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .list(let tags):
            try c.encode("list", forKey: .kind)
            try c.encode(tags, forKey: .tags)
        case .fromSource(let tag):
            try c.encode("from-source", forKey: .kind)
            try c.encode(tag.map { [$0] } ?? [], forKey: .tags)
            try c.encodeIfPresent(tag, forKey: .sourceTag)
        case .selector(let s):
            try c.encode("selector", forKey: .kind)
            try c.encodeIfPresent(s.match, forKey: .match)
            try c.encode(s.exclude, forKey: .exclude)
            try c.encodeIfPresent(s.semver, forKey: .semver)
            try c.encodeIfPresent(s.latest, forKey: .latest)
            if s.prerelease { try c.encode(true, forKey: .prerelease) }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "list": self = .list(try c.decode([String].self, forKey: .tags))
        case "from-source": self = .fromSource(try c.decodeIfPresent(String.self, forKey: .sourceTag))
        default:
            self = .selector(
                TagSelector(
                    match: try c.decodeIfPresent(String.self, forKey: .match),
                    exclude: try c.decodeIfPresent([String].self, forKey: .exclude) ?? [],
                    semver: try c.decodeIfPresent(String.self, forKey: .semver),
                    latest: try c.decodeIfPresent(Int.self, forKey: .latest),
                    prerelease: try c.decodeIfPresent(Bool.self, forKey: .prerelease) ?? false))
        }
    }

    /// One line for text output.
    public var summary: String {
        switch self {
        case .list(let tags): tags.joined(separator: ", ")
        case .fromSource(let tag?): "\(tag) (the source's tag)"
        case .fromSource(nil): "(the source's own tag, read when applied)"
        case .selector(let s):
            selectorSummary(s)
        }
    }

    private func selectorSummary(_ s: TagSelector) -> String {
        var parts = ["match '\(s.match ?? ".*")'"]
        if !s.exclude.isEmpty { parts.append("exclude " + s.exclude.map { "'\($0)'" }.joined(separator: ", ")) }
        if let semver = s.semver { parts.append("semver '\(semver)'") }
        if let latest = s.latest { parts.append("latest \(latest)") }
        if s.prerelease { parts.append("pre-releases included") }
        return "selector: " + parts.joined(separator: ", ")
    }
}
