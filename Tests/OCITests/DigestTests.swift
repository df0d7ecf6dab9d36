import Testing
@testable import OCI

@Suite struct DigestTests {
    @Test func knownSHA256OfEmptyInput() {
        #expect(Digest.of([UInt8]()).string == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func incrementalHashingMatchesOneShot() {
        let bytes = Array("hello, registry".utf8)
        var hasher = DigestHasher()
        hasher.update(Array(bytes[..<5]))
        hasher.update(Array(bytes[5...]))
        #expect(hasher.finalize() == Digest.of(bytes))
        #expect(hasher.count == Int64(bytes.count))
    }

    @Test(arguments: [
        ("sha256", DigestError.missingAlgorithm("sha256")),
        ("md5:abc", DigestError.unsupportedAlgorithm("md5")),
        ("sha256:abc", DigestError.invalidLength(algorithm: "sha256", expected: 64, actual: 3)),
        ("sha256:" + String(repeating: "G", count: 64), DigestError.invalidHex(String(repeating: "G", count: 64)))
    ])
    func rejectsMalformedDigests(input: String, expected: DigestError) {
        #expect(throws: expected) { try Digest(parsing: input) }
    }

    @Test func acceptsSHA512() throws {
        let d = try Digest(parsing: "sha512:" + String(repeating: "a", count: 128))
        #expect(d.algorithm == .sha512)
    }
}
