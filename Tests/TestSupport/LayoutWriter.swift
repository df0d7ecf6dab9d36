import Foundation
import OCI

/// Writes OCI image layouts by hand: blobs of random bytes of any size (read from /dev/urandom
/// and hashed while written, so a big layer costs no memory), image manifests over them, and
/// `index.json` entries tagged with `org.opencontainers.image.ref.name`.
///
/// Layers are written as uncompressed tar media type, so each layer's diffID is its digest and
/// the config is consistent; no tool looks inside the bytes.
public final class LayoutWriter {
    public let path: String
    private var entries: [Descriptor] = []

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path + "/blobs/sha256", withIntermediateDirectories: true)
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: path + "/oci-layout"))
        try writeIndex()
    }

    public func blobPath(_ digest: Digest) -> String { "\(path)/blobs/\(digest.algorithm.rawValue)/\(digest.hex)" }

    /// Stores bytes as a blob.
    @discardableResult
    public func addBlob(_ bytes: [UInt8], mediaType: String, algorithm: Digest.Algorithm = .sha256) throws -> Descriptor {
        let digest = Digest.of(bytes, algorithm: algorithm)
        try FileManager.default.createDirectory(atPath: "\(path)/blobs/\(algorithm.rawValue)", withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: blobPath(digest)))
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// Stores `size` random bytes as a layer blob, streamed from /dev/urandom.
    public func addRandomLayer(size: Int64) throws -> Descriptor {
        let temporary = "\(path)/blobs/sha256/.incoming-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let output = FileHandle(forWritingAtPath: temporary),
            let random = FileHandle(forReadingAtPath: "/dev/urandom")
        else {
            throw HarnessError.toolFailed("writing a random layer at \(temporary)", status: 1, stderr: "cannot open files")
        }
        defer { try? output.close(); try? random.close() }
        var hasher = DigestHasher()
        var left = size
        while left > 0 {
            let chunk = random.readData(ofLength: Int(min(left, 1 << 20)))
            chunk.withUnsafeBytes { hasher.update($0) }
            try output.write(contentsOf: chunk)
            left -= Int64(chunk.count)
        }
        let digest = hasher.finalize()
        try FileManager.default.moveItem(atPath: temporary, toPath: blobPath(digest))
        return Descriptor(mediaType: MediaType.ociLayer, digest: digest, size: size)
    }

    /// Writes a config and an image manifest over `layers`, and tags the manifest in `index.json`.
    @discardableResult
    public func addImage(tag: String, layers: [Descriptor], architecture: String = "amd64") throws -> Descriptor {
        let diffIDs = layers.map { "\"\($0.digest)\"" }.joined(separator: ",")
        let config = try addBlob(
            Array(
                #"{"architecture":"\#(architecture)","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[\#(diffIDs)]}}"#.utf8),
            mediaType: MediaType.ociConfig)
        let manifest = try addBlob(TestBlob.manifest(config: config, layers: layers), mediaType: MediaType.ociManifest)
        var entry = manifest
        entry.annotations = [Descriptor.refNameAnnotation: tag]
        entries.append(entry)
        try writeIndex()
        return manifest
    }

    /// Writes an OCI index over `manifests` (each with its platform) and tags it in `index.json`.
    @discardableResult
    public func addIndex(tag: String, manifests: [(descriptor: Descriptor, architecture: String)]) throws -> Descriptor {
        let entries = manifests.map {
            #"{"mediaType":"\#($0.descriptor.mediaType)","digest":"\#($0.descriptor.digest)","size":\#($0.descriptor.size),"platform":{"architecture":"\#($0.architecture)","os":"linux"}}"#
        }
        let bytes = Array(
            #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":[\#(entries.joined(separator: ","))]}"#.utf8)
        var entry = try addBlob(bytes, mediaType: MediaType.ociIndex)
        entry.annotations = [Descriptor.refNameAnnotation: tag]
        self.entries.append(entry)
        try writeIndex()
        entry.annotations = nil
        return entry
    }

    /// Stores a manifest's bytes and lists it in `index.json`, tagged `refName` or untagged (as
    /// oras and cosign list referrers in a layout).
    @discardableResult
    public func addManifest(_ bytes: [UInt8], mediaType: String = MediaType.ociManifest, refName: String? = nil) throws -> Descriptor {
        let descriptor = try addBlob(bytes, mediaType: mediaType)
        var entry = descriptor
        if let refName { entry.annotations = [Descriptor.refNameAnnotation: refName] }
        entries.append(entry)
        try writeIndex()
        return descriptor
    }

    /// An OCI artifact manifest (empty config, one layer of `content`) whose `subject` is
    /// `subject`: an SBOM, a signature, an attestation.
    @discardableResult
    public func addReferrer(
        to subject: Descriptor, artifactType: String, content: String,
        annotations: [String: String] = [:], refName: String? = nil
    ) throws -> Descriptor {
        let empty = try addBlob(Array("{}".utf8), mediaType: "application/vnd.oci.empty.v1+json")
        let layer = try addBlob(Array(content.utf8), mediaType: artifactType)
        let notes = annotations.sorted { $0.key < $1.key }.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",")
        let text =
            #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociManifest)","artifactType":"\#(artifactType)","config":\#(descriptorJSON(empty)),"layers":[\#(descriptorJSON(layer))],"subject":\#(descriptorJSON(subject))"#
            + (annotations.isEmpty ? "" : #","annotations":{\#(notes)}"#) + "}"
        return try addManifest(Array(text.utf8), refName: refName)
    }

    /// Replaces `index.json` with exactly these bytes (entries that say what their documents are not).
    public func writeIndex(exactly bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/index.json"))
    }

    private func writeIndex() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(LayoutIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries))
            .write(to: URL(fileURLWithPath: path + "/index.json"))
    }
}

