import Foundation
import OCI
import Threading

/// Random test blobs and the payloads the registry client uploads.
public struct TestBlob: Sendable {
    public let bytes: [UInt8]
    public let descriptor: Descriptor

    /// `size` random bytes (a fresh blob every call, so tests never collide on digests).
    public static func random(size: Int, mediaType: String = MediaType.ociLayerGzip) -> TestBlob {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: size)
        var index = 0
        while index < size {
            var word = generator.next()
            for _ in 0..<8 where index < size {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return TestBlob(bytes: bytes, mediaType: mediaType)
    }

    public init(bytes: [UInt8], mediaType: String = MediaType.ociLayerGzip) {
        self.bytes = bytes
        descriptor = Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: Int64(bytes.count))
    }

    public var digest: Digest { descriptor.digest }

    /// A payload over the in-memory bytes that counts how often it is opened and at which offsets.
    public func payload(opens: OpenLog? = nil) -> BlobPayload {
        let bytes = bytes
        return BlobPayload(descriptor: descriptor) { offset in
            opens?.record(offset)
            return MemoryBlobStream(bytes, offset: Int(offset))
        }
    }

    /// Offsets at which a payload was opened (a resumed upload opens at a non-zero offset).
    public final class OpenLog: Sendable {
        private let offsets = LockedValue<[Int64]>([])
        public init() {}
        func record(_ offset: Int64) { offsets.withLock { $0.append(offset) } }
        public var all: [Int64] { offsets.withLock { $0 } }
    }

    /// A minimal OCI image manifest referencing a config blob and layers (bytes exactly as pushed).
    public static func manifest(config: Descriptor, layers: [Descriptor]) -> [UInt8] {
        let text =
            #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociManifest)","config":\#(descriptorJSON(config)),"layers":[\#(layers.map { descriptorJSON($0) }.joined(separator: ","))]}"#
        return Array(text.utf8)
    }
}

/// A descriptor as compact JSON (media type, digest, size), optionally with an
/// `org.opencontainers.image.ref.name`: the form every hand-written manifest and index here uses.
public func descriptorJSON(_ d: Descriptor, refName: String? = nil) -> String {
    var text = #"{"mediaType":"\#(d.mediaType)","digest":"\#(d.digest)","size":\#(d.size)"#
    if let refName { text += #","annotations":{"\#(Descriptor.refNameAnnotation)":"\#(refName)"}"# }
    return text + "}"
}
