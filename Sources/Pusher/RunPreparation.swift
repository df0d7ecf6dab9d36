import Curl
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Registry
import State

/// Turns plans into push jobs: reads every source once (checking that it is complete before
/// anything is pushed), resolves the tags, and resolves each target registry's credentials.
///
/// Everything here happens before the first request to a target registry, so a source that cannot
/// be read stops the run with exit 2 and nothing half-done (cli.md "Exit codes").
public struct RunPreparation: Sendable {
    /// One loaded source image.
    public struct LoadedSource: Sendable {
        public var location: ImageSourceLocation
        public var source: any ImageSource
        public var graph: ImageGraph
    }

    /// The push jobs, in plan order.
    public var jobs: [PushJob] = []
    /// The plan's endpoints of each push job (by item id), to build clients from.
    public var endpoints: [String: [Endpoint]] = [:]
    /// Registry access per job name and registry name.
    public var access: [String: RegistryAccess] = [:]
    /// Each source read, by its written form and job directory.
    public var sources: [String: LoadedSource] = [:]
    /// The source of each push job (by item id).
    public var sourceOfItem: [String: LoadedSource] = [:]
    /// Items that could not be prepared, with why (every one, so a user sees all problems at once).
    public var failures: [(item: PlanItem, error: PreparationError)] = []

    public static func accessKey(job: String, registry: String) -> String { job + "\u{0}" + registry }

    public init() {}

    /// `docker://` sources and their pushes (RunPreparation+Registry.swift).
    public var registry = RegistryPreparation()

    /// Prepares every item of `plans` (already filtered, e.g. by `--shard`; items with a tag
    /// selector are sharded per selected tag here, by `registrySources.shard`). Items that cannot
    /// be prepared are listed in `failures`; the others become push jobs.
    public static func prepare(_ work: [(job: Job, items: [PlanItem])], concurrencyOverride: Int?, state: StateStore?,
                               sourceOptions: SourceOptions, environment: [String: String],
                               registrySources: RegistrySourceSettings = RegistrySourceSettings()) -> RunPreparation {
        var prepared = RunPreparation()
        for (job, items) in work {
            for item in items {
                do throws(PreparationError) {
                    if item.source.transport == "docker" {
                        try prepared.prepareRegistryItem(item, job: job, concurrencyOverride: concurrencyOverride, state: state,
                                                         environment: environment, settings: registrySources)
                    } else {
                        try prepared.add(item, of: job, concurrencyOverride: concurrencyOverride, state: state,
                                         sourceOptions: sourceOptions, environment: environment)
                    }
                } catch {
                    prepared.failures.append((item, error))
                }
            }
        }
        return prepared
    }

    private mutating func add(_ item: PlanItem, of job: Job, concurrencyOverride: Int?, state: StateStore?,
                              sourceOptions: SourceOptions, environment: [String: String]) throws(PreparationError) {
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
        let access = try targetAccess(item, job: job, environment: environment)
        let target = PushTarget(itemID: item.id, job: job.name, source: item.source.written, registry: item.registry,
                                host: item.endpoints.first?.host ?? access.registryKey,
                                repository: item.repository, tags: tags)
        jobs.append(PushJob(
            target: target, registryKey: access.registryKey,
            endpoints: item.endpoints.map { EndpointChoice(url: $0.url, isHTTPTwin: $0.isHTTPTwin) },
            image: image.sourceImage, credentialIdentity: Self.credentialIdentity(access, state: state),
            concurrency: concurrencyOverride ?? job.defaults.concurrency))
        endpoints[item.id] = item.endpoints
        sourceOfItem[item.id] = image
    }

    /// The target registry's access for `item` (made once per job and registry).
    mutating func targetAccess(_ item: PlanItem, job: Job, environment: [String: String]) throws(PreparationError) -> RegistryAccess {
        let key = Self.accessKey(job: job.name, registry: item.registry)
        if let access = access[key] { return access }
        guard let registry = job.registry(named: item.registry) else {
            throw .unknownRegistry(item.registry, job: job.filePath)
        }
        do throws(RegistryError) {
            let made = try RegistryAccess(registry: registry, environment: environment)
            access[key] = made
            return made
        } catch {
            throw .credentials(registry: item.registry, error)
        }
    }

    /// The keyed hash of a registry's credentials identity (never the credentials).
    static func credentialIdentity(_ access: RegistryAccess, state: StateStore?) -> String {
        state?.credentialIdentity(access.identityMaterial) ?? Digest.of(Array(access.identityMaterial.utf8)).string
    }

    private mutating func load(_ source: PlanSource, job: Job, options: SourceOptions) throws(PreparationError) -> LoadedSource {
        let key = job.directory + "\u{0}" + source.written
        if let loaded = sources[key] { return loaded }
        let location: ImageSourceLocation
        switch (source.transport, source.path) {
        case ("oci", let path?): location = .ociLayout(path: path, ref: source.ref)
        case ("oci-archive", let path?): location = .ociArchive(path: path, ref: source.ref)
        case ("docker-archive", let path?): location = .dockerArchive(path: path, ref: source.ref)
        default: throw .unsupportedSource(source.written, "registry (docker://) sources are not supported by this version")
        }
        do {
            let opened = try openImageSource(location, options: options)
            let loaded = LoadedSource(location: location, source: opened, graph: try opened.loadGraph())
            sources[key] = loaded
            return loaded
        } catch {
            throw .source(source.written, error)
        }
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
    /// A tag selector could not be applied.
    case selection(String, TagSelectionError)

    public var description: String {
        switch self {
        case .source(let source, let error): "source \(source): \(error)"
        case .noTags(let source, let job): "\(job): \(source) names no tag and the job gives no `tags:`; add `tags:` to the image entry"
        case .unknownRegistry(let name, let job): "\(job): unknown registry \(name)"
        case .credentials(let registry, let error): "credentials for registry \(registry): \(error)"
        case .unsupportedSource(let source, let why): "\(source): \(why)"
        case .registrySource(let source, let error): "\(source): \(error)"
        case .sourceTagNotFound(let source): "\(source): no such tag or digest in the source registry"
        case .selection(let source, let error): "\(source): tag selector: \(error)"
        }
    }
}
