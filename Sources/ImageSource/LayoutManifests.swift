import Foundation
import OCI

/// Every manifest an OCI layout (or OCI archive) lists in its `index.json`, with its exact bytes:
/// where `referrers:` looks for manifests whose `subject` is the image being pushed (README
/// "Signatures and SBOMs"). Tools such as oras and cosign list referrers there without a
/// `ref.name`. Entries whose blob is missing or is not a manifest are left out: they are no
/// referrer, and the image itself is checked by its own reading. With `opened` (the run's), the
/// index and an archive's tar are the ones the image was read from, not read again.
public func layoutManifests(
    _ location: ImageSourceLocation, opened: OpenedLayouts? = nil
) throws(SourceError) -> [(descriptor: Descriptor, bytes: [UInt8])] {
    let files: any LayoutFiles
    switch location {
    case .ociLayout(let path, _): files = try DirectoryBlobStore(root: path)
    case .ociArchive(let path, _): files = try OpenedLayouts.archive(path, opened: opened)
    case .dockerArchive: return []
    }
    let entries = try OCILayoutSource.entries(of: files, source: location.description, opened: opened)
    var out: [(descriptor: Descriptor, bytes: [UInt8])] = []
    var seen: Set<Digest> = []
    for entry in entries where seen.insert(entry.digest).inserted && entry.size <= 4 << 20 {
        guard let blob = try files.region(files.blobPath(entry.digest)) else { continue }
        let bytes = try blob.readAll(limit: 4 << 20)
        guard Digest.of(bytes, algorithm: entry.digest.algorithm) == entry.digest,
            let parsed = try? ManifestDocument.parse(bytes)
        else { continue }
        var descriptor = entry
        descriptor.mediaType = parsed.mediaType
        descriptor.size = Int64(bytes.count)
        out.append((descriptor, bytes))
    }
    return out
}
