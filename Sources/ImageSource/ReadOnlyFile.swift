#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file read with `pread` only, closed when the last reference goes.
/// `@unchecked Sendable`: the descriptor and size never change after `init`, and `pread` takes its
/// own offset, so concurrent readers on several threads do not disturb each other.
final class ReadOnlyFile: @unchecked Sendable {
    let path: String
    let size: Int64
    private let fd: Int32

    init(path: String) throws(SourceError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .notFound(path: path) }
            throw .io(path: path, operation: "open", reason: systemError(code))
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .io(path: path, operation: "stat", reason: systemError(code))
        }
        self.path = path
        self.fd = fd
        self.size = Int64(info.st_size)
    }

    deinit { close(fd) }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SourceError) -> Int {
        var total = 0
        while total < buffer.count {
            let n = pread(fd, buffer.baseAddress! + total, buffer.count - total, off_t(offset + Int64(total)))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .io(path: path, operation: "read", reason: systemError(code))
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Reads `count` bytes at `offset` into a new array (for small documents only).
    func readBytes(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var readError: SourceError?
        let n = bytes.withUnsafeMutableBytes { buffer -> Int in
            do throws(SourceError) { return try read(into: buffer, at: offset) } catch { readError = error; return 0 }
        }
        if let readError { throw readError }
        if n < count { bytes.removeLast(count - n) }
        return bytes
    }
}

/// What kind of thing is at a path, without following nothing but symlinks.
enum PathKind { case missing, directory, file, other }

func pathKind(_ path: String) -> PathKind {
    var info = stat()
    guard stat(path, &info) == 0 else { return .missing }
    switch info.st_mode & S_IFMT {
    case S_IFDIR: return .directory
    case S_IFREG: return .file
    default: return .other
    }
}

func systemError(_ code: Int32) -> String {
    String(cString: strerror(code))
}
