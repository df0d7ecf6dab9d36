import OCI

/// Where an image comes from (docs/jobfile.md "Sources").
///
/// Splitting rule for the file forms (`oci:`, `oci-archive:`, `docker-archive:`): PATH ends at the
/// first `:` — so a PATH cannot contain `:` — and everything after it is REF (which may itself
/// contain `:`, as in `docker-archive:app.tar:team/app:1.0`). For the OCI forms a REF of
/// `@sha256:…` selects a manifest by digest; `oci:DIR@sha256:…` (no `:` before `@`) is accepted
/// too, so for the OCI forms PATH also cannot contain `@`.
///
/// REF rules (docs/jobfile.md "Sources", docs/image-sources.md), checked here so that `validate` reports a
/// bad REF at its file, line and column instead of the run finding it later:
/// - OCI: an `org.opencontainers.image.ref.name` (its grammar), matched exactly against
///   `index.json`, or `@sha256:…`.
/// - docker-archive: a RepoTag, `NAME[:TAG]` with docker's normalisation (`app` = `app:latest`),
///   or `@sha256:…`, the image ID (config digest). `NAME@sha256:…` is refused: a RepoTag has no digest.
/// - The default tag (no `tags:`) is the REF's tag part, by `OCI.SourceRefTag`, the same rule the
///   layout and archive lookups use: `registry.example.com/team/app:1.4` gives `1.4`.
public enum SourceSpec: Sendable, Hashable {
    case ociLayout(path: String, ref: SourceRef?)
    case ociArchive(path: String, ref: SourceRef?)
    case dockerArchive(path: String, ref: String?)
    case registry(ImageReference)
    /// `docker-daemon:NAME[:TAG]` or `docker-daemon:sha256:ID`, skopeo's spelling: an image in the
    /// container engine's store (docs/image-sources.md "docker-daemon"). `name` is a reference with
    /// its tag (`:latest` when none was written, as docker reads it) or the image ID `sha256:…`.
    case engine(name: String)

    /// The transport prefix as written in job files.
    public var transport: String {
        switch self {
        case .ociLayout: "oci"
        case .ociArchive: "oci-archive"
        case .dockerArchive: "docker-archive"
        case .registry: "docker"
        case .engine: "docker-daemon"
        }
    }

    /// The tag the source itself names, if known without reading it: the tag part of REF
    /// (`oci:dir:registry.example.com/team/app:1.4` → `1.4`, `oci:dir:1.4` → `1.4`,
    /// `docker-archive:a.tar:app` → `latest`), or of a `docker://` reference.
    public var ownTag: String? {
        switch self {
        case .ociLayout(_, .name(let n)), .ociArchive(_, .name(let n)): SourceRefTag.tag(of: n, bareName: .isTheTag)
        case .dockerArchive(_, let ref?) where !ref.hasPrefix("@"): SourceRefTag.tag(of: ref, bareName: .meansLatest)
        case .registry(let r): r.tag
        case .engine(let name): Self.isImageID(name) ? nil : SourceRefTag.tag(of: name, bareName: .meansLatest)
        default: nil
        }
    }

    /// `sha256:` and 64 hex digits: an engine's image ID rather than a name.
    static func isImageID(_ text: String) -> Bool {
        text.hasPrefix("sha256:") && text.count == 71 && text.dropFirst(7).allSatisfy(\.isHexDigit)
    }

    /// True when the source cannot have a tag of its own (so `tags:` must be given): selected by
    /// digest, or by an OCI `ref.name` without a tag part (`team/app`).
    public var certainlyHasNoTag: Bool {
        switch self {
        case .ociLayout(_, .digest), .ociArchive(_, .digest): true
        case .ociLayout(_, .name), .ociArchive(_, .name): ownTag == nil
        case .dockerArchive(_, let ref?): ref.hasPrefix("@")
        case .registry(let r): r.tag == nil
        case .engine(let name): Self.isImageID(name)
        default: false
        }
    }

    /// The `ref.name` REF of an OCI layout or archive, if it has one.
    public var ociRefName: String? {
        switch self {
        case .ociLayout(_, .name(let n)), .ociArchive(_, .name(let n)): n
        default: nil
        }
    }

    /// The file or directory path for the file forms (absolute after loading).
    public var path: String? {
        switch self {
        case .ociLayout(let p, _), .ociArchive(let p, _), .dockerArchive(let p, _): p
        case .registry, .engine: nil
        }
    }

