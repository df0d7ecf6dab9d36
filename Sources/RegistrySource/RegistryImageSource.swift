import Foundation
import ImageSource
import OCI
import Registry
import Threading

/// A `docker://` source: one image (or multi-platform index) in a registry, read with the same
/// client as pushes (docs/jobfile.md "Sources"; docs/replication.md).
///
/// It lives in RegistrySource rather than ImageSource because it needs the registry client, the job's
/// registry settings (`RegistrySourceAccess`) and the run's rate-limit book; ImageSource stays a
/// module of local readers with no network code.
///
/// The root descriptor comes from one `HEAD` of the tag at preparation (free on Docker Hub's rate
/// limit). Everything else is read only when a push needs it (`loadGraph`, through
/// `SourceImage.loadContent`): the root manifest by digest (exact bytes), every child manifest of an
/// index (multi-platform images are copied whole, digests preserved), and blobs streamed straight
/// into the target upload (`RegistryBlobStream`). A rerun whose tags are unchanged reads nothing more.
public final class RegistryImageSource: ImageSource {
    public let description: String
    public let access: RegistrySourceAccess
    /// The repository as the source registry's API names it.
    public let repository: String
    /// What the tag or digest resolved to (from the `HEAD`).
    public let root: Descriptor
    private let loaded = LockedValue<ImageGraph?>(nil)
    /// The root manifest's bytes once read by `rootManifestBytes` (a platform subset needs them at
    /// preparation), so loading the graph later does not read them again.
    private let rootBytes = LockedValue<[UInt8]?>(nil)
    /// Serializes loading, so two pushes of the same source read its manifests once.
    private let loading = Lock()

    public init(description: String, access: RegistrySourceAccess, repository: String, root: Descriptor) {
        self.description = description
        self.access = access
        self.repository = repository
        self.root = root
    }

    /// The whole graph: root and child manifests (exact bytes), blobs. Read once, then cached.
    public func loadGraph() throws(SourceError) -> ImageGraph {
        if let graph = loaded.withLock({ $0 }) { return graph }
        loading.lock()
        defer { loading.unlock() }
        if let graph = loaded.withLock({ $0 }) { return graph }

        var manifests: [(descriptor: Descriptor, bytes: [UInt8])] = []
        var blobs: [Descriptor] = []
        var seenManifests: Set<Digest> = []
        var seenBlobs: Set<Digest> = []
        var platforms: [Platform] = []

        // Depth-first, children appended before their parent (the executor pushes in this order).
        func walk(_ descriptor: Descriptor, depth: Int) throws(SourceError) {
            guard depth < 8 else {
                throw .invalidManifest(source: description, digest: descriptor.digest, reason: "indexes nested more than 8 deep")
            }
            guard seenManifests.insert(descriptor.digest).inserted else { return }
            let bytes = try depth == 0 ? rootManifestBytes() : fetchManifest(descriptor)
            let parsed: (mediaType: String, document: ManifestDocument)
            do {
                parsed = try ManifestDocument.parse(bytes)
            } catch {
                throw .invalidManifest(source: description, digest: descriptor.digest, reason: error.description)
            }
            for child in parsed.document.children {
                if depth == 0, let platform = child.platform { platforms.append(platform) }
                try walk(child, depth: depth + 1)
            }
            for blob in parsed.document.blobs where !blob.isNonDistributable && seenBlobs.insert(blob.digest).inserted {
                blobs.append(blob)
            }
            var own = descriptor
            own.mediaType = parsed.mediaType
            manifests.append((own, bytes))
        }
        try walk(root, depth: 0)

        let graph = ImageGraph(
            root: manifests.last?.descriptor ?? root, sourceTags: [], manifests: manifests,
            blobs: blobs, platforms: platforms, diffIDs: [:])
        loaded.withLock { $0 = graph }
        return graph
    }

    /// The root manifest's exact bytes (one `GET` by digest, then remembered).
    public func rootManifestBytes() throws(SourceError) -> [UInt8] {
        if let bytes = rootBytes.withLock({ $0 }) { return bytes }
        let bytes = try fetchManifest(root)
        rootBytes.withLock { $0 = bytes }
        return bytes
    }

    /// `GET` by digest (a counted pull on Docker Hub: spent from the rate-limit budget first).
    private func fetchManifest(_ descriptor: Descriptor) throws(SourceError) -> [UInt8] {
        let operation = "fetch manifest \(descriptor.digest)"
        do {
            try access.spendPull()
        } catch {
            throw .io(path: description, operation: operation, reason: error.description)
        }
        do {
            let fetched = try access.read { client throws(RegistryError) in
                try client.getManifest(repository, reference: descriptor.digest.string)
            }
            guard Int64(fetched.bytes.count) == descriptor.size else {
                throw SourceError.blobSizeMismatch(
                    source: description, digest: descriptor.digest,
                    expected: descriptor.size, actual: Int64(fetched.bytes.count))
            }
            return fetched.bytes
        } catch let error as SourceError {
            throw error
        } catch {
            throw .io(path: description, operation: operation, reason: String(describing: error))
        }
    }

    /// Blobs stream from the source registry into the upload; manifests come from the loaded graph.
    public func payload(for blob: Descriptor) -> BlobPayload {
        let access = access, repository = repository, description = description
        if let bytes = loaded.withLock({ $0?.manifestBytes(blob.digest) }) {
            return BlobPayload(descriptor: blob) { offset in MemoryBlobStream(bytes, offset: Int(offset)) }
        }
        return BlobPayload(descriptor: blob) { offset in
            try RegistryBlobStream(access: access, repository: repository, blob: blob, sourceName: description, offset: offset)
        }
    }
}