struct LayoutIndex: Codable {
    var schemaVersion: Int
    var mediaType: String?
    var manifests: [Descriptor]
}

/// A layout made by umoci: tag `base` (linux/amd64, two layers of pseudo-random files made by
/// unpack/repack), tag `arm` (the same layers, a linux/arm64 config) and tag `multi`, an OCI index
/// over both with their platforms.
public struct UmociMultiPlatformLayout: Sendable {
    public let path: String
    public let base: Descriptor
    public let arm: Descriptor
    public let index: Descriptor

    /// Makes the layout at `path` (which must not exist); `seed` varies the layer contents.
    public static func make(at path: String, seed: UInt64 = 0) throws -> UmociMultiPlatformLayout {
        let work = path + ".work"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try TestTools.run("umoci", ["init", "--layout", path])
        try TestTools.run("umoci", ["new", "--image", "\(path):base"])
        for (step, file) in ["one", "dir/two"].enumerated() {
            let bundle = "\(work)/bundle\(step)"
            try TestTools.run("umoci", ["unpack", "--rootless", "--image", "\(path):base", bundle])
            let file = bundle + "/rootfs/" + file
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // Pseudo-random (xorshift), so the layers do not compress to almost nothing.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(step) &+ seed &* 0x1000_0000_01B3
            let bytes = (0..<50_000).map { _ -> UInt8 in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            try TestTools.run("umoci", ["repack", "--image", "\(path):base", bundle])
        }
        try TestTools.run("umoci", ["config", "--image", "\(path):base", "--tag", "arm", "--architecture", "arm64", "--os", "linux"])

        let indexPath = path + "/index.json"
        var top = try JSONDecoder().decode(LayoutIndex.self, from: Data(contentsOf: URL(fileURLWithPath: indexPath)))
        func entry(_ tag: String) throws -> Descriptor {
            guard var d = top.manifests.first(where: { $0.annotations?[Descriptor.refNameAnnotation] == tag }) else {
                throw HarnessError.toolFailed("umoci", status: 0, stderr: "umoci wrote no tag \(tag) in \(indexPath)")
            }
            d.annotations = nil
            return d
        }
        var base = try entry("base"); base.platform = Platform(architecture: "amd64", os: "linux")
        var arm = try entry("arm"); arm.platform = Platform(architecture: "arm64", os: "linux")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let indexBytes = [UInt8](try encoder.encode(LayoutIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [base, arm])))
        let indexDigest = Digest.of(indexBytes)
        try Data(indexBytes).write(to: URL(fileURLWithPath: path + "/blobs/sha256/" + indexDigest.hex))
        let index = Descriptor(mediaType: MediaType.ociIndex, digest: indexDigest, size: Int64(indexBytes.count))
        var tagged = index
        tagged.annotations = [Descriptor.refNameAnnotation: "multi"]
        top.manifests.append(tagged)
        try encoder.encode(top).write(to: URL(fileURLWithPath: indexPath))
        return UmociMultiPlatformLayout(path: path, base: base, arm: arm, index: index)
    }
}

extension LayoutWriter {
    /// An image of one random layer of `size` bytes, tagged `tag`.
    @discardableResult
    public func addImage(tag: String, randomLayerSize size: Int64, architecture: String = "amd64") throws -> Descriptor {
        try addImage(tag: tag, layers: [try addRandomLayer(size: size)], architecture: architecture)
    }
}

extension Scratch {
    /// A layout writer on the folder `name` (`image`: what the jobs' `oci:image:TAG` sources read).
    public func layout(_ name: String = "image") throws -> LayoutWriter { try LayoutWriter(path: sub(name)) }
}
