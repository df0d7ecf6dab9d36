#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Key files on disk.
///
/// Permission rule (docs/signing.md): a private key file must give group and others no access at
/// all — any of the mode bits 0o077 set and loading refuses, naming the file and the `chmod 600`
/// that fixes it, before the passphrase is even tried (OpenSSH's rule for identity files). The key
/// is encrypted, but a readable file exposes it to offline passphrase guessing. Key files are
/// written with mode 0600 (public keys 0644), and never over an existing file.
public enum KeyFiles {
    /// Reads and decrypts a cosign encrypted private key file.
    public static func loadSigningKey(path: String, passphrase: String) throws(KeyError) -> SigningKey {
        var bytes = try readFile(path, requirePrivate: true)
        defer { bytes.withUnsafeMutableBytes { sodiumWipe($0) } }
        return try SigningKey(encryptedPEM: String(decoding: bytes, as: UTF8.self), passphrase: passphrase)
    }

    /// Reads a PEM `PUBLIC KEY` file (no permission rule: public keys are public).
    public static func loadPublicKey(path: String) throws(KeyError) -> PublicKey {
        try PublicKey(pem: String(decoding: try readFile(path, requirePrivate: false), as: UTF8.self))
    }

    /// Generates a key pair and writes it as cosign does: the encrypted private key (mode 0600)
    /// and the public key (mode 0644). Refuses when either file exists. Returns the public key.
    @discardableResult
    public static func writeKeyPair(passphrase: String, privateKeyPath: String, publicKeyPath: String) throws(KeyError) -> PublicKey {
        for path in [privateKeyPath, publicKeyPath] where access(path, F_OK) == 0 {
            throw .keyFileExists(path: path)
        }
        let key = SigningKey.generate()
        try writeFile(Array(try key.encryptedPEM(passphrase: passphrase).utf8), to: privateKeyPath, mode: 0o600)
        do {
            try writeFile(Array(key.publicKey.pem.utf8), to: publicKeyPath, mode: 0o644)
        } catch {
            // No private key left behind without its public key.
            unlink(privateKeyPath)
            throw error
        }
        return key.publicKey
    }

    /// A file's bytes, read through one descriptor so the mode checked is the file's read.
    static func readFile(_ path: String, requirePrivate: Bool) throws(KeyError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, errorText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, errorText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, "not a regular file") }
        let permissions = UInt16(info.st_mode & 0o7777)
        if requirePrivate && permissions & 0o077 != 0 {
            throw .keyFileNotPrivate(path: path, mode: permissions)
        }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, errorText())
            }
            if n == 0 { break }
            out += buffer[..<n]
            // Key files are small; a huge file is not a key.
            if out.count > 1 << 20 { throw .io(path: path, "larger than 1 MiB, not a key file") }
        }
        buffer.withUnsafeMutableBytes { sodiumWipe($0) }
        return out
    }

    /// Creates `path` (never over an existing file) with exactly `mode`, whatever the umask. A file
    /// that could not be written whole is removed.
    static func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t) throws(KeyError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw .keyFileExists(path: path) }
            throw .io(path: path, errorText())
        }
        var failure: KeyError?
        if fchmod(fd, mode) != 0 { failure = .io(path: path, errorText()) }
        var offset = 0
        while failure == nil && offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = .io(path: path, errorText())
            } else {
                offset += n
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = .io(path: path, errorText()) }
        close(fd)
        if let failure {
            unlink(path)
            throw failure
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
