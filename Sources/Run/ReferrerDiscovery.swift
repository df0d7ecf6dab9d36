import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource

/// `referrers:` at preparation (README "Signatures and SBOMs"): the referrers of what a push puts
/// become pushes of their own, by digest, each with its subject; recursively, so a signature of
/// an SBOM comes along too. From an OCI layout: the manifests its `index.json` lists whose
/// `subject` is the pushed image or one of an index's children. From a `docker://` source: the
/// referrers API (`artifactType` filter, all pages), else the fallback tag `<alg>-<hex>`; and
/// cosign's tag attachments `sha256-<hex>.sig`, `.att` and `.sbom`, pushed under the same tags.
enum ReferrerDiscovery {
    /// Referrers nest (a signature of an SBOM of an image); deeper chains are not followed.
    static let maxDepth = 4
    static let cosignSuffixes = ["sig", "att", "sbom"]

    /// A push like `push` (same target, connection and settings) of another manifest.
    static func derived(_ push: PushJob, image: SourceImage, source: String, subject: Descriptor, tags: [String]) -> PushJob {
        var job = push
        job.image = image
        job.subject = subject
        job.target.source = source
        job.target.tags = tags
        return job
    }

    /// Referrer pushes of a local (OCI layout or archive) push. `opened`: the run's layouts, so
    /// that the index and an archive's tar the image came from are not read again.
    static func local(
        _ push: PushJob, location: ImageSourceLocation, written: String, selection: ReferrerSelection,
        options: SourceOptions, opened: OpenedLayouts? = nil
    ) throws(PreparationError) -> [PushJob] {
        let candidates: [(descriptor: Descriptor, bytes: [UInt8])]
        do { candidates = try layoutManifests(location, opened: opened) } catch { throw .source(written, error) }
        // Subjects: every manifest the push puts (for an index, its children too).
        var subjects: [Digest: Descriptor] = [:]
        for manifest in push.image.manifests { subjects[manifest.descriptor.digest] = manifest.descriptor }
        subjects[push.image.root.digest] = push.image.root
        var out: [PushJob] = []
        var taken: Set<Digest> = Set(subjects.keys)
        for _ in 0..<maxDepth {
            var found: [(Descriptor, ReferrerManifest)] = []
            for candidate in candidates where !taken.contains(candidate.descriptor.digest) {
                guard let referrer = ReferrerManifest.parse(candidate.bytes), subjects[referrer.subject.digest] != nil,
                    selection.selects(referrer.artifactType)
                else { continue }
                found.append((candidate.descriptor, referrer))
            }
            guard !found.isEmpty else { break }
            for (descriptor, referrer) in found {
                taken.insert(descriptor.digest)
                var referrerLocation = location
                switch location {
                case .ociLayout(let path, _): referrerLocation = .ociLayout(path: path, ref: "@\(descriptor.digest)")
                case .ociArchive(let path, _): referrerLocation = .ociArchive(path: path, ref: "@\(descriptor.digest)")
                case .dockerArchive: continue
                }
                let image: SourceImage
                do {
                    let source = try openImageSource(referrerLocation, options: options, opened: opened)
                    let graph = try source.loadGraph()
                    image = RunPreparation.LoadedSource(location: referrerLocation, source: source, graph: graph).sourceImage
                } catch {
                    throw .source("\(written) (referrer \(descriptor.digest))", error)
                }
                out.append(
                    derived(
                        push, image: image, source: "\(written) (referrer \(descriptor.digest))",
                        subject: subjects[referrer.subject.digest] ?? referrer.subject, tags: []))
                subjects[descriptor.digest] = descriptor
            }
        }
        return out
    }

    /// Referrer pushes and cosign tag attachments of a `docker://` push.
    static func registry(
        _ push: PushJob, access: RegistrySourceAccess, repository: String, base: String,
        selection: ReferrerSelection
    ) throws(PreparationError) -> [PushJob] {
        var out: [PushJob] = []
        var seen: Set<Digest> = [push.image.root.digest]
        var level: [Descriptor] = [push.image.root]
        for _ in 0..<maxDepth where !level.isEmpty {
            var next: [Descriptor] = []
            for subject in level {
                for descriptor in try listing(of: subject.digest, access: access, repository: repository, base: base, selection: selection)
                where selection.selects(descriptor.artifactType) && seen.insert(descriptor.digest).inserted {
                    let description = "\(base)@\(descriptor.digest)"
                    var root = descriptor
                    root.annotations = nil
                    root.artifactType = nil
                    let image = RegistryImageSource(description: description, access: access, repository: repository, root: root)
                    out.append(derived(push, image: image.sourceImage, source: description, subject: subject, tags: []))
                    next.append(root)
                }
            }
            level = next
        }
        // cosign keeps signatures, attestations and SBOMs under tags named after the digest.
        let prefix = ReferrersFallback.tag(for: push.image.root.digest)
        for suffix in cosignSuffixes {
            let tag = "\(prefix).\(suffix)"
            let found: Descriptor?
            do {
                found = try access.read { client throws(RegistryError) in try client.manifestDescriptor(repository, reference: tag) }
            } catch {
                throw .registrySource("\(base):\(tag)", error)
            }
            guard let found else { continue }
            let description = "\(base):\(tag)"
            let image = RegistryImageSource(description: description, access: access, repository: repository, root: found)
            out.append(derived(push, image: image.sourceImage, source: description, subject: push.image.root, tags: [tag]))
        }
        return out
    }

    /// The source's referrers of `digest`: the referrers API, else the fallback tag.
    static func listing(
        of digest: Digest, access: RegistrySourceAccess, repository: String, base: String,
        selection: ReferrerSelection
    ) throws(PreparationError) -> [Descriptor] {
        // One artifact type can be filtered by the registry; several are filtered here.
        let filter = selection.artifactTypes?.count == 1 ? selection.artifactTypes?.first : nil
        do {
            return try access.read { client throws(RegistryError) -> [Descriptor] in
                if let listed = try client.listReferrers(repository, of: digest, artifactType: filter) { return listed }
                do throws(RegistryError) {
                    let fallback = try client.getManifest(repository, reference: ReferrersFallback.tag(for: digest))
                    return ReferrersFallback.entries(fallback.bytes)
                } catch {
                    if error.isNotFound { return [] }
                    throw error
                }
            }
        } catch {
            throw .registrySource("\(base)@\(digest) (referrers)", error)
        }
    }
}
