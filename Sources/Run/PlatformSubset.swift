import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import RegistrySource

/// `platforms:` (README "Platform filtering"): an index is pushed with only the entries whose
/// platform is selected — the source's bytes with the other entries cut out, nothing re-encoded,
/// so the pushed index keeps the source's key order and fields and a rerun pushes the same
/// digest. The push records the source's digest and the pushed one. A single image manifest
/// whose platform is not selected is an error of its item: pushing it anyway would put a
/// platform the job excludes, and pushing nothing would hide that.
enum PlatformSubset {
    /// The narrowed root of an index: its new descriptor and bytes.
    struct Narrowed {
        var root: Descriptor
        var bytes: [UInt8]
    }

    /// Applies `platforms` to a fully loaded image (local sources, and a `docker://` image once
    /// its content is loaded).
    static func apply(_ image: SourceImage, platforms: [PlatformSelector]) throws(PlatformSubsetError) -> SourceImage {
        guard let rootBytes = image.manifests.last(where: { $0.descriptor.digest == image.root.digest })?.bytes else {
            throw .unreadable(source: image.description, reason: "the root manifest was not loaded")
        }
        guard MediaType.isIndex(image.root.mediaType) else {
            try checkSingleImage(image, rootBytes: rootBytes, platforms: platforms)
            return image
        }
        let narrowed = try narrow(image.root, bytes: rootBytes, platforms: platforms, source: image.description)
        if narrowed.root.digest == image.root.digest { return image }

        // Keep the manifests the narrowed index still reaches, and the blobs they name, in the
        // source's order (children before parents).
        let bytesByDigest = Dictionary(image.manifests.map { ($0.descriptor.digest, $0.bytes) }, uniquingKeysWith: { a, _ in a })
        var reachable: Set<Digest> = []
        var blobDigests: Set<Digest> = []
        func walk(_ bytes: [UInt8]) {
            guard let document = try? ManifestDocument.parse(bytes).document else { return }
            for blob in document.blobs { blobDigests.insert(blob.digest) }
            for child in document.children where reachable.insert(child.digest).inserted {
                if let childBytes = bytesByDigest[child.digest] { walk(childBytes) }
            }
        }
        walk(narrowed.bytes)
        var out = image
        out.root = narrowed.root
        out.manifests = image.manifests.filter { reachable.contains($0.descriptor.digest) } + [(narrowed.root, narrowed.bytes)]
        out.blobs = image.blobs.filter { blobDigests.contains($0.digest) }
        out.sourceDigest = image.sourceDigest ?? image.root.digest
        return out
    }

    /// A `docker://` image is read lazily: its root is narrowed now (one `GET` of the index, so the
    /// tag checks compare against the digest that will be pushed), the rest when a tag needs pushing.
    static func apply(
        _ image: SourceImage, registrySource: RegistryImageSource,
        platforms: [PlatformSelector]
    ) throws(PlatformSubsetError) -> SourceImage {
        guard let load = image.loadContent else { return try apply(image, platforms: platforms) }
        let rootBytes: [UInt8]
        do { rootBytes = try registrySource.rootManifestBytes() } catch {
            throw .unreadable(source: image.description, reason: error.description)
        }
        guard MediaType.isIndex(image.root.mediaType) else {
            try checkSingleImage(image, rootBytes: rootBytes, platforms: platforms)
            return image
        }
        let narrowed = try narrow(image.root, bytes: rootBytes, platforms: platforms, source: image.description)
        var out = image
        out.root = narrowed.root
        out.sourceDigest = image.root.digest
        out.loadContent = { @Sendable () throws -> SourceImage in
            try PlatformSubset.apply(try load(), platforms: platforms)
        }
        return out
    }

