import Foundation
import Testing
import OCI
import TestSupport

/// The generated test images are what the other suites compare pushctl against, so they are
/// checked here against real tools (tar, gzip) and for determinism, independently of pushctl.
@Suite struct TestImagesTests {
    @Test func sameBytesEveryTime() throws {
        let other = try TestImages()
        for (a, b) in [
            (testImages.imageOneArchive, other.imageOneArchive), (testImages.linkArchive, other.linkArchive),
            (testImages.docker25Archive, other.docker25Archive), (testImages.whiteoutArchive, other.whiteoutArchive),
            (testImages.nestedIndexLayout + "/index.json", other.nestedIndexLayout + "/index.json")
        ] {
            #expect(FileManager.default.contentsEqual(atPath: a, andPath: b), "\(a) differs from \(b)")
        }
        #expect(other.nestedIndexThree == testImages.nestedIndexThree)
    }

    @Test func storedGzipDecompressesWithGzipToTheDiffID() throws {
        let tmp = try TempDir()
        for layer in [testImages.oneImage.layers[0], testImages.nestedImageOne.layers[0]] {
            let gz = tmp.sub(layer.descriptor.digest.hex + ".gz")
            try write(layer.bytes, to: gz)
            #expect(sha256(try mustRun("gzip", ["-dc", gz]).stdout) == layer.diffID)
            #expect(sha256(layer.bytes) == layer.descriptor.digest)
        }
        // Empty input and input over one stored block (65535 bytes) too.
        for size in [0, 70_000] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let gz = tmp.sub("\(size).gz")
            try write(StoredGzip.compress(bytes), to: gz)
            #expect(try mustRun("gzip", ["-dc", gz]).stdout == bytes)
        }
    }

    /// GNU tar reads the archives and sees the links and whiteouts the tests rely on.
    @Test func tarListsTheMembers() throws {
        let listing = try mustRun("tar", ["-tvf", testImages.linkArchive]).text
        let symlinks = listing.split(separator: "\n").filter { $0.hasPrefix("l") }
        let hardLinks = listing.split(separator: "\n").filter { $0.hasPrefix("h") }
        #expect(symlinks.count == 1 && symlinks[0].hasSuffix("layer.tar -> ../\(testImages.imageOne.layerMember)"), "\(listing)")
        #expect(hardLinks.count == 1 && hardLinks[0].hasSuffix("layer.tar link to \(testImages.imageOne.layerMember)"), "\(listing)")

        let members = try mustRun("tar", ["-tf", testImages.docker25Archive]).text.split(separator: "\n")
        #expect(members.contains("index.json") && members.contains("manifest.json") && members.contains("oci-layout"))
        #expect(members.contains("blobs/sha256/\(testImages.docker25.config.digest.hex)"))

        let tmp = try TempDir()
        try mustRun("tar", ["-xf", testImages.whiteoutArchive, "-C", tmp.path])
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp.sub("manifest.json")))) as? [[String: Any]]
        let layers = try #require(manifest?.first?["Layers"] as? [String])
        #expect(layers.count == 3)
        #expect(try mustRun("tar", ["-tf", tmp.sub(layers[1])]).text.contains("./.wh.foo.txt"))
        #expect(try mustRun("tar", ["-tf", tmp.sub(layers[2])]).text.isEmpty)
    }
}
