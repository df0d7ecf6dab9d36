import OCI

/// `docker-archive:FILE[:REF]` (stub; being implemented).
struct DockerArchiveSource: ImageSource {
    let archive: TarArchive
    let location: SourceLocation
    let ref: String?
    let options: SourceOptions
    var description: String { location.description }

    init(archive: TarArchive, location: SourceLocation, ref: String?, options: SourceOptions) throws(SourceError) {
        self.archive = archive
        self.location = location
        self.ref = ref
        self.options = options
    }

    func loadGraph() throws(SourceError) -> ImageGraph {
        throw .missingArchiveMember(archive: archive.path, member: "manifest.json")
    }

    func payload(for blob: Descriptor) -> BlobPayload {
        let source = description
        return BlobPayload(descriptor: blob) { _ in throw SourceError.unknownBlob(source: source, digest: blob.digest) }
    }
}
