import Foundation
import OCI

/// Where an image comes from (docs/jobfile.md "Sources"). `ref` is an
/// `org.opencontainers.image.ref.name` (OCI) or a `RepoTag` (docker archive), or `@sha256:…` to
/// select by digest; nil means "the only image there".
public enum ImageSourceLocation: Sendable, Hashable, CustomStringConvertible {
    case ociLayout(path: String, ref: String?)
    case ociArchive(path: String, ref: String?)
    case dockerArchive(path: String, ref: String?)

    public var path: String {
        switch self {
        case .ociLayout(let p, _), .ociArchive(let p, _), .dockerArchive(let p, _): p
        }
    }

    public var ref: String? {
        switch self {
        case .ociLayout(_, let r), .ociArchive(_, let r), .dockerArchive(_, let r): r
        }
    }

    public var transport: String {
        switch self {
        case .ociLayout: "oci"
        case .ociArchive: "oci-archive"
        case .dockerArchive: "docker-archive"
        }
    }

    /// `TRANSPORT:PATH[:REF]`, as written in job files.
    public var description: String {
        "\(transport):\(path)" + (ref.map { ":\($0)" } ?? "")
    }

    /// Parses `oci:PATH[:REF]`, `oci-archive:FILE[:REF]` or `docker-archive:FILE[:REF]`.
    /// The REF is split off at the first `:` after the path, except that `@sha256:…` is kept whole;
    /// paths containing `:` are therefore not supported (as with skopeo). Returns nil for other
    /// transports (e.g. `docker://`, which is not a local source).
    public init?(parsing text: String) {
        let transports: [(String, (String, String?) -> ImageSourceLocation)] = [
            ("oci-archive:", { .ociArchive(path: $0, ref: $1) }),
            ("docker-archive:", { .dockerArchive(path: $0, ref: $1) }),
            ("oci:", { .ociLayout(path: $0, ref: $1) })
        ]
        for (prefix, make) in transports where text.hasPrefix(prefix) {
            let rest = String(text.dropFirst(prefix.count))
            guard !rest.isEmpty else { return nil }
            if let colon = rest.firstIndex(of: ":") {
                let path = String(rest[..<colon])
                let ref = String(rest[rest.index(after: colon)...])
                guard !path.isEmpty else { return nil }
                self = make(path, ref.isEmpty ? nil : ref)
            } else {
                self = make(rest, nil)
            }
            return
        }
        return nil
    }
}

/// How sources produce and cache what they compute.
public struct SourceOptions: Sendable {
    /// Where compressed docker-archive layers are cached (keyed by diffID and compression settings).
    public var cacheDirectory: String
    /// zlib level 1...9 for layers compressed from docker archives. Part of the cache key.
    /// Default 1: on a tar of real binaries and docs zlib's level 1 ran at 69 MiB/s per core and
    /// level 6 at 20 MiB/s, for output 13 % larger (35.5 % of the input instead of 31.3 %); the
    /// compressing happens on every cold push, the extra size costs little on the networks
    /// registries sit on (go-containerregistry makes the same choice). Incompressible blocks are
    /// stored whatever the level (see `BlockGzip`).
    public var gzipLevel: Int32
    /// Compression threads while loading a docker archive: layers are compressed side by side, and
    /// a layer's blocks are spread over what the layers leave (see `BlockGzip`). The bytes do not
    /// depend on it.
    public var parallelism: Int
    /// The executor's memory of earlier compressions (diffID → compressed descriptor, from the state
    /// database). When it knows a layer that is not in the cache, `loadGraph` uses that descriptor
    /// without compressing; the layer is compressed only if its bytes are actually opened, and the
    /// result must then match the known digest.
    public var knownCompression: (@Sendable (_ diffID: Digest) -> Descriptor?)?
    /// Told of each layer `loadGraph` compresses as soon as its compression ends, with the bytes
    /// ready to stream, while the other layers are still being compressed: `apply` starts the
    /// layer's upload there (docs/run.md "Upload ahead"). With it set, layers are compressed one
    /// after the other, each on every thread, so the first is ready as early as it can be.
    public var layerCompressed: (@Sendable (_ layer: Descriptor, _ payload: BlobPayload) -> Void)?

    public init(
        cacheDirectory: String = SourceOptions.defaultCacheDirectory(), gzipLevel: Int32 = 1,
        parallelism: Int = max(1, ProcessInfo.processInfo.activeProcessorCount),
        knownCompression: (@Sendable (_ diffID: Digest) -> Descriptor?)? = nil
    ) {
        self.cacheDirectory = cacheDirectory
        self.gzipLevel = gzipLevel
        self.parallelism = parallelism
        self.knownCompression = knownCompression
    }

    /// Names the compressed bytes these settings produce for a layer: the level and the format
    /// (gzip of 1 MiB deflate blocks, each primed with the previous 32 KiB, incompressible blocks
    /// stored). The layer cache uses it in its file names; the executor should key what it
    /// remembers of earlier compressions (diffID → digest) by it too, so that a digest made by
    /// other settings (e.g. an older pushctl's single-stream `gzip-6`) is never taken for one
    /// these settings would produce.
    public var settingsKey: String { "gzip-\(gzipLevel)-blocks1m" }

    /// `$XDG_CACHE_HOME/pushctl`, else `~/.cache/pushctl`.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return (xdg as NSString).appendingPathComponent("pushctl")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".cache/pushctl")
    }
}
