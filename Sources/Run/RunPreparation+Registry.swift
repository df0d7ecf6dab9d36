import Foundation
import Threading
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import State

/// What one push of a `docker://` source read from the source registry (the rate-limit gate
/// counts the pulls a run will need from these).
public struct RegistrySourceRead: Sendable {
    /// `host[:port]` of the source registry (the rate-limit key).
    public var sourceRegistry: String
    public var sourceRepository: String
    /// The tag or digest read.
    public var sourceReference: String
    /// True when a tag selector picked the tag.
    public var selected: Bool
    /// True when source and target are the same registry (blobs are mounted, not copied).
    public var sameRegistry: Bool
    /// The push this read feeds.
    public var push: PushJob
}

/// Registry reads shared between items of one preparation: tag lists, `HEAD` results and images,
/// so several targets (and several tags pointing at one digest) read a source once.
struct RegistryReadCache: Sendable {
    struct ListKey: Hashable { var registry: String; var repository: String }
    struct HeadKey: Hashable { var registry: String; var repository: String; var reference: String }
    struct ImageKey: Hashable { var registry: String; var repository: String; var digest: Digest }
    var tagLists: [ListKey: [String]] = [:]
    var heads: [HeadKey: Descriptor] = [:]
    var images: [ImageKey: RegistryImageSource] = [:]
}

