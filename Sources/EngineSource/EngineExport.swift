import Foundation
import ImageSource
import OCI

/// An image exported from the engine into a spool file and opened as a docker archive.
///
/// Why a spool file: `docker save`'s tar puts `manifest.json` (which says which file is the
/// config and in which order the layers go) last, and Docker 25+ may order the OCI blobs any way
/// it likes, so the stream's order forces reading it to its end before the image can be put
/// together. The export is written to disk as it arrives (memory stays flat whatever the image's
/// size), in the cache folder (`$XDG_CACHE_HOME/pushctl/spool`, on disk rather than a tmpfs), owner-only,
/// and removed when the last push that reads it is done. Layers are then compressed from the
/// spool file exactly as for `docker-archive:` sources, with the same cache and mappings.
public final class EngineExport: Sendable {
    public let spoolPath: String
    public let source: any ImageSource

    private init(spoolPath: String, source: any ImageSource) {
        self.spoolPath = spoolPath
        self.source = source
    }

    deinit { unlink(spoolPath) }

    /// Why an export could not be opened.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case engine(EngineError)
        case source(SourceError)

        public var description: String {
            switch self {
            case .engine(let error): error.description
            case .source(let error): error.description
            }
        }
    }

    /// Exports `name` (a reference or an image ID) and opens it.
    public static func export(_ name: String, from client: EngineClient, options: SourceOptions) throws(Failure) -> EngineExport {
        let folder = options.cacheDirectory + "/spool"
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .engine(.spool(path: folder, reason: "\(error)"))
        }
        removeStaleSpoolFiles(in: folder)
        let path = folder + "/export-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).tar"
        do throws(EngineError) {
            try client.export(name, toFile: path)
        } catch {
            unlink(path)
            throw .engine(error)
        }
        do throws(SourceError) {
            // One image per export: no REF needed to pick it.
            return EngineExport(spoolPath: path, source: try openImageSource(.dockerArchive(path: path, ref: nil), options: options))
        } catch {
            unlink(path)
            throw .source(error)
        }
    }

    /// Spool files a killed process left behind (older than a day) are removed.
    static func removeStaleSpoolFiles(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let cutoff = Date().addingTimeInterval(-86_400)
        for name in names where name.hasPrefix("export-") {
            let path = folder + "/" + name
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff {
                unlink(path)
            }
        }
    }
}
