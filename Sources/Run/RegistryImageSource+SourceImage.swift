import ImageSource
import OCI
import Pusher
import RegistrySource

extension RegistryImageSource {
    /// The executor's view: the root now, the rest on first need.
    public var sourceImage: SourceImage {
        var image = SourceImage(description: description, root: root, manifests: [], blobs: [], payload: { [self] in payload(for: $0) })
        image.loadContent = { [self] () throws(SourceError) -> SourceImage in
            let graph = try loadGraph()
            return SourceImage(
                description: description, root: graph.root,
                manifests: graph.manifestsChildrenFirst.map { ($0, graph.manifestBytes($0.digest) ?? []) },
                blobs: graph.blobs, payload: { [self] in payload(for: $0) })
        }
        return image
    }
}