extension RunPreparation {
    /// Turns one `docker://` plan item into push jobs: a selector's tags are read from the source
    /// repository's tag list and each selected tag becomes its own push (`repo:tag` → `repo:tag`);
    /// a tag or digest source is one push under the listed tags. Each source tag or digest is
    /// resolved with one `HEAD`; nothing else is read from the source until a push needs it.
    mutating func prepareRegistryItem(
        _ item: PlanItem, reference: ImageReference, job: Job, registries: RunRegistries,
        concurrencyOverride: Int?, state: (any Ledger)?, shard: Shard?
    ) throws(PreparationError) -> Ready {
        let written = item.source.written
        let source: RegistrySourceAccess
        do {
            source = try registries.source(reference, of: job)
        } catch {
            throw .registrySource(written, error)
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
            for tag in picked where shard.map({ Self.selectedTag(tag, of: item.id, isIn: $0) }) ?? true {
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

        // The source HEADs of a selector's tags go out together (a 1,000-tag replication rerun is
        // 1,000 HEADs here): up to the job's concurrency, then read from the cache below.
        try prefetchHeads(
            source, repository, reads.map(\.reference), width: concurrencyOverride ?? job.defaults.concurrency,
            written: written)
        let target = try targetConnection(item, job: job, registries: registries)
        let identity = Self.credentialIdentity(target, state: state)
        let sameRegistry = source.registryKey == target.registryKey
        var ready = Ready(pushes: [], graph: nil)
        for read in reads {
            let description = base + (read.reference.contains(":") ? "@" : ":") + read.reference
            let root = try head(source, repository, read.reference, written: description)
            let imageKey = RegistryReadCache.ImageKey(registry: source.registryKey, repository: repository, digest: root.digest)
            let image =
                registryCache.images[imageKey]
                ?? RegistryImageSource(description: description, access: source, repository: repository, root: root)
            registryCache.images[imageKey] = image
            var sourceImage = image.sourceImage
            if let platforms = job.platforms(of: item) {
                do { sourceImage = try PlatformSubset.apply(sourceImage, registrySource: image, platforms: platforms) } catch {
                    throw .platforms(error)
                }
            }
            var push = PushJob(
                target: PushTarget(
                    itemID: item.id, job: job.name, source: description, registry: item.registry,
                    host: target.preferredHost, repository: item.repository, tags: read.tags),
                registryKey: target.registryKey, endpoints: target,
                image: sourceImage, credentialIdentity: identity,
                concurrency: concurrencyOverride ?? job.defaults.concurrency)
            if sameRegistry && repository != item.repository { push.mountSources = [repository] }
            ready.pushes.append(push)
            ready.registryReads.append(
                RegistrySourceRead(
                    sourceRegistry: source.registryKey, sourceRepository: repository,
                    sourceReference: read.reference, selected: read.selected,
                    sameRegistry: sameRegistry, push: push))
            if let selection = job.referrers(of: item) {
                for referrer in try ReferrerDiscovery.registry(
                    push, access: source, repository: repository, base: base,
                    selection: selection)
                {
                    ready.pushes.append(referrer)
                    ready.registryReads.append(
                        RegistrySourceRead(
                            sourceRegistry: source.registryKey, sourceRepository: repository,
                            sourceReference: referrer.image.root.digest.string, selected: false,
                            sameRegistry: sameRegistry, push: referrer))
                }
            }
        }
        return ready
    }

    /// `--shard I/N` for a tag a selector picked: the tag's own stable hash (item id and tag), so
    /// N runners split one selector's tags between them without overlap or gaps.
    public static func selectedTag(_ tag: String, of itemID: String, isIn shard: Shard) -> Bool {
        let digest = Digest.of(Array((itemID + "\u{0}" + tag).utf8))
        let hash = UInt64(digest.hex.prefix(16), radix: 16) ?? 0
        return Int(hash % UInt64(shard.count)) == shard.index
    }

    private mutating func tagList(_ source: RegistrySourceAccess, _ repository: String, written: String) throws(PreparationError)
        -> [String]
    {
        let key = RegistryReadCache.ListKey(registry: source.registryKey, repository: repository)
        if let known = registryCache.tagLists[key] { return known }
        do {
            let tags = try source.read { client throws(RegistryError) in try client.listTags(repository) }
            registryCache.tagLists[key] = tags
            return tags
        } catch {
            throw .registrySource(written, error)
        }
    }

    /// Fills the HEAD cache for `references` with concurrent requests; the first failure (in
    /// `references` order) is thrown as `head` would throw it.
    private mutating func prefetchHeads(
        _ source: RegistrySourceAccess, _ repository: String, _ references: [String],
        width: Int, written: String
    ) throws(PreparationError) {
        let missing = references.filter {
            registryCache.heads[RegistryReadCache.HeadKey(registry: source.registryKey, repository: repository, reference: $0)] == nil
        }
        guard missing.count > 1 else { return }
        let found = LockedValue<[String: Result<Descriptor?, RegistryError>]>([:])
        forEachConcurrently(missing, width: width) { reference in
            let result: Result<Descriptor?, RegistryError>
            do throws(RegistryError) {
                result = .success(
                    try source.read { client throws(RegistryError) in
                        try client.manifestDescriptor(repository, reference: reference)
                    })
            } catch {
                result = .failure(error)
            }
            found.withLock { $0[reference] = result }
        }
        for reference in missing {
            switch found.withLock({ $0[reference]! }) {
            case .success(let descriptor?):
                registryCache.heads[
                    RegistryReadCache.HeadKey(
                        registry: source.registryKey, repository: repository,
                        reference: reference)] = descriptor
            case .success(nil):
                continue  // `head` reports it with the push's own description
            case .failure(let error):
                throw .registrySource(written, error)
            }
        }
    }

    private mutating func head(
        _ source: RegistrySourceAccess, _ repository: String, _ reference: String,
        written: String
    ) throws(PreparationError) -> Descriptor {
        let key = RegistryReadCache.HeadKey(registry: source.registryKey, repository: repository, reference: reference)
        if let known = registryCache.heads[key] { return known }
        let found: Descriptor?
        do {
            found = try source.read { client throws(RegistryError) in try client.manifestDescriptor(repository, reference: reference) }
        } catch {
            throw .registrySource(written, error)
        }
        guard let found else { throw .sourceTagNotFound(written) }
        registryCache.heads[key] = found
        return found
    }
}
