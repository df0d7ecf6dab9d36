import Foundation
import ImageSource
import OCI
import Registry
import Threading

/// A blob read from a source registry while it is being uploaded to the target: a download runs on
/// its own thread and hands its bytes through a bounded buffer (`BytePipe`) to the uploading
/// thread, which reads them through this stream. Nothing touches the disk and memory stays within
/// the pipe's capacity whatever the layer's size. The bytes are hashed as they pass, and the end of
/// the stream throws unless exactly `size` bytes hashing to `digest` came through, so a registry
/// that serves wrong bytes can never make pushctl push them.
///
/// Opened at an offset (a resumed upload), the download starts from the beginning and the skipped
/// prefix is hashed but not returned.
final class RegistryBlobStream: BlobStream {
    /// Bytes held between the download and the upload at most.
    static let pipeCapacity = 4 << 20

    private let pipe: BytePipe
    private let expected: Descriptor
    private let sourceName: String
    private var hasher: DigestHasher
    private var position: Int64 = 0
    private var finished = false

    init(access: RegistrySourceAccess, repository: String, blob: Descriptor, sourceName: String, offset: Int64) throws {
        self.expected = blob
        self.sourceName = sourceName
        self.hasher = DigestHasher(algorithm: blob.digest.algorithm)
        let pipe = BytePipe(capacity: Self.pipeCapacity)
        self.pipe = pipe
        // A plain thread, not a Swift concurrency task: the download blocks in libcurl.
        let thread = Thread {
            do {
                try access.read { client throws(RegistryError) in
                    do throws(RegistryError) {
                        try client.fetchBlob(repository, blob.digest) { bytes in try pipe.write(bytes) }
                    } catch {
                        // The upload stopped reading: not the source endpoint's fault.
                        if pipe.isClosed { throw .cancelled }
                        // Bytes already went out: another endpoint would repeat them. The upload's
                        // own retry re-opens the stream from the start instead.
                        if pipe.hasWritten { throw .source(operation: "fetch blob \(blob.digest)", message: error.description) }
                        throw error
                    }
                }
                pipe.finish(error: nil)
            } catch {
                pipe.finish(error: error)
            }
        }
        thread.name = "pushctl-download-\(blob.digest.short)"
        thread.start()
        if offset > 0 { try skip(offset) }
    }

    deinit {
        // An upload that stopped early (failure, retry, cancel) releases the download thread.
        pipe.close()
    }

    private func skip(_ count: Int64) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = count
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard n > 0 else {
                throw SourceError.blobSizeMismatch(source: sourceName, digest: expected.digest, expected: expected.size, actual: position)
            }
            remaining -= Int64(n)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if finished { return 0 }
        let n = try pipe.read(into: buffer)
        if n > 0 {
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            position += Int64(n)
            if position > expected.size {
                throw SourceError.blobSizeMismatch(source: sourceName, digest: expected.digest, expected: expected.size, actual: position)
            }
            return n
        }
        finished = true
        guard position == expected.size else {
            throw SourceError.blobSizeMismatch(source: sourceName, digest: expected.digest, expected: expected.size, actual: position)
        }
        let actual = hasher.finalize()
        guard actual == expected.digest else {
            throw SourceError.blobDigestMismatch(source: sourceName, expected: expected.digest, actual: actual)
        }
        return 0
    }
}

/// A bounded single-producer, single-consumer byte buffer between two threads. The writer blocks
/// while it is full, the reader while it is empty; either side can end it.
final class BytePipe: @unchecked Sendable {  // all state is guarded by `condition`
    private let condition = Lock()
    private let capacity: Int
    private var chunks: [[UInt8]] = []
    private var headOffset = 0
    private var buffered = 0
    private var writerDone = false
    private var writerError: (any Error)?
    private var readerClosed = false

    private var wroteAny = false

    init(capacity: Int) {
        self.capacity = capacity
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return readerClosed
    }

    var hasWritten: Bool {
        condition.lock()
        defer { condition.unlock() }
        return wroteAny
    }

    struct ReaderGone: Error, CustomStringConvertible {
        var description: String { "the upload reading this download stopped" }
    }

    /// Appends bytes, waiting for room; throws when the reader went away.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        condition.lock()
        defer { condition.unlock() }
        while buffered >= capacity && !readerClosed { condition.wait() }
        if readerClosed { throw ReaderGone() }
        chunks.append(Array(bytes))
        buffered += bytes.count
        wroteAny = true
        condition.broadcast()
    }

    /// Bytes held right now (tests check the bound).
    var bufferedForTests: Int {
        condition.lock()
        defer { condition.unlock() }
        return buffered
    }

    /// The writer is done; `error` when the download failed.
    func finish(error: (any Error)?) {
        condition.lock()
        writerDone = true
        writerError = error
        condition.broadcast()
        condition.unlock()
    }

    /// The reader is done (possibly early): a waiting writer is released with an error.
    func close() {
        condition.lock()
        readerClosed = true
        chunks.removeAll()
        buffered = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Copies buffered bytes; waits for some; 0 at the end; throws the download's error.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !writerDone { condition.wait() }
        if chunks.isEmpty {
            if let writerError { throw writerError }
            return 0
        }
        var copied = 0
        while copied < buffer.count, !chunks.isEmpty {
            let chunk = chunks[0]
            let n = min(buffer.count - copied, chunk.count - headOffset)
            chunk.withUnsafeBytes { source in
                (buffer.baseAddress! + copied).copyMemory(from: source.baseAddress! + headOffset, byteCount: n)
            }
            copied += n
            headOffset += n
            if headOffset == chunk.count {
                chunks.removeFirst()
                headOffset = 0
            }
        }
        buffered -= copied
        condition.broadcast()
        return copied
    }
}
