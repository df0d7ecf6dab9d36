import OCI
import Threading

/// OCI layouts and archives already opened in this process, shared by every image read from them.
///
/// A job that pushes many images of one layout (one item per `REF`) opens it once per image: without
/// this, each image parsed the layout's `index.json` again (100 images of a 100-entry index: 10,000
/// descriptors decoded), and each image of an `oci-archive` read the whole tar's headers again.
/// Whatever the layout holds is read once per run, which also gives every image of the run the same
/// view of an index that changes meanwhile.
public final class OpenedLayouts: Sendable {
    private let stores = LockedValue<[String: any LayoutFiles]>([:])
    private let indexes = LockedValue<[String: [Descriptor]]>([:])

    public init() {}

    /// The archive at `path`, indexed on first use (a failure is not kept: the next image tries again).
    func archive(_ path: String) throws(SourceError) -> any LayoutFiles {
        if let known = stores.withLock({ $0[path] }) { return known }
        let store = TarBlobStore(archive: try TarArchive.open(path))
        return stores.withLock { stores in
            if let first = stores[path] { return first }  // another thread opened it meanwhile
            stores[path] = store
            return store
        }
    }

    /// The archive at `path`: the run's (`opened.archive`) when `opened` is given, else read here.
    static func archive(_ path: String, opened: OpenedLayouts?) throws(SourceError) -> any LayoutFiles {
        if let opened { return try opened.archive(path) }
        return TarBlobStore(archive: try TarArchive.open(path))
    }

    /// The entries of the layout's `index.json`, read by `read` on first use.
    func index(of files: any LayoutFiles, _ read: () throws(SourceError) -> [Descriptor]) throws(SourceError) -> [Descriptor] {
        if let known = indexes.withLock({ $0[files.path] }) { return known }
        let entries = try read()
        return indexes.withLock { indexes in
            if let first = indexes[files.path] { return first }
            indexes[files.path] = entries
            return entries
        }
    }
}
