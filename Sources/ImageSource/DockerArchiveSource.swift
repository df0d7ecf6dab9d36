import Foundation
import OCI
import Threading

/// `docker-archive:FILE[:REF]`: a `docker save` tar, in the classic form (`manifest.json` with
/// `Config`, `RepoTags`, `Layers`) or the Docker 25+ form that also carries an OCI layout
/// (`blobs/`, `index.json`); `manifest.json` is trusted in both (the v25 `index.json` may even say
/// `"manifests": null`).
///
/// Registries want compressed layers, and archives hold uncompressed ones, so `loadGraph` gzips
/// every uncompressed layer (deterministically, see `BlockGzip`; in parallel; into the
/// `LayerCache`) and generates a Docker schema 2 manifest over the config as-is and the gzip
/// layers. Layers that are already gzip pass through unchanged. Foreign layers (a `LayerSources`
/// entry with `urls`) keep their descriptor and are never read. Other `LayerSources` entries are
/// ignored: their compressed bytes are not in the archive.
final class DockerArchiveSource: ImageSource {
    let archive: TarArchive
    let location: ImageSourceLocation
    let ref: String?
    let options: SourceOptions
    private let cache: LayerCache
    /// Serializes compressions started by `payload` (a layer known from the state database but no
    /// longer in the cache), so two pushes opening the same layer at once compress it once.
    private let lazyCompression = Lock()
    var description: String { location.description }

    /// Where each blob of the last loaded graph comes from, for `payload(for:)`.
    private let blobOrigins = LockedValue<[Digest: BlobOrigin]>([:])
    /// The diffIDs whose cache entries this process compressed: their digest was computed from the
    /// bytes as they were written, so their uploads do not hash them a second time (the size is
    /// still checked). Entries found in the cache are hashed on every upload (`CacheEntryStream`).
    private let compressedHere = LockedValue<Set<Digest>>([])

    enum BlobOrigin: Sendable {
        /// Bytes of the archive, streamed as they are (config, gzip layers).
        case archive(FileRegion)
        /// An uncompressed layer, served from the compression cache; compressed (again) into the
        /// cache when its entry is not there, e.g. when its digest came from `knownCompression`.
        case compressed(layer: FileRegion, diffID: Digest)
        /// The generated manifest.
        case memory([UInt8])
    }

    init(archive: TarArchive, location: ImageSourceLocation, ref: String?, options: SourceOptions) throws(SourceError) {
        self.archive = archive
        self.location = location
        self.ref = ref
        self.options = options
        self.cache = LayerCache(
            directory: options.cacheDirectory, level: options.gzipLevel, settingsKey: options.settingsKey,
            threads: max(1, options.parallelism))
    }

    // MARK: manifest.json

    struct ImageEntry: Decodable {
        var config: String
        var repoTags: [String]?
        var layers: [String]
        var layerSources: [String: Descriptor]?

        enum CodingKeys: String, CodingKey {
            case config = "Config", repoTags = "RepoTags", layers = "Layers", layerSources = "LayerSources"
        }
    }

    private struct ImageConfig: Decodable {
        struct RootFS: Decodable { var diff_ids: [Digest]? }
        var rootfs: RootFS?
    }

    private func readManifestList() throws(SourceError) -> [ImageEntry] {
        guard let region = archive.region("manifest.json") else {
            let hint =
                archive.contains("oci-layout")
                ? "it looks like an OCI archive: use oci-archive:\(archive.path)"
                : "not a docker save archive"
            throw .missingArchiveMembers(archive: archive.path, members: ["manifest.json"], hint: hint)
        }
        let bytes = try region.readAll()
        let list = try decodeJSON([ImageEntry]?.self, from: bytes, source: description, file: "manifest.json")
        guard let list else {
            throw .invalidDocument(source: description, file: "manifest.json", reason: "it is null, so the archive holds no image")
        }
        guard !list.isEmpty else { throw .noImages(source: description) }
        return list
    }

    /// A RepoTag a job file accepts as REF: a reference without a digest (`app`, `app:1`,
    /// `registry:5000/team/app:1`).
    static func isUsableRef(_ repoTag: String) -> Bool {
        guard let parsed = try? ImageReference(parsing: repoTag) else { return false }
        return parsed.digest == nil
    }

