import Foundation
import OCI
import Testing

@testable import Signing

/// This test target's directory, found from this file's path (nothing outside the repository is read).
let testsDirectory: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let fixtures = testsDirectory + "/Fixtures/cosign"

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// A skopeo `dir:` image from the fixtures: its manifest's digest and its signatures.
struct DirImage {
    var manifest: [UInt8]
    var digest: Digest { Digest.of(manifest) }
    var signatures: [SignedPayload]

    init(_ name: String) throws {
        let directory = fixtures + "/" + name
        manifest = try readBytes(directory + "/manifest.json")
        signatures = []
        var index = 1
        while FileManager.default.fileExists(atPath: "\(directory)/signature-\(index)") {
            signatures.append(try SigstoreSignatureFile.parse(try readBytes("\(directory)/signature-\(index)")))
            index += 1
        }
    }
}

func fixtureKey(_ name: String) throws -> PublicKey { try KeyFiles.loadPublicKey(path: fixtures + "/" + name) }

/// The identity every fixture payload names.
let fixtureIdentity = "192.168.64.2:5000/cosign-signed-single-sample"

/// A fresh directory under the system's temporary directory, removed by `body`'s end.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("pushctl-signing-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Debian's python3 (python3-cryptography, python3-nacl) running cosign_interop.py: an
/// independent implementation of the key and signature formats.
struct Interop {
    static let python = "/usr/bin/python3"
    static let script = testsDirectory + "/cosign_interop.py"

    struct Result {
        var status: Int32
        var output: String
        var errors: String
        var trimmed: String { output.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func run(_ arguments: String...) throws -> Result { try execute(arguments) }

    /// Runs and requires exit 0; returns trimmed stdout.
    static func ok(_ arguments: String...) throws -> String {
        let result = try execute(arguments)
        try #require(result.status == 0, "cosign_interop.py \(arguments.first ?? "") exited \(result.status): \(result.errors)")
        return result.trimmed
    }

    private static func execute(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // stderr is small (a traceback at most); stdout is read to its end first.
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
    }
}
