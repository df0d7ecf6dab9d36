import Foundation
import Testing
import OCI
@testable import ImageSource

/// Streaming keeps memory flat: a 1 GiB layer goes through the source with the peak resident set
/// growing by far less than the layer.
@Suite(.serialized) struct MemoryTests {
    static let gib: Int64 = 1 << 30
    static let limit: Int64 = 64 << 20

    /// Resets the kernel's peak-RSS mark when it can (Linux ≥ 4.0: `5` → /proc/self/clear_refs)
    /// and returns the current RSS as the baseline; otherwise the peak so far.
    func baseline() throws -> Int64 {
        if let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            try? handle.write(contentsOf: Data("5".utf8))
            try? handle.close()
        }
        return max(try status("VmRSS"), 0)
    }

    func status(_ key: String) throws -> Int64 {
        let text = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(key + ":") })
        let kib = try #require(Int64(line.split(separator: " ").dropFirst().first ?? ""))
        return kib * 1024
    }

    /// A sparse file of zeros and its sha256 (by sha256sum, independent of pushctl's hashing).
    func makeZeros(_ path: String, size: Int64) throws -> Digest {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        let out = try mustRun("sha256sum", [path]).text
        return try Digest(parsing: "sha256:" + String(out.prefix(64)))
    }

    @Test func gigabyteBlobFromLayoutStreamsInFlatMemory() throws {
        let tmp = try TempDir()
        let layout = tmp.sub("layout")
        try FileManager.default.createDirectory(atPath: layout + "/blobs/sha256", withIntermediateDirectories: true)
        let staging = tmp.sub("layer")
        let layerDigest = try makeZeros(staging, size: Self.gib)
        try FileManager.default.moveItem(atPath: staging, toPath: layout + "/blobs/sha256/" + layerDigest.hex)
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        try write(config, to: layout + "/blobs/sha256/" + sha256(config).hex)
        let manifest = Array(
            ("{\"schemaVersion\":2,\"mediaType\":\"\(MediaType.ociManifest)\",\"config\":{\"mediaType\":\"\(MediaType.ociConfig)\",\"digest\":\"\(sha256(config))\",\"size\":\(config.count)},"
                + "\"layers\":[{\"mediaType\":\"\(MediaType.ociLayer)\",\"digest\":\"\(layerDigest)\",\"size\":\(Self.gib)}]}").utf8)
        try write(manifest, to: layout + "/blobs/sha256/" + sha256(manifest).hex)
        try write(
            Array(
                ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"\(MediaType.ociManifest)\",\"digest\":\"\(sha256(manifest))\",\"size\":\(manifest.count)}]}")
                    .utf8),
            to: layout + "/index.json")
        try write(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layout + "/oci-layout")

        let (source, graph) = try load(.ociLayout(path: layout, ref: nil))
        let layer = try #require(graph.blobs.last)
        #expect(layer.size == Self.gib)
        let before = try baseline()
        let bytes = try drain(source.payload(for: layer))
        let growth = try status("VmHWM") - before
        #expect(bytes == Self.gib)
        #expect(growth < Self.limit, "peak memory grew by \(growth >> 20) MiB while streaming 1 GiB")
    }

    @Test func gigabyteDockerArchiveLayerCompressesInFlatMemory() throws {
        let tmp = try TempDir()
        let dir = tmp.sub("archive")
        try FileManager.default.createDirectory(atPath: dir + "/layer", withIntermediateDirectories: true)
        let diffID = try makeZeros(dir + "/layer/layer.tar", size: Self.gib)
        let config = Array(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"\(diffID)\"]}}".utf8)
        try write(config, to: dir + "/config.json")
        try write(Array(#"[{"Config":"config.json","RepoTags":["big:1"],"Layers":["layer/layer.tar"]}]"#.utf8), to: dir + "/manifest.json")
        let file = tmp.sub("big.tar")
        try mustRun("tar", ["-cf", file, "-C", dir, "manifest.json", "config.json", "layer/layer.tar"])
        try FileManager.default.removeItem(atPath: dir)

        var options = SourceOptions(cacheDirectory: tmp.sub("cache"))
        options.gzipLevel = 1
        let source = try openImageSource(.dockerArchive(path: file, ref: nil), options: options)
        let before = try baseline()
        let graph = try source.loadGraph()
        let layer = try #require(graph.blobs.last)
        let bytes = try drain(source.payload(for: layer))
        let growth = try status("VmHWM") - before
        #expect(graph.diffIDs[layer.digest] == diffID)
        #expect(bytes == layer.size)
        #expect(graph.sourceTags == ["1"])
        #expect(growth < Self.limit, "peak memory grew by \(growth >> 20) MiB while compressing 1 GiB")
    }
}
