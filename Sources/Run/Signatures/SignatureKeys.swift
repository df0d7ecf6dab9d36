import Foundation
import JobFile
import Signing

/// The keys of a run's `verify:` and `sign:` policies, loaded once before anything is pushed
/// (docs/jobfile.md "Signatures"): a missing or unreadable public key, a private key file open to
/// group or others, a passphrase that is not set, or a wrong passphrase stops the run (exit 2).
public struct SignatureKeys: Sendable {
    /// Public key file (absolute path) → key.
    public var trusted: [String: PublicKey] = [:]
    /// Private key file (absolute path) → decrypted key.
    public var signing: [String: SigningKey] = [:]

    public init() {}

    /// Loads every key `jobs` name. `environment` holds `passphrase-env` variables.
    /// `signing: false` (plan) loads the public keys only.
    public static func load(_ jobs: [Job], environment: [String: String], signing: Bool = true) throws(SignatureKeyError) -> SignatureKeys {
        var keys = SignatureKeys()
        for job in jobs {
            let verifies = ([job.defaults.verify] + job.images.map(\.verify)).compactMap { $0 }.filter(\.enabled)
            for spec in verifies {
                for path in spec.keys where keys.trusted[path] == nil {
                    do throws(KeyError) {
                        keys.trusted[path] = try KeyFiles.loadPublicKey(path: path)
                    } catch {
                        throw .key(job: job.filePath, path: path, error)
                    }
                }
            }
            let signs = signing ? ([job.defaults.sign] + job.images.map(\.sign)).compactMap { $0 }.filter(\.enabled) : []
            for spec in signs where keys.signing[spec.key] == nil {
                let passphrase = try Self.passphrase(spec, job: job, environment: environment)
                do throws(KeyError) {
                    keys.signing[spec.key] = try KeyFiles.loadSigningKey(path: spec.key, passphrase: passphrase)
                } catch {
                    throw .key(job: job.filePath, path: spec.key, error)
                }
            }
        }
        return keys
    }

    /// True when some job has a `verify:` or `sign:` policy in use.
    public static func needed(_ jobs: [Job]) -> Bool {
        jobs.contains { job in
            job.images.contains { job.verify(of: $0) != nil || job.sign(of: $0) != nil }
        }
    }

    static func passphrase(_ spec: SignSpec, job: Job, environment: [String: String]) throws(SignatureKeyError) -> String {
        switch spec.passphrase {
        case .environment(let name):
            guard let value = environment[name] else { throw .passphraseUnset(job: job.filePath, variable: name, key: spec.key) }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .passphraseFile(job: job.filePath, path: path, key: spec.key)
            }
            // The first line, without its line break (as `echo secret > file` writes it).
            let text = String(decoding: data, as: UTF8.self)
            return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        }
    }

    /// The trusted keys of one policy, in the order written.
    func publicKeys(_ spec: VerifySpec) -> [PublicKey] { spec.keys.compactMap { trusted[$0] } }
}

/// Why a run's keys could not be loaded (exit 2, before any push).
public enum SignatureKeyError: Error, Equatable, CustomStringConvertible {
    case key(job: String, path: String, KeyError)
    case passphraseUnset(job: String, variable: String, key: String)
    case passphraseFile(job: String, path: String, key: String)

    public var description: String {
        switch self {
        case .key(let job, let path, let error):
            switch error {
            case .keyFileNotPrivate, .io, .keyFileExists: "\(job): \(error)"
            default: "\(job): key file \(path): \(error)"
            }
        case .passphraseUnset(let job, let variable, let key):
            "\(job): the passphrase of \(key) is read from the environment variable \(variable), which is not set"
        case .passphraseFile(let job, let path, let key):
            "\(job): cannot read the passphrase file \(path) of \(key)"
        }
    }
}
