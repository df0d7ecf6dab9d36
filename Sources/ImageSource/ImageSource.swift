// The ImageSource module: reads images from local sources (OCI layouts, OCI archives, docker-save
// archives) into one model, `ImageGraph`, and streams their blobs verified.
// Contract: docs/jobfile.md "Sources". User documentation: docs/image-sources.md.
import OCI

/// A local image source. Implementations are immutable or lock their mutable state, so one source
/// can be read from several pusher threads at once.
public protocol ImageSource: Sendable {
    /// The source as the user wrote it, e.g. `oci:build/app:1.4.2`, for messages.
    var description: String { get }

    /// Parses the source, selects its image by REF and checks that every blob the image needs is
    /// there (all missing blobs are reported together). For docker archives this also produces the
    /// compressed layers (or takes them from the cache), so it can take a while on first use.
    func loadGraph() throws(SourceError) -> ImageGraph

    /// The bytes of a blob (config or layer) or of a manifest of the graph, as a stream that hashes
    /// while reading and throws `SourceError.blobDigestMismatch`/`.blobSizeMismatch` at the end when
    /// the bytes are not the ones the descriptor names. Opening at an offset > 0 reads and hashes the
    /// skipped prefix first, so resumed uploads are verified too.
    func payload(for blob: Descriptor) -> BlobPayload
}

/// Opens a source. Only cheap checks happen here (the path exists, the kind is right); everything
/// else happens in `loadGraph()`. With `opened`, an OCI layout's index and an OCI archive's tar
/// index are read once for all the images of the run that come from them.
public func openImageSource(
    _ location: ImageSourceLocation, options: SourceOptions = SourceOptions(), opened: OpenedLayouts? = nil
) throws(SourceError) -> any ImageSource {
    switch location {
    case .ociLayout(let path, let ref):
        return try OCILayoutSource(store: DirectoryBlobStore(root: path), location: location, ref: ref, opened: opened)
    case .ociArchive(let path, let ref):
        return try OCILayoutSource(
            store: OpenedLayouts.archive(path, opened: opened), location: location, ref: ref, opened: opened)
    case .dockerArchive(let path, let ref):
        return try DockerArchiveSource(archive: TarArchive.open(path), location: location, ref: ref, options: options)
    }
}