    /// Picks the image by REF: a RepoTag (exactly, or equal after docker's normalisation, e.g.
    /// `app` = `app:latest` = `docker.io/library/app:latest`), or `@sha256:…` naming the image ID
    /// (its config digest).
    private func select(_ list: [ImageEntry]) throws(SourceError) -> (ImageEntry, [String]) {
        // What to offer in messages: names a job file can use as REF — the RepoTags that are valid
        // references (a job file refuses the others), else the image ID as `@sha256:…`.
        let available = uniqued(
            list.flatMap { entry -> [String] in
                let usable = (entry.repoTags ?? []).filter(Self.isUsableRef)
                if !usable.isEmpty { return usable }
                guard let bytes = try? archive.region(entry.config)?.readAll() else {
                    return ["(untagged image, config \(entry.config) missing)"]
                }
                return ["@\(Digest.of(bytes))"]
            })
        guard let ref else {
            guard list.count == 1 else { throw .severalImages(source: description, available: available) }
            let tags = uniqued((list[0].repoTags ?? []).compactMap { tagPart(of: $0, bareNameIsTag: false) })
            return (list[0], tags)
        }
        if ref.hasPrefix("@") {
            let digest: Digest
            do { digest = try Digest(parsing: String(ref.dropFirst())) } catch {
                throw .invalidRef(source: description, ref: ref, reason: error.description)
            }
            for entry in list {
                guard let region = archive.region(entry.config) else { continue }
                if Digest.of(try region.readAll(), algorithm: digest.algorithm) == digest { return (entry, []) }
            }
            throw .unknownRef(source: description, ref: ref, available: available)
        }
        var matches = list.filter { ($0.repoTags ?? []).contains(ref) }
        if matches.isEmpty {
            let wanted = normalizedReference(ref)
            matches = list.filter { ($0.repoTags ?? []).contains { normalizedReference($0) == wanted } }
        }
        guard let match = matches.first else { throw .unknownRef(source: description, ref: ref, available: available) }
        guard matches.count == 1 else {
            throw .ambiguousRef(
                source: description, ref: ref,
                digests: matches.compactMap { try? Digest.of(archive.region($0.config)?.readAll() ?? []) })
        }
        return (match, tagPart(of: ref, bareNameIsTag: false).map { [$0] } ?? [])
    }

    // MARK: loading

    /// One layer of the selected image, as `loadGraph` resolves it.
    private enum LayerPlan {
        case foreign(Descriptor)
        case passthrough(FileRegion, diffID: Digest)
        case compress(FileRegion, diffID: Digest)
    }

    func loadGraph() throws(SourceError) -> ImageGraph {
        let (entry, tags) = try select(readManifestList())

        // Config and layer files: report every missing one together.
        var missing: [String] = []
        let configRegion = archive.region(entry.config)
        if configRegion == nil { missing.append(entry.config) }
        let layerSources = entry.layerSources ?? [:]

        var configBytes: [UInt8] = []
        var diffIDs: [Digest] = []
        if let configRegion {
            configBytes = try configRegion.readAll()
            let config = try decodeJSON(ImageConfig.self, from: configBytes, source: description, file: entry.config)
            diffIDs = config.rootfs?.diff_ids ?? []
        }
        var plans: [LayerPlan?] = []
        for (i, path) in entry.layers.enumerated() {
            let diffID = i < diffIDs.count ? diffIDs[i] : nil
            if let diffID, let foreign = layerSources[diffID.string], foreign.isNonDistributable {
                plans.append(.foreign(foreign))
                continue
            }
            guard let region = archive.region(path) else {
                missing.append(path)
                plans.append(nil)
                continue
            }
            guard let diffID else { plans.append(nil); continue }
            let magic = try region.file.readBytes(at: region.start, count: Int(min(2, region.length)))
            plans.append(magic == [0x1f, 0x8b] ? .passthrough(region, diffID: diffID) : .compress(region, diffID: diffID))
        }
        if !missing.isEmpty {
            throw .missingArchiveMembers(archive: archive.path, members: missing, hint: "manifest.json names them")
        }
        guard diffIDs.count == entry.layers.count else {
            throw .layerCountMismatch(source: description, config: entry.config, diffIDs: diffIDs.count, layers: entry.layers.count)
        }

        let config = Descriptor(mediaType: MediaType.dockerConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count))
        var origins: [Digest: BlobOrigin] = [config.digest: .archive(configRegion!)]
        let layers = try resolveLayers(plans.map { $0! }, origins: &origins)

