import Signing

/// `pushctl key generate PREFIX` (docs/cli.md "Commands") behind one call: a cosign key pair,
/// PREFIX.key (encrypted, mode 0600) and PREFIX.pub; existing files are never overwritten.
public enum KeyGeneration {
    /// Why the key pair was not written (said as the signing layer says it).
    public struct Failure: Error, CustomStringConvertible {
        let error: KeyError
        public var description: String { String(describing: error) }
    }

    /// Writes the pair; returns the new key's id.
    public static func writeKeyPair(prefix: String, passphrase: String) throws(Failure) -> String {
        do throws(KeyError) {
            return try KeyFiles.writeKeyPair(passphrase: passphrase, privateKeyPath: prefix + ".key", publicKeyPath: prefix + ".pub").id
        } catch {
            throw Failure(error: error)
        }
    }
}
