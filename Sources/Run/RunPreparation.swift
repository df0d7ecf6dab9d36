import EngineSource
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import State

/// Turns plan items into push jobs: reads every source once (checking that it is complete before
/// anything is pushed), resolves the tags, and attaches each target's registry connection.
///
/// An item whose source cannot be read or reached fails on its own (docs/run.md "Failure
/// isolation"): it is kept with its error, and the run goes on with the others.
public struct RunPreparation: Sendable {
    /// One loaded local source image.
    public struct LoadedSource: Sendable {
        public var location: ImageSourceLocation
        public var source: any ImageSource
        public var graph: ImageGraph
    }

    /// One plan item after preparation.
    public struct Item: Sendable {
        public var job: Job
        public var item: PlanItem
        public var result: Result<Ready, Failed>
    }

    public struct Ready: Sendable {
        /// The pushes of the item: one, or one per tag a selector picked.
        public var pushes: [PushJob]
        /// The source's graph, for local sources (read whole at preparation).
        public var graph: ImageGraph?
        /// What was read from the source registry, for `docker://` sources (one per push).
        public var registryReads: [RegistrySourceRead] = []
    }

    public struct Failed: Error, Sendable {
        public var error: PreparationError
        /// The target the item would have pushed to (tags as far as known), to record its failure.
        public var target: PushTarget
        public var registryKey: String
    }

    /// Every item, in plan order.
    public var items: [Item] = []
    /// Local sources read, each once (docker-archive layers compressed in this run are remembered
    /// from these after the run).
    public var localSources: [LoadedSource] = []
    /// Engine images exported in this run and the manifest each became: remembered after the run,
    /// so that the next run decides an unchanged image from the engine's metadata alone.
    public var engineImages: [(id: Digest, root: Descriptor)] = []

    /// The push jobs of every item that could be prepared, in plan order.
    public var pushes: [PushJob] { items.flatMap { (try? $0.result.get())?.pushes ?? [] } }
    /// Items that could not be prepared.
    public var failures: [(item: PlanItem, failed: Failed)] {
        items.compactMap { item in
            if case .failure(let failed) = item.result { return (item.item, failed) }
            return nil
        }
    }

    /// Local sources and registry reads shared between items.
    private var loaded: [LocalKey: Result<LoadedSource, PreparationError>] = [:]
    /// OCI layouts and archives read so far: each index once, whatever the number of its images.
    private let openedLayouts = OpenedLayouts()
    var registryCache = RegistryReadCache()

    private struct LocalKey: Hashable {
        var directory: String
        var source: SourceSpec
    }

    public init() {}

    /// Prepares every item of `work` (already filtered, e.g. by `--shard`; items with a tag
    /// selector are sharded per selected tag here, by `shard`).
    public static func prepare(
        _ work: [(job: Job, items: [PlanItem])], registries: RunRegistries, concurrencyOverride: Int?,
        state: (any Ledger)?, sourceOptions: SourceOptions, shard: Shard? = nil, uploadAhead: UploadAhead? = nil
    ) -> RunPreparation {
        var prepared = RunPreparation()
        for (job, items) in work {
            for item in items {
                let result: Result<Ready, Failed>
                do throws(PreparationError) {
                    if case .registry(let reference) = item.source.spec {
                        result = .success(
                            try prepared.prepareRegistryItem(
                                item, reference: reference, job: job, registries: registries,
                                concurrencyOverride: concurrencyOverride, state: state, shard: shard))
                    } else if case .engine(let name) = item.source.spec {
                        result = .success(
                            try prepared.prepareEngineItem(
                                item, name: name, job: job, registries: registries, concurrencyOverride: concurrencyOverride,
                                state: state, sourceOptions: sourceOptions))
                    } else {
                        result = .success(
                            try prepared.prepareLocalItem(
                                item, job: job, registries: registries, concurrencyOverride: concurrencyOverride,
                                state: state, sourceOptions: sourceOptions, uploadAhead: uploadAhead))
                    }
                } catch {
                    var tags: [String] = []
                    switch item.tags {
                    case .list(let list): tags = list
                    case .fromSource(let tag?): tags = [tag]
                    default: break
                    }
                    let target = PushTarget(
                        itemID: item.id, job: job.name, source: item.source.written, registry: item.registry,
                        host: item.endpoints.first?.host ?? item.registry, repository: item.repository, tags: tags)
                    let key = job.registry(named: item.registry)?.url.hostPort ?? item.registry
                    result = .failure(Failed(error: error, target: target, registryKey: key))
                }
                prepared.items.append(Item(job: job, item: item, result: result))
            }
        }
        return prepared
    }

    private mutating func prepareLocalItem(
        _ item: PlanItem, job: Job, registries: RunRegistries, concurrencyOverride: Int?,
        state: (any Ledger)?, sourceOptions: SourceOptions, uploadAhead: UploadAhead?
    ) throws(PreparationError) -> Ready {
        var sourceOptions = sourceOptions
        if let uploadAhead, let endpoints = aheadEndpoints(item, job: job, registries: registries) {
            let repository = item.repository
            sourceOptions.layerCompressed = { _, payload in
                uploadAhead.start(payload, repository: repository, endpoints: endpoints)
            }
        }
        let image = try load(item.source, job: job, options: sourceOptions)
        let tags: [String]
        switch item.tags {
        case .list(let list): tags = list
        case .fromSource(let tag?): tags = [tag]
        case .fromSource(nil):
            guard !image.graph.sourceTags.isEmpty else { throw .noTags(source: item.source.written, job: job.filePath) }
            tags = image.graph.sourceTags
        case .selector:
            throw .unsupportedSource(item.source.written, "tag selectors need a registry source")
        }
        let connection = try targetConnection(item, job: job, registries: registries)
        let target = PushTarget(
            itemID: item.id, job: job.name, source: item.source.written, registry: item.registry,
            host: connection.preferredHost, repository: item.repository, tags: tags)
        var sourceImage = image.sourceImage
        if let platforms = job.platforms(of: item) {
            do { sourceImage = try PlatformSubset.apply(sourceImage, platforms: platforms) } catch {
                throw .platforms(error)
            }
        }
        let push = PushJob(
            target: target, registryKey: connection.registryKey, endpoints: connection,
            image: sourceImage, credentialIdentity: Self.credentialIdentity(connection, state: state),
            concurrency: concurrencyOverride ?? job.defaults.concurrency)
        var pushes = [push]
        if let selection = job.referrers(of: item) {
            pushes += try ReferrerDiscovery.local(
                push, location: image.location, written: item.source.written,
                selection: selection, options: sourceOptions, opened: openedLayouts)
        }
        return Ready(pushes: pushes, graph: image.graph)
    }

