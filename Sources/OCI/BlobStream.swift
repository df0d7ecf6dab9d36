/// A readable stream of blob bytes. Sources hand these to the registry client, which reads them
/// in fixed-size pieces, so memory never grows with the size of a layer.
public protocol BlobStream: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 at the end. A verifying stream throws at the
    /// end when the bytes read do not hash to the expected digest or size.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// What the pusher needs to upload a blob: its descriptor and a way to open its bytes,
/// any number of times (a retried upload starts again from the source), at an offset
/// (a resumed chunked upload continues where the registry says it stopped).
public struct BlobPayload: Sendable {
    public let descriptor: Descriptor
    public let open: @Sendable (_ offset: Int64) throws -> any BlobStream

    public init(descriptor: Descriptor, open: @escaping @Sendable (_ offset: Int64) throws -> any BlobStream) {
        self.descriptor = descriptor
        self.open = open
    }
}

/// A stream over bytes already in memory (manifests, small configs, tests).
public final class MemoryBlobStream: BlobStream {
    private let bytes: [UInt8]
    private var position: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.position = min(offset, bytes.count)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}
