import Foundation
import JobFile
import OCI
import Registry

/// The parsers that read bytes pushctl does not control: job files (YAML, written by people) and
/// what registries answer (manifests and indexes, tag-list pages, `WWW-Authenticate` challenges).
/// Each target feeds one input to one parser. Every input is fine to reject; none may crash,
/// hang or trip a sanitizer, and the few invariants checked below must hold on what is accepted.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case manifest
    case tags
    case auth
    case jobfile


    /// Feeds `bytes` to this target's parser; returns normally unless a check fails (a trap).
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .manifest: Self.manifest(bytes)
        case .tags: Self.tags(bytes)
        case .auth: Self.auth(bytes)
        case .jobfile: Self.jobfile(bytes)
        }
    }

    /// `ManifestDocument.parse`: what the source or target registry calls a manifest or index.
    static func manifest(_ bytes: [UInt8]) {
        guard let (mediaType, document) = try? ManifestDocument.parse(bytes) else { return }
        // Parsing is a pure function of the bytes.
        guard let again = try? ManifestDocument.parse(bytes), again.mediaType == mediaType, again.document == document else {
            fatalError("ManifestDocument.parse is not deterministic")
        }
        // An image has its config first among its blobs; an index has no blobs.
        switch document {
        case .image(let config, let layers):
            check(document.blobs.first == config && document.blobs.count == layers.count + 1, "image blobs")
        case .index(let manifests):
            check(document.blobs.isEmpty && document.children == manifests, "index children")
        }
    }

    /// A `tags/list` page and its `Link` header: the body goes to the JSON decoder, the same bytes
    /// (as text) to the `rel="next"` parser and URL resolution.
    static func tags(_ bytes: [UInt8]) {
        _ = RegistryClient.decodeTagPage(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        if let next = RegistryClient.nextLink([text]) {
            _ = RegistryClient.resolve(next, against: "http://127.0.0.1:5000/v2/fuzz/tags/list?n=10")
        }
    }

    /// `WWW-Authenticate` parsing: one header value, and the bytes split at newlines as several.
    static func auth(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let challenges = AuthChallenge.parse(text)
        for challenge in challenges {
            check(!challenge.scheme.isEmpty && challenge.scheme == challenge.scheme.lowercased(), "scheme lower-cased")
            check(challenge.parameters.keys.allSatisfy { $0 == $0.lowercased() }, "parameter names lower-cased")
        }
        _ = AuthChallenge.parse(text.split(separator: "\n").map(String.init))
    }

    /// The whole job-file loader: size and UTF-8 checks, libyaml, anchors and aliases, `${VAR}`
    /// substitution, decoding and every validation rule. Relative paths are anchored at a
    /// directory that does not exist; loading reads no other file.
    static func jobfile(_ bytes: [UInt8]) {
        let environment = ["REGISTRY": "127.0.0.1:5000", "TAG": "1.0", "EMPTY": ""]
        switch JobLoader.load(bytes: bytes, path: "/nonexistent/fuzz/job.yaml", environment: environment) {
        case .success(let job):
            check(job.fileDigest == Digest.of(bytes), "file digest")
        case .failure(let errors):
            // A rejected file always says why.
            check(!errors.problems.isEmpty, "a failure names at least one problem")
        }
    }

    private static func check(_ condition: Bool, _ what: String) {
        if !condition { fatalError("fuzz invariant broken: \(what)") }
    }
}
