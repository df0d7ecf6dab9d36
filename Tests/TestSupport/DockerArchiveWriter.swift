import OCI

/// A `docker save` archive (classic form: `manifest.json`, a config, one tar per layer) of random
/// uncompressed layers, for tests that need pushctl to compress layers of known diffIDs.
public struct GeneratedDockerArchive: Sendable {
    /// The archive's bytes.
    public let bytes: [UInt8]
    /// The config's bytes, as the archive holds them.
    public let config: [UInt8]
    /// Each layer's uncompressed tar, in order (their digests are the config's diffIDs).
    public let layers: [[UInt8]]

    /// One layer of `size` random bytes (in a file `data<n>.bin`) per entry of `layerSizes`,
    /// tagged `repoTag`.
    public init(layerSizes: [Int], repoTag: String = "made:1") {
        var tar = TarWriter()
        var layers: [[UInt8]] = []
        for (n, size) in layerSizes.enumerated() {
            var layer = TarWriter()
            layer.file("data\(n).bin", TestBlob.random(size: size).bytes)
            layers.append(layer.bytes())
            tar.file("layers/\(n).tar", layers[n])
        }
        let diffIDs = layers.map { "\"\(Digest.of($0))\"" }.joined(separator: ",")
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[\#(diffIDs)]}}"#.utf8)
        tar.file("config.json", config)
        let members = layers.indices.map { "\"layers/\($0).tar\"" }.joined(separator: ",")
        tar.file("manifest.json", Array(#"[{"Config":"config.json","RepoTags":["\#(repoTag)"],"Layers":[\#(members)]}]"#.utf8))
        self.bytes = tar.bytes()
        self.config = config
        self.layers = layers
    }
}
