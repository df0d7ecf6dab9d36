import Foundation
import Testing
import OCI
import TestSupport
@testable import ImageSource

/// The edge-case images (docker save archives, OCI layouts), written once per test process into a
/// temporary directory. Read-only by convention: copy one before changing it.
let testImages = TestImages.shared

struct ToolResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs an external tool (skopeo, umoci, tar, gzip…) with TestSupport's process runner. Fails
/// the test clearly when it is missing.
@discardableResult
func run(_ tool: String, _ arguments: [String], cwd: String? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
    -> ToolResult
{
    let executable: String
    do { executable = try TestTools.path(tool) } catch {
        Issue.record(
            "required tool \(tool) is not installed (install the Debian package; see scripts/install-deps)",
            sourceLocation: sourceLocation)
        throw ToolMissing(tool: tool)
    }
    let result = try runProcess(executable, arguments, directory: cwd)
    return ToolResult(status: result.status, stdout: result.stdoutBytes, stderr: result.stderr)
}

/// Like `run`, but the tool must succeed.
@discardableResult
func mustRun(_ tool: String, _ arguments: [String], cwd: String? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
    -> ToolResult
{
    let result = try run(tool, arguments, cwd: cwd, sourceLocation: sourceLocation)
    guard result.status == 0 else {
        Issue.record(
            "\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)", sourceLocation: sourceLocation)
        throw ToolFailed(tool: tool, status: result.status)
    }
    return result
}

struct ToolMissing: Error { let tool: String }
struct ToolFailed: Error { let tool: String; let status: Int32 }

/// A fresh temporary directory, removed when the value goes away.
typealias TempDir = Scratch

/// Reads a payload to its end into memory (small blobs only).
func readAll(_ payload: BlobPayload, offset: Int64 = 0) throws -> [UInt8] {
    let stream = try payload.open(offset)
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
        if n == 0 { break }
        out += buffer[0..<n]
    }
    return out
}

/// Reads a payload to its end, counting bytes only.
func drain(_ payload: BlobPayload, offset: Int64 = 0, bufferSize: Int = 1 << 20) throws -> Int64 {
    let stream = try payload.open(offset)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    defer { buffer.deallocate() }
    var total: Int64 = 0
    while true {
        let n = try stream.read(into: buffer)
        if n == 0 { break }
        total += Int64(n)
    }
    return total
}

func sha256(_ bytes: [UInt8]) -> Digest { Digest.of(bytes) }

/// The parts of a manifest JSON the tests compare.
struct RawManifest: Decodable {
    struct D: Decodable { var mediaType: String?; var digest: String; var size: Int64; var urls: [String]? }
    var mediaType: String?
    var config: D?
    var layers: [D]?
    var manifests: [D]?
}

func decodeManifest(_ bytes: [UInt8]) throws -> RawManifest {
    try JSONDecoder().decode(RawManifest.self, from: Data(bytes))
}

/// Opens and loads a source in one go.
func load(_ location: ImageSourceLocation, cache: String? = nil, options: SourceOptions? = nil) throws -> (any ImageSource, ImageGraph) {
    var opts = options ?? SourceOptions()
    if let cache { opts.cacheDirectory = cache }
    let source = try openImageSource(location, options: opts)
    return (source, try source.loadGraph())
}

/// Writes a file.
func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func copyItem(_ from: String, _ to: String) throws {
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

/// Writes `files` (relative path → content) under `tmp/ROOT` and tars them with GNU tar (in
/// `format`, else its default) into `tmp/NAME`; returns the archive's path.
func gnuTar(
    _ files: [String: [UInt8]], in tmp: TempDir, root: String, name: String, format: String? = nil, extraArgs: [String] = []
) throws -> String {
    let dir = tmp.sub(root)
    for (path, bytes) in files {
        let full = dir + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try write(bytes, to: full)
    }
    let archive = tmp.sub(name)
    try mustRun("tar", (format.map { ["--format=\($0)"] } ?? []) + ["-cf", archive, "-C", dir] + extraArgs + files.keys.sorted())
    return archive
}

/// Runs a source call expected to fail and returns its error.
func sourceError(_ body: () throws -> Void) -> SourceError? {
    do { try body(); return nil } catch let error as SourceError { return error } catch { return nil }
}

/// `skopeo copy --all NAME dir:TMP` writes every blob and child manifest skopeo considers part of
/// the image; the graph must hold exactly those, and the root's exact bytes.
func compareWithSkopeoCopy(_ graph: ImageGraph, name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let tmp = try TempDir()
    let dir = tmp.sub("dir")
    try mustRun("skopeo", ["copy", "--all", "--quiet", name, "dir:\(dir)"], sourceLocation: sourceLocation)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir)
    let blobs = Set(files.filter { $0.count == 64 })
    let children = Set(files.filter { $0.hasSuffix(".manifest.json") }.map { String($0.prefix(64)) })
    #expect(blobs == Set(graph.blobs.map(\.digest.hex)), sourceLocation: sourceLocation)
    #expect(children == Set(graph.manifestsChildrenFirst.dropLast().map(\.digest.hex)), sourceLocation: sourceLocation)
    let root = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json")))
    #expect(root == graph.manifestBytes(graph.root.digest), sourceLocation: sourceLocation)
}