    /// Parses a `source:` value; relative paths are resolved against `directory`.
    public static func parse(_ text: String, relativeTo directory: String) -> Result<SourceSpec, SourceSpecError> {
        if text.hasPrefix("docker://") {
            let refText = String(text.dropFirst("docker://".count))
            do {
                return .success(.registry(try ImageReference(parsing: refText)))
            } catch {
                return .failure(.reference(error))
            }
        }
        if text.hasPrefix("docker-daemon:") {
            let name = String(text.dropFirst("docker-daemon:".count))
            guard !name.isEmpty else { return .failure(.missingPath("docker-daemon")) }
            if isImageID(name) { return .success(.engine(name: name)) }
            do {
                let parsed = try ImageReference(parsing: name)
                guard parsed.digest == nil else { return .failure(.engineRefNeedsTag(name)) }
                // As docker reads it: no tag means `:latest`.
                return .success(.engine(name: parsed.tag == nil ? name + ":latest" : name))
            } catch {
                return .failure(.reference(error))
            }
        }
        let forms: [(String, String)] = [("oci-archive:", "oci-archive"), ("docker-archive:", "docker-archive"), ("oci:", "oci")]
        guard let (prefix, transport) = forms.first(where: { text.hasPrefix($0.0) }) else {
            return .failure(.unknownTransport(text))
        }
        let body = text.dropFirst(prefix.count)
        if transport == "docker-archive" {
            let path: Substring, ref: String?
            if let colon = body.firstIndex(of: ":") {
                path = body[..<colon]
                ref = String(body[body.index(after: colon)...])
            } else {
                path = body; ref = nil
            }
            guard !path.isEmpty else { return .failure(.missingPath(transport)) }
            if let ref {
                guard !ref.isEmpty else { return .failure(.emptyRef) }
                if ref.hasPrefix("@") {
                    // The image ID (config digest), as the archive lookup accepts it.
                    do { _ = try Digest(parsing: String(ref.dropFirst())) } catch { return .failure(.digest(error)) }
                } else {
                    do {
                        // A RepoTag: NAME[:TAG]; without a tag it means NAME:latest, as in docker.
                        let parsed = try ImageReference(parsing: ref)
                        guard parsed.digest == nil else { return .failure(.archiveRefNeedsTag(ref)) }
                    } catch {
                        return .failure(.reference(error))
                    }
                }
            }
            return .success(.dockerArchive(path: resolve(String(path), in: directory), ref: ref))
        }

        let split = body.firstIndex { $0 == ":" || $0 == "@" }
        let path = split.map { body[..<$0] } ?? body
        guard !path.isEmpty else { return .failure(.missingPath(transport)) }
        var ref: SourceRef?
        if let split {
            var refText = body[split...]
            if refText.first == ":" { refText = refText.dropFirst() }
            guard !refText.isEmpty else { return .failure(.emptyRef) }
            if refText.first == "@" {
                do { ref = .digest(try Digest(parsing: String(refText.dropFirst()))) } catch {
                    return .failure(.digest(error))
                }
            } else {
                guard isValidRefName(refText) else { return .failure(.invalidRefName(String(refText))) }
                ref = .name(String(refText))
            }
        }
        let resolved = resolve(String(path), in: directory)
        return .success(transport == "oci" ? .ociLayout(path: resolved, ref: ref) : .ociArchive(path: resolved, ref: ref))
    }

    /// The `org.opencontainers.image.ref.name` grammar of the OCI image layout spec:
    /// components `[A-Za-z0-9]+((-|\.|_|:|@|\+|--)[A-Za-z0-9]+)*` separated by `/`.
    static func isValidRefName(_ s: Substring) -> Bool {
        s.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            let c = Array(component.utf8)
            guard let f = c.first, let l = c.last, isAlnum(f), isAlnum(l) else { return false }
            var i = 0
            while i < c.count {
                if isAlnum(c[i]) { i += 1; continue }
                var j = i
                while j < c.count && !isAlnum(c[j]) { j += 1 }
                let run = String(decoding: c[i..<j], as: UTF8.self)
                guard ["-", ".", "_", ":", "@", "+", "--"].contains(run) else { return false }
                i = j
            }
            return true
        }
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
    }

    /// Joins a relative path to `directory` and removes `.` and `..` segments.
    public static func resolve(_ path: String, in directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// REF of an OCI layout or archive: a `ref.name` or a manifest digest.
public enum SourceRef: Sendable, Hashable, CustomStringConvertible {
    case name(String)
    case digest(Digest)

    public var description: String {
        switch self {
        case .name(let n): n
        case .digest(let d): "@" + d.string
        }
    }
}

public enum SourceSpecError: Error, Sendable, Equatable {
    case unknownTransport(String)
    case missingPath(String)
    case emptyRef
    case invalidRefName(String)
    case digest(DigestError)
    case reference(ReferenceError)
    /// A docker-archive REF that is a reference with a digest (`app@sha256:…`), which no RepoTag
    /// is. (The name predates untagged REFs, which now mean `:latest`.)
    case archiveRefNeedsTag(String)
    /// A `docker-daemon:` reference with a digest: the engine stores images by name and tag, or by ID.
    case engineRefNeedsTag(String)
}

extension SourceSpecError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownTransport(let t):
            "unknown source '\(t)': expected oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG] or docker://REFERENCE"
                + ((try? ImageReference(parsing: t)) != nil ? "; for a registry image write 'docker://\(t)'" : "")
        case .missingPath(let transport): "'\(transport):' needs a path"
        case .emptyRef: "empty REF after ':'; remove the ':' or name a reference"
        case .invalidRefName(let r): "'\(r)' is not a valid OCI reference name (org.opencontainers.image.ref.name)"
        case .digest(let e): "invalid REF digest: \(e)"
        case .reference(let e): e.description
        case .engineRefNeedsTag(let r):
            "docker-daemon reference '\(r)' must be NAME[:TAG] or sha256:ID (the engine's image ID); a digest of a registry manifest is not how the engine names images"
        case .archiveRefNeedsTag(let r):
            "docker-archive REF '\(r)' must be one of the archive's RepoTags, NAME[:TAG] (a RepoTag carries no digest), or @sha256:… naming the image ID"
        }
    }
}