        var blobs = [config]
        var seen: Set<Digest> = [config.digest]
        var compressedToDiffID: [Digest: Digest] = [:]
        for (layer, diffID) in layers {
            if let diffID { compressedToDiffID[layer.digest] = diffID }
            if !layer.isNonDistributable, seen.insert(layer.digest).inserted { blobs.append(layer) }
        }
        let manifestBytes = Self.manifestJSON(config: config, layers: layers.map(\.0))
        let root = Descriptor(mediaType: MediaType.dockerManifest, digest: Digest.of(manifestBytes), size: Int64(manifestBytes.count))
        origins[root.digest] = .memory(manifestBytes)
        remember(origins)
        return ImageGraph(
            root: root, sourceTags: tags, manifests: [(root, manifestBytes)], blobs: blobs,
            platforms: [], diffIDs: compressedToDiffID)
    }

    private func remember(_ origins: [Digest: BlobOrigin]) {
        blobOrigins.withLock { current in current.merge(origins) { _, new in new } }
    }

    /// Turns layer plans into descriptors: cache hits and known compressions cost nothing, the
    /// rest are compressed on `options.parallelism` threads (each distinct diffID once): as many
    /// layers side by side as there are threads, each layer's blocks on its share of them, so one
    /// big layer uses every thread and many layers do not oversubscribe.
    private func resolveLayers(_ plans: [LayerPlan], origins: inout [Digest: BlobOrigin]) throws(SourceError) -> [(Descriptor, Digest?)] {
        var results: [(Descriptor, Digest?)?] = Array(repeating: nil, count: plans.count)
        var toCompress: [(region: FileRegion, diffID: Digest)] = []
        var pending: Set<Digest> = []
        for (i, plan) in plans.enumerated() {
            switch plan {
            case .foreign(let descriptor):
                results[i] = (descriptor, nil)
            case .passthrough(let region, let diffID):
                let (digest, actualDiffID) = try hashGzipLayer(region, source: description)
                guard actualDiffID == diffID else {
                    throw .diffIDMismatch(source: description, layer: region.name, expected: diffID, actual: actualDiffID)
                }
                let descriptor = Descriptor(mediaType: MediaType.dockerLayerGzip, digest: digest, size: region.length)
                origins[digest] = .archive(region)
                results[i] = (descriptor, diffID)
            case .compress(let region, let diffID):
                if let hit = cache.lookup(diffID) {
                    origins[hit.digest] = .compressed(layer: region, diffID: diffID)
                    results[i] = (Descriptor(mediaType: MediaType.dockerLayerGzip, digest: hit.digest, size: hit.size), diffID)
                } else if let known = options.knownCompression?(diffID) {
                    origins[known.digest] = .compressed(layer: region, diffID: diffID)
                    results[i] = (Descriptor(mediaType: MediaType.dockerLayerGzip, digest: known.digest, size: known.size), diffID)
                } else if pending.insert(diffID).inserted {
                    toCompress.append((region, diffID))
                }
            }
        }

        if !toCompress.isEmpty {
            let outcomes = LockedValue<[Digest: Result<LayerCache.Entry, SourceError>]>([:])
            let cache = self.cache
            let compressedHere = self.compressedHere
            let source = description
            let jobs = toCompress
            let parallelism = max(1, options.parallelism)
            let layerCompressed = options.layerCompressed
            // Told layer by layer, the first layer is best ready first: one layer at a time on
            // every thread (the bytes are the same either way).
            let side = layerCompressed == nil ? min(parallelism, jobs.count) : 1
            let perLayer = max(1, parallelism / side)
            forEachConcurrently(jobs, width: side) { [self] job in
                let outcome: Result<LayerCache.Entry, SourceError>
                do throws(SourceError) {
                    outcome = .success(try cache.compress(job.region, diffID: job.diffID, source: source, threads: perLayer))
                } catch {
                    outcome = .failure(error)
                }
                outcomes.withLock { $0[job.diffID] = outcome }
                if case .success(let entry) = outcome {
                    compressedHere.withLock { _ = $0.insert(job.diffID) }
                    if let layerCompressed {
                        let layer = Descriptor(mediaType: MediaType.dockerLayerGzip, digest: entry.digest, size: entry.size)
                        remember([entry.digest: .compressed(layer: job.region, diffID: job.diffID)])
                        layerCompressed(layer, payload(for: layer))
                    }
                }
            }
            let finished = outcomes.withLock { $0 }
            for job in jobs {
                switch finished[job.diffID]! {
                case .failure(let error): throw error
                case .success(let entry):
                    origins[entry.digest] = .compressed(layer: job.region, diffID: job.diffID)
                }
            }
            for (i, plan) in plans.enumerated() where results[i] == nil {
                guard case .compress(_, let diffID) = plan, case .success(let entry)? = finished[diffID] else { continue }
                results[i] = (Descriptor(mediaType: MediaType.dockerLayerGzip, digest: entry.digest, size: entry.size), diffID)
            }
        }
        return results.map { $0! }
    }

    /// The schema 2 manifest, with the field order docker itself writes.
    static func manifestJSON(config: Descriptor, layers: [Descriptor]) -> [UInt8] {
        func descriptorJSON(_ d: Descriptor) -> String {
            var text = "{\"mediaType\":\(JSONText.quoted(d.mediaType)),\"size\":\(d.size),\"digest\":\(JSONText.quoted(d.digest.string))"
            if let urls = d.urls, !urls.isEmpty { text += ",\"urls\":[\(urls.map { JSONText.quoted($0) }.joined(separator: ","))]" }
            return text + "}"
        }
        let text =
            "{\"schemaVersion\":2,\"mediaType\":\(JSONText.quoted(MediaType.dockerManifest)),"
            + "\"config\":\(descriptorJSON(config)),"
            + "\"layers\":[\(layers.map(descriptorJSON).joined(separator: ","))]}"
        return Array(text.utf8)
    }

    // MARK: streaming

    func payload(for blob: Descriptor) -> BlobPayload {
        let source = description
        let cache = self.cache
        let lazyCompression = self.lazyCompression
        let origin = blobOrigins.withLock { $0[blob.digest] }
        let compressedHere = self.compressedHere
        return BlobPayload(descriptor: blob) { offset in
            switch origin {
            case nil:
                throw SourceError.unknownBlob(source: source, digest: blob.digest)
            case .memory(let bytes)?:
                return MemoryBlobStream(bytes, offset: Int(offset))
            case .archive(let region)?:
                return try VerifyingFileStream(region: region, expected: blob, source: source, offset: offset)
            case .compressed(let layer, let diffID)?:
                let path = cache.dataPath(diffID)
                lazyCompression.lock()
                defer { lazyCompression.unlock() }
                // Checked under the lock: another push may have compressed it meanwhile.
                if cache.lookup(diffID) == nil {
                    let entry = try cache.compress(layer, diffID: diffID, source: source)
                    if entry.digest != blob.digest {
                        throw SourceError.knownCompressionMismatch(
                            source: source, diffID: diffID, known: blob.digest, produced: entry.digest)
                    }
                    compressedHere.withLock { _ = $0.insert(diffID) }
                }
                let file = try ReadOnlyFile(path: path)
                let stream = try VerifyingFileStream(
                    region: FileRegion(file: file, start: 0, length: file.size, name: path),
                    expected: blob, source: source, offset: offset,
                    hashes: !compressedHere.withLock { $0.contains(diffID) })
                return CacheEntryStream(stream, cache: cache, diffID: diffID)
            }
        }
    }
}

