import Foundation
import Testing
import OCI
@testable import ImageSource

/// The tar reader against archives written by GNU tar in each of its formats.
@Suite struct TarArchiveTests {
    /// Writes `files` (relative path → content) under a directory and tars it with GNU tar.
    func makeTar(format: String, files: [String: [UInt8]], in tmp: TempDir, extraArgs: [String] = []) throws -> String {
        try gnuTar(files, in: tmp, root: "root-\(format)", name: "archive-\(format).tar", format: format, extraArgs: extraArgs)
    }

    @Test(arguments: ["gnu", "pax", "ustar"])
    func longNames(format: String) throws {
        let tmp = try TempDir()
        // ustar can only split at a slash (prefix ≤ 155, name ≤ 100); GNU and pax take anything.
        let long =
            format == "ustar"
            ? String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 90)
            : String(repeating: "n", count: 150) + "/" + String(repeating: "x", count: 120)
        let files: [String: [UInt8]] = [long: Array("long name".utf8), "short": Array(repeating: 7, count: 1000)]
        let archive = try TarArchive.open(makeTar(format: format, files: files, in: tmp))
        for (name, content) in files {
            let region = try #require(archive.region(name))
            #expect(try region.readAll() == content)
            #expect(archive.region("./" + name) != nil)  // names are normalised
        }
        #expect(archive.region("absent") == nil)
    }

    @Test func linksResolveToTheirTargets() throws {
        let tmp = try TempDir()
        let root = tmp.sub("root")
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/b", withIntermediateDirectories: true)
        try write(Array("target".utf8), to: root + "/a/file")
        try FileManager.default.createSymbolicLink(atPath: root + "/b/sym", withDestinationPath: "../a/file")
        try FileManager.default.linkItem(atPath: root + "/a/file", toPath: root + "/b/hard")
        let file = tmp.sub("links.tar")
        try mustRun("tar", ["-cf", file, "-C", root, "a", "b"])
        let archive = try TarArchive.open(file)
        #expect(try archive.region("b/sym")?.readAll() == Array("target".utf8))
        #expect(try archive.region("b/hard")?.readAll() == Array("target".utf8))
        #expect(archive.region("a") == nil)  // a directory is not a file
    }

    @Test func truncatedArchiveIsReported() throws {
        let tmp = try TempDir()
        let file = tmp.sub("short.tar")
        // 3000 bytes end inside the layer: docker puts the config (under 512 bytes) and VERSION first.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: testImages.imageOneArchive)))
        try write(Array(bytes.prefix(3000)), to: file)
        let error = sourceError { _ = try load(.dockerArchive(path: file, ref: nil), cache: tmp.sub("cache")) }
        guard case .truncatedArchive(let path, let member, let declared, let available)? = error else {
            Issue.record("got \(String(describing: error))"); return
        }
        #expect(path == file)
        #expect(member == testImages.imageOne.layerMember)
        #expect(declared == testImages.imageOne.layers[0].descriptor.size)
        #expect(available < declared)
    }

    @Test func compressedAndForeignFilesAreRefused() throws {
        let tmp = try TempDir()
        let gz = tmp.sub("image.tar.gz")
        try write(try mustRun("gzip", ["-c", testImages.imageOneArchive]).stdout, to: gz)
        #expect(sourceError { _ = try load(.dockerArchive(path: gz, ref: nil)) } == .compressedArchive(path: gz, format: "gzip"))
        let junk = tmp.sub("junk")
        try write((0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 1) }, to: junk)
        #expect(
            sourceError { _ = try load(.ociArchive(path: junk, ref: nil)) }
                == .notATarArchive(path: junk, reason: "no tar header at the start of the file"))
        let empty = tmp.sub("empty")
        try write([], to: empty)
        #expect(
            sourceError { _ = try load(.dockerArchive(path: empty, ref: nil)) } == .notATarArchive(path: empty, reason: "the file is empty")
        )
        #expect(
            sourceError { _ = try load(.dockerArchive(path: tmp.sub("absent.tar"), ref: nil)) } == .notFound(path: tmp.sub("absent.tar")))
    }

    /// `tar -C layout .` writes `./`-prefixed names; an OCI archive made that way reads the same
    /// as its directory.
    @Test func ociArchiveWithDotSlashNames() throws {
        let tmp = try TempDir()
        let layout = testImages.oneImageLayout
        let file = tmp.sub("layout.tar")
        try mustRun("tar", ["--format=pax", "-cf", file, "-C", layout, "."])
        let (_, fromTar) = try load(.ociArchive(path: file, ref: nil))
        let (_, fromDir) = try load(.ociLayout(path: layout, ref: nil))
        #expect(fromTar.root == fromDir.root)
        #expect(fromTar.blobs == fromDir.blobs)
        // A docker archive given as oci-archive: says what is missing.
        let docker = testImages.imageOneArchive
        #expect(
            sourceError { _ = try load(.ociArchive(path: docker, ref: nil)) }
                == .notALayout(path: docker, reason: "it has neither an oci-layout file nor an index.json"))
    }

    @Test func locationsParse() {
        #expect(ImageSourceLocation(parsing: "oci:build/app:1.4.2") == .ociLayout(path: "build/app", ref: "1.4.2"))
        #expect(ImageSourceLocation(parsing: "oci:build/app") == .ociLayout(path: "build/app", ref: nil))
        #expect(ImageSourceLocation(parsing: "oci-archive:a.tar:@sha256:abc") == .ociArchive(path: "a.tar", ref: "@sha256:abc"))
        #expect(ImageSourceLocation(parsing: "docker-archive:dist/w.tar:team/w:1") == .dockerArchive(path: "dist/w.tar", ref: "team/w:1"))
        #expect(ImageSourceLocation(parsing: "docker://alpine") == nil)
        #expect(ImageSourceLocation(parsing: "oci:") == nil)
        #expect(ImageSourceLocation.dockerArchive(path: "x.tar", ref: "a:b").description == "docker-archive:x.tar:a:b")
    }

    @Test func defaultCacheDirectory() {
        #expect(SourceOptions.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]) == "/c/pushctl")
        #expect(SourceOptions.defaultCacheDirectory(environment: ["HOME": "/h"]) == "/h/.cache/pushctl")
    }

    @Test func tagParts() {
        #expect(tagPart(of: "registry:5000/team/app:1.4", bareNameIsTag: false) == "1.4")
        #expect(tagPart(of: "registry:5000/team/app", bareNameIsTag: false) == "latest")
        #expect(tagPart(of: "app@sha256:abc", bareNameIsTag: false) == nil)
        #expect(tagPart(of: "v1.0", bareNameIsTag: true) == "v1.0")
        #expect(tagPart(of: "team/app", bareNameIsTag: true) == nil)
        #expect(tagPart(of: "bad tag", bareNameIsTag: true) == nil)
        #expect(normalizedReference("app") == "docker.io/library/app:latest")
        #expect(normalizedReference("team/app:1") == "docker.io/team/app:1")
        #expect(normalizedReference("localhost:5000/app") == "localhost:5000/app:latest")
    }
}