    /// Where `item`'s layers may be uploaded ahead, while its source is still being read
    /// (docs/run.md "Upload ahead"): nil for an item whose image might not be pushed whatever its
    /// bytes (a `verify:` policy, `platforms:`) or whose target cannot be connected to now.
    func aheadEndpoints(_ item: PlanItem, job: Job, registries: RunRegistries) -> RegistryConnection? {
        guard let entry = job.images.first(where: { $0.index == item.imageIndex }),
            job.verify(of: entry) == nil, job.platforms(of: entry) == nil
        else { return nil }
        return try? targetConnection(item, job: job, registries: registries)
    }

    /// The target registry's connection for `item`.
    func targetConnection(_ item: PlanItem, job: Job, registries: RunRegistries) throws(PreparationError) -> RegistryConnection {
        guard let registry = job.registry(named: item.registry) else {
            throw .unknownRegistry(item.registry, job: job.filePath)
        }
        do throws(RegistryError) {
            return try registries.connection(to: registry, of: job)
        } catch {
            throw .credentials(registry: item.registry, error)
        }
    }

    /// The keyed hash of a registry's credentials identity (never the credentials).
    static func credentialIdentity(_ connection: RegistryConnection, state: (any Ledger)?) -> String {
        state?.credentialIdentity(connection.identityMaterial) ?? Digest.of(Array(connection.identityMaterial.utf8)).string
    }

    private mutating func load(_ source: PlanSource, job: Job, options: SourceOptions) throws(PreparationError) -> LoadedSource {
        let key = LocalKey(directory: job.directory, source: source.spec)
        if let known = loaded[key] { return try known.get() }
        let location: ImageSourceLocation
        switch source.spec {
        case .ociLayout(let path, let ref): location = .ociLayout(path: path, ref: ref?.description)
        case .ociArchive(let path, let ref): location = .ociArchive(path: path, ref: ref?.description)
        case .dockerArchive(let path, let ref): location = .dockerArchive(path: path, ref: ref)
        case .registry, .engine: throw .unsupportedSource(source.written, "not a file source")
        }
        let result: Result<LoadedSource, PreparationError>
        do {
            let opened = try openImageSource(location, options: options, opened: openedLayouts)
            let loadedSource = LoadedSource(location: location, source: opened, graph: try opened.loadGraph())
            localSources.append(loadedSource)
            result = .success(loadedSource)
        } catch {
            result = .failure(.source(source.written, error))
        }
        loaded[key] = result
        return try result.get()
    }
}

extension RunPreparation.LoadedSource {
    /// The executor's view of this image.
    var sourceImage: SourceImage {
        let graph = graph
        let source = source
        return SourceImage(
            description: source.description, root: graph.root,
            manifests: graph.manifestsChildrenFirst.map { ($0, graph.manifestBytes($0.digest) ?? []) },
            blobs: graph.blobs, payload: { source.payload(for: $0) }, diffIDs: graph.diffIDs)
    }
}

public enum PreparationError: Error, CustomStringConvertible {
    case source(String, SourceError)
    case noTags(source: String, job: String)
    case unknownRegistry(String, job: String)
    case credentials(registry: String, RegistryError)
    case unsupportedSource(String, String)
    /// A `docker://` source could not be read (tag list, `HEAD` of a tag, credentials).
    case registrySource(String, RegistryError)
    /// A `docker://` source's tag (or digest) does not exist.
    case sourceTagNotFound(String)
    /// The container engine could not give a `docker-daemon:` source.
    case engine(String, EngineError)
    /// A `docker-daemon:` export could not be read as an image.
    case engineExport(String, EngineExport.Failure)
    /// A tag selector could not be applied.
    case selection(String, TagSelectionError)
    /// `platforms:` cannot be applied (nothing selected, a single image of another platform).
    case platforms(PlatformSubsetError)

    public var description: String {
        switch self {
        // Most source errors name the source themselves (as resolved, with its path): then it is
        // not said twice. The others (a missing path, say) get the source as written.
        case .source(let source, let error): error.namesItsSource ? error.description : "source \(source): \(error)"
        case .noTags(let source, let job): "\(job): \(source) names no tag and the job gives no `tags:`; add `tags:` to the image entry"
        case .unknownRegistry(let name, let job): "\(job): unknown registry \(name)"
        case .credentials(let registry, let error): "credentials for registry \(registry): \(error)"
        case .unsupportedSource(let source, let why): "\(source): \(why)"
        case .registrySource(let source, let error): "\(source): \(error)"
        case .sourceTagNotFound(let source): "\(source): no such tag or digest in the source registry"
        case .selection(let source, let error): "\(source): tag selector: \(error)"
        case .platforms(let error): error.description
        case .engine(let source, let error): "\(source): \(error)"
        case .engineExport(let source, let error): "\(source): \(error)"
        }
    }
}
