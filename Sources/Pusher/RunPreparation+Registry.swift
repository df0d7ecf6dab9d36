import Foundation
import JobFile
import OCI
import Planner
import Registry
import State

/// What preparation learned about `docker://` sources (docs/replication.md).
public struct RegistryPreparation: Sendable {
    /// Source registry access, per job file and source host.
    public var sources: [String: RegistrySourceAccess] = [:]
    /// Registry images, per source access, repository and digest: several targets (and several
    /// tags pointing at one digest) share one image, so it is read once.
    public var images: [String: RegistryImageSource] = [:]
    /// One entry per push job whose source is a registry, in `jobs` order.
    public var pushes: [RegistrySourcePush] = []
    /// Tag lists read, per source access and repository (one request, or one per page).
    var tagLists: [String: [String]] = [:]
    /// `HEAD` results, per source access, repository and tag or digest.
    var heads: [String: Descriptor] = [:]

    public init() {}
}

/// A push job whose source is a registry.
public struct RegistrySourcePush: Sendable {
    /// Index into `RunPreparation.jobs`.
    public var jobIndex: Int
    /// `host[:port]` of the source registry (the rate-limit key).
    public var sourceRegistry: String
    public var sourceRepository: String
    /// The tag or digest read.
    public var sourceReference: String
    /// True when a tag selector picked the tag.
    public var selected: Bool
    /// True when source and target are the same registry (blobs are mounted, not copied).
    public var sameRegistry: Bool
}

extension RunPreparation {
    /// Turns one `docker://` plan item into push jobs: a selector's tags are read from the source
    /// repository's tag list and each selected tag becomes its own push (`repo:tag` → `repo:tag`);
    /// a tag or digest source is one push under the listed tags. Each source tag or digest is
    /// resolved with one `HEAD`; nothing else is read from the source until a push needs it.
    mutating func prepareRegistryItem(_ item: PlanItem, job: Job, concurrencyOverride: Int?, state: StateStore?,
                                      environment: [String: String], settings: RegistrySourceSettings) throws(PreparationError) {
        let written = item.source.written
        let reference: ImageReference
        do {
            reference = try ImageReference(parsingCanonical: item.source.reference ?? "")
        } catch {
            do { reference = try ImageReference(parsing: String(written.dropFirst("docker://".count))) } catch {
                throw .unsupportedSource(written, "not a registry reference: \(error)")
            }
        }
        let sourceKey = job.filePath + "\u{0}" + reference.domain
        let source: RegistrySourceAccess
        if let known = registry.sources[sourceKey] {
            source = known
        } else {
            do {
                source = try RegistrySourceAccess.make(for: reference, job: job, environment: environment, settings: settings)
            } catch {
                throw .registrySource(written, error)
            }
            registry.sources[sourceKey] = source
        }
        let repository = reference.path
        let base = "docker://" + reference.canonicalName

        // (source tag or digest, target tags, picked by a selector)
        var reads: [(reference: String, tags: [String], selected: Bool)] = []
        switch item.tags {
        case .selector(let selector):
            let all = try tagList(source, repository, written: written)
            let picked: [String]
            do { picked = try TagSelection.select(selector, from: all) } catch { throw .selection(written, error) }
            for tag in picked where settings.shard.map({ Self.selectedTag(tag, of: item.id, isIn: $0) }) ?? true {
                reads.append((tag, [tag], true))
            }
        case .list(let tags):
            reads = [(reference.digest?.string ?? reference.tag ?? "latest", tags, false)]
        case .fromSource(let tag):
            guard let tag = tag ?? reference.tag ?? (reference.digest == nil ? "latest" : nil) else {
                throw .noTags(source: written, job: job.filePath)
            }
            reads = [(reference.digest?.string ?? tag, [tag], false)]
        }

        let target = try targetAccess(item, job: job, environment: environment)
        let identity = Self.credentialIdentity(target, state: state)
        let sameRegistry = source.registryKey == target.registryKey
        for read in reads {
            let description = base + (read.reference.contains(":") ? "@" : ":") + read.reference
            let root = try head(source, repository, read.reference, written: description)
            let imageKey = sourceKey + "\u{0}" + repository + "\u{0}" + root.digest.string
            let image = registry.images[imageKey]
                ?? RegistryImageSource(description: description, access: source, repository: repository, root: root)
            registry.images[imageKey] = image
            var push = PushJob(
                target: PushTarget(itemID: item.id, job: job.name, source: description, registry: item.registry,
                                   host: item.endpoints.first?.host ?? target.registryKey,
                                   repository: item.repository, tags: read.tags),
                registryKey: target.registryKey,
                endpoints: item.endpoints.map { EndpointChoice(url: $0.url, isHTTPTwin: $0.isHTTPTwin) },
                image: image.sourceImage, credentialIdentity: identity,
                concurrency: concurrencyOverride ?? job.defaults.concurrency)
            if sameRegistry && repository != item.repository { push.mountSources = [repository] }
            registry.pushes.append(RegistrySourcePush(jobIndex: jobs.count, sourceRegistry: source.registryKey,
                                                      sourceRepository: repository, sourceReference: read.reference,
                                                      selected: read.selected, sameRegistry: sameRegistry))
            jobs.append(push)
        }
        endpoints[item.id] = item.endpoints
    }

    /// `--shard I/N` for a tag a selector picked: the tag's own stable hash (item id and tag), so
    /// N runners split one selector's tags between them without overlap or gaps.
    public static func selectedTag(_ tag: String, of itemID: String, isIn shard: Shard) -> Bool {
        let digest = Digest.of(Array((itemID + "\u{0}" + tag).utf8))
        let hash = UInt64(digest.hex.prefix(16), radix: 16) ?? 0
        return Int(hash % UInt64(shard.count)) == shard.index
    }

    private mutating func tagList(_ source: RegistrySourceAccess, _ repository: String, written: String) throws(PreparationError) -> [String] {
        let key = source.registryKey + "\u{0}" + repository
        if let known = registry.tagLists[key] { return known }
        do {
            let tags = try source.read { client throws(RegistryError) in try client.listTags(repository) }
            registry.tagLists[key] = tags
            return tags
        } catch {
            throw .registrySource(written, error)
        }
    }

    private mutating func head(_ source: RegistrySourceAccess, _ repository: String, _ reference: String,
                               written: String) throws(PreparationError) -> Descriptor {
        let key = source.registryKey + "\u{0}" + repository + "\u{0}" + reference
        if let known = registry.heads[key] { return known }
        let found: Descriptor?
        do {
            found = try source.read { client throws(RegistryError) in try client.manifestDescriptor(repository, reference: reference) }
        } catch {
            throw .registrySource(written, error)
        }
        guard let found else { throw .sourceTagNotFound(written) }
        registry.heads[key] = found
        return found
    }
}
