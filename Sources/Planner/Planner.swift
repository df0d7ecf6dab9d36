import JobFile
import OCI

/// Job → Plan without I/O. Online planning (source digests, what each tag needs) builds on this.
public enum Planner {
    public static func plan(_ job: Job) -> Plan {
        var items: [PlanItem] = []
        for image in job.images {
            for target in image.targets {
                guard let registry = job.registry(named: target) else { continue }  // loader guarantees it exists
                let repository = registry.apiRepository(image.repository)
                items.append(
                    PlanItem(
                        id: identity(job: job.name, image: image, registry: target, repository: repository),
                        imageIndex: image.index,
                        source: planSource(image),
                        registry: target,
                        repository: repository,
                        tags: planTags(image),
                        endpoints: RegistryEndpoint.fallbackOrder(for: registry)))
            }
        }
        return Plan(
            job: job.name, file: job.filePath, fileDigest: job.fileDigest.string,
            defaults: PlanDefaults(
                concurrency: job.defaults.concurrency, images: job.defaults.images,
                retries: job.defaults.retries),
            items: items)
    }

    /// sha256 over the job name, the source as written, the registry name, the repository and the
    /// tags, as a 16-hex prefix. It does not include the entry's position, so reordering a job file
    /// keeps each item's identity (and its shard). The loader rejects entries that would collide
    /// on a (registry, repository, tag).
    static func identity(job: String, image: ImageEntry, registry: String, repository: String) -> String {
        let tags: String
        switch image.tags {
        case .list(let list): tags = "list:" + list.joined(separator: ",")
        case .fromSource: tags = "from-source"
        case .selector(let s):
            tags =
                "selector:\(s.match ?? "")|\(s.exclude.joined(separator: ","))|\(s.semver ?? "")|\(s.latest.map(String.init) ?? "")"
                // Appended only when set, so existing items keep their ids (and shards).
                + (s.prerelease ? "|prerelease" : "")
        }
        let key = ["pushctl-plan-item-v1", job, image.sourceText, registry, repository, tags].joined(separator: "\u{0}")
        return String(Digest.of(Array(key.utf8)).hex.prefix(16))
    }

    static func planSource(_ image: ImageEntry) -> PlanSource {
        PlanSource(written: image.sourceText, spec: image.source)
    }

    static func planTags(_ image: ImageEntry) -> PlanTags {
        switch image.tags {
        case .list(let tags): .list(tags)
        case .selector(let s): .selector(s)
        case .fromSource: .fromSource(image.source.ownTag)
        }
    }
}