/// A cached layer's bytes, dropped from the cache when they fail their size or digest check (a
/// torn write, the disk), so that the upload's retry, or the next run, compresses the layer again
/// instead of failing on the same entry for ever.
final class CacheEntryStream: BlobStream {
    private let inner: VerifyingFileStream
    private let cache: LayerCache
    private let diffID: Digest

    init(_ inner: VerifyingFileStream, cache: LayerCache, diffID: Digest) {
        self.inner = inner
        self.cache = cache
        self.diffID = diffID
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do {
            return try inner.read(into: buffer)
        } catch let error as SourceError {
            switch error {
            case .blobDigestMismatch, .blobSizeMismatch: cache.remove(diffID)
            default: break
            }
            throw error
        }
    }
}

/// `name[:tag]` as docker compares references: `docker.io/library/` for single-component names,
/// `docker.io/` for names without a registry host, `:latest` when there is no tag.
func normalizedReference(_ reference: String) -> String {
    var name = reference
    var tag = "latest"
    let lastSlash = name.lastIndex(of: "/")
    if let colon = name.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
        tag = String(name[name.index(after: colon)...])
        name = String(name[..<colon])
    }
    let components = name.split(separator: "/", omittingEmptySubsequences: false)
    if components.count == 1 {
        name = "docker.io/library/" + name
    } else if let first = components.first, !(first.contains(".") || first.contains(":") || first == "localhost") {
        name = "docker.io/" + name
    }
    return name + ":" + tag
}
