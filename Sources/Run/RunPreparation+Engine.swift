import EngineSource
import Foundation
import ImageSource
import JobFile
import OCI
import Planner
import Pusher
import State

/// `docker-daemon:` sources (docs/image-sources.md "docker-daemon"), decided the way `docker push`
/// decides: from the engine's metadata first.
///
/// The engine's inspect answer gives the image ID (the config's digest) and its diffIDs. pushctl
/// remembers, per image ID and compression settings, the manifest that image became when it was
/// last exported (the ledger's diffID mappings, as for archive layers). When it knows, the image's
/// root is known without exporting anything: an unchanged image costs one inspect call and the
/// tag `HEAD`s, and the export happens only if a tag actually needs pushing. Otherwise the image
/// is exported now (streamed to a spool file) and read as a docker archive.
extension RunPreparation {
    /// The settings under which an engine image ID's manifest is remembered.
    static func engineManifestSettings(_ options: SourceOptions) -> String { "engine-manifest:" + options.settingsKey }

    mutating func prepareEngineItem(
        _ item: PlanItem, name: String, job: Job, registries: RunRegistries, concurrencyOverride: Int?,
        state: (any Ledger)?, sourceOptions: SourceOptions
    ) throws(PreparationError) -> Ready {
        let written = item.source.written
        let client: EngineClient
        let image: EngineImage
        do throws(EngineError) {
            client = try registries.engine()
            image = try client.inspect(name)
        } catch {
            throw .engine(written, error)
        }
        let tags: [String]
        switch item.tags {
        case .list(let list): tags = list
        case .fromSource(let tag?): tags = [tag]
        case .fromSource(nil): throw .noTags(source: written, job: job.filePath)
        case .selector: throw .unsupportedSource(written, "tag selectors need a registry source")
        }
        let connection = try targetConnection(item, job: job, registries: registries)
        let target = PushTarget(
            itemID: item.id, job: job.name, source: written, registry: item.registry,
            host: connection.preferredHost, repository: item.repository, tags: tags)
        let platforms = job.platforms(of: item)
        let settings = Self.engineManifestSettings(sourceOptions)

        var sourceImage: SourceImage
        var graph: ImageGraph?
        if platforms == nil, let known = try? state?.compressedDigest(forDiffID: image.id, settings: settings) {
            // Known: the export waits until a tag needs pushing (most reruns never export).
            sourceImage = SourceImage(
                description: written, root: known, manifests: [], blobs: [],
                payload: { blob in
                    // Not reached: the executor reads blobs from what `loadContent` returns.
                    BlobPayload(descriptor: blob) { _ throws -> any BlobStream in
                        throw SourceError.unknownBlob(source: written, digest: blob.digest)
                    }
                })
            sourceImage.loadContent = { () throws -> SourceImage in
                let export: EngineExport
                do throws(EngineExport.Failure) {
                    export = try EngineExport.export(name, from: client, options: sourceOptions)
                } catch {
                    throw PreparationError.engineExport(written, error)
                }
                let loaded = try export.source.loadGraph()
                guard loaded.root.digest == known.digest else {
                    // The mapping no longer holds (other compression code, a changed cache): the
                    // push fails and the mapping is replaced by the next cold export.
                    throw PreparationError.engineExport(
                        written,
                        .source(
                            .knownCompressionMismatch(source: written, diffID: image.id, known: known.digest, produced: loaded.root.digest))
                    )
                }
                return Self.sourceImage(written, export: export, graph: loaded)
            }
        } else {
            let export: EngineExport
            do throws(EngineExport.Failure) {
                export = try EngineExport.export(name, from: client, options: sourceOptions)
            } catch {
                throw .engineExport(written, error)
            }
            let loaded: ImageGraph
            do { loaded = try export.source.loadGraph() } catch { throw .engineExport(written, .source(error)) }
            localSources.append(
                LoadedSource(location: .dockerArchive(path: export.spoolPath, ref: nil), source: export.source, graph: loaded))
            engineImages.append((image.id, loaded.root))
            graph = loaded
            sourceImage = Self.sourceImage(written, export: export, graph: loaded)
            if let platforms {
                do { sourceImage = try PlatformSubset.apply(sourceImage, platforms: platforms) } catch { throw .platforms(error) }
            }
        }
        let push = PushJob(
            target: target, registryKey: connection.registryKey, endpoints: connection,
            image: sourceImage, credentialIdentity: Self.credentialIdentity(connection, state: state),
            concurrency: concurrencyOverride ?? job.defaults.concurrency)
        return Ready(pushes: [push], graph: graph)
    }

    /// The executor's view of an exported image; its payloads keep the spool file alive.
    static func sourceImage(_ written: String, export: EngineExport, graph: ImageGraph) -> SourceImage {
        SourceImage(
            description: written, root: graph.root,
            manifests: graph.manifestsChildrenFirst.map { ($0, graph.manifestBytes($0.digest) ?? []) },
            blobs: graph.blobs, payload: { export.source.payload(for: $0) }, diffIDs: graph.diffIDs)
    }
}