    /// The index with only the selected entries (at least one).
    static func narrow(
        _ root: Descriptor, bytes: [UInt8], platforms: [PlatformSelector],
        source: String
    ) throws(PlatformSubsetError) -> Narrowed {
        let children: [Descriptor]
        do { children = try ManifestDocument.parse(bytes).document.children } catch {
            throw .unreadable(source: source, reason: error.description)
        }
        let entries: IndexEntries
        do { entries = try IndexEntries(bytes) } catch { throw .unreadable(source: source, reason: error.description) }
        guard entries.spans.count == children.count else {
            throw .unreadable(source: source, reason: "the index's entries could not be told apart")
        }
        var keep: Set<Int> = []
        for (i, child) in children.enumerated() {
            if let platform = child.platform, platforms.contains(where: { $0.matches(platform) }) { keep.insert(i) }
        }
        guard !keep.isEmpty else {
            throw .noneSelected(source: source, selected: platforms, available: children.compactMap(\.platform))
        }
        if keep.count == children.count { return Narrowed(root: root, bytes: bytes) }
        let narrowed = entries.keeping(keep)
        var descriptor = root
        descriptor.digest = Digest.of(narrowed)
        descriptor.size = Int64(narrowed.count)
        return Narrowed(root: descriptor, bytes: narrowed)
    }

    /// A single image's platform (from its config) must be selected.
    static func checkSingleImage(_ image: SourceImage, rootBytes: [UInt8], platforms: [PlatformSelector]) throws(PlatformSubsetError) {
        guard case .image(let config, _)? = try? ManifestDocument.parse(rootBytes).document else {
            throw .unreadable(source: image.description, reason: "the root manifest is neither an index nor an image manifest")
        }
        struct Config: Decodable { var os: String?; var architecture: String?; var variant: String? }
        let parsed: Config
        do {
            let stream = try image.payload(config).open(0)
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if n == 0 { break }
                bytes += buffer[..<n]
                guard bytes.count <= 16 << 20 else {
                    throw PlatformSubsetError.unreadable(source: image.description, reason: "config larger than 16 MiB")
                }
            }
            parsed = try JSONDecoder().decode(Config.self, from: Data(bytes))
        } catch {
            throw .unreadable(source: image.description, reason: "reading the config \(config.digest): \(error)")
        }
        let platform = Platform(architecture: parsed.architecture ?? "", os: parsed.os ?? "", variant: parsed.variant)
        guard platforms.contains(where: { $0.matches(platform) }) else {
            throw .singleImageNotSelected(source: image.description, platform: platform, selected: platforms)
        }
    }
}

public enum PlatformSubsetError: Error, CustomStringConvertible {
    /// An index none of whose entries is selected.
    case noneSelected(source: String, selected: [PlatformSelector], available: [Platform])
    /// A single image (not an index) of a platform that `platforms:` does not name.
    case singleImageNotSelected(source: String, platform: Platform, selected: [PlatformSelector])
    case unreadable(source: String, reason: String)

    public var description: String {
        switch self {
        case .noneSelected(let source, let selected, let available):
            "\(source): none of the platforms \(selected.map(\.description).joined(separator: ", ")) is in the index (it has \(available.isEmpty ? "no platform entries" : available.map(\.description).joined(separator: ", ")))"
        case .singleImageNotSelected(let source, let platform, let selected):
            "\(source) is a single image for platform \(platform), which 'platforms' (\(selected.map(\.description).joined(separator: ", "))) does not select"
        case .unreadable(let source, let reason):
            "\(source): cannot apply 'platforms': \(reason)"
        }
    }
}

extension Job {
    /// The platforms a plan item keeps (its image entry's, else the job's defaults).
    func platforms(of item: PlanItem) -> [PlatformSelector]? {
        guard let entry = images.first(where: { $0.index == item.imageIndex }) else { return defaults.platforms }
        return platforms(of: entry)
    }
}

extension Job {
    /// The referrers a plan item brings along (its image entry's `referrers:`, else the defaults').
    func referrers(of item: PlanItem) -> ReferrerSelection? {
        guard let entry = images.first(where: { $0.index == item.imageIndex }) else {
            return defaults.referrers?.enabled == true ? defaults.referrers : nil
        }
        return referrers(of: entry)
    }
}
