import Testing

@testable import ImageSource

/// What a REF that names a blob, not a manifest, is said to be (`GraphBuilder.nonManifestKind`).
struct BlobKindTests {
    /// A layer whose first byte is `{` is still a layer: JSON is UTF-8, and layer bytes are not.
    /// (A random 1,000-byte layer did start with `{` once in CI, about 1 run in 256.)
    @Test func aLayerStartingWithABraceIsNotJSON() {
        var layer: [UInt8] = [UInt8(ascii: "{")]
        var generator = SystemRandomNumberGenerator()
        layer += (1..<1000).map { _ in UInt8.random(in: 0x80...0xFF, using: &generator) }
        #expect(GraphBuilder.nonManifestKind(layer) == "a blob of 1000 bytes that is not JSON (a layer?)")
    }

    @Test func jsonDocumentsAreToldApart() {
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        #expect(GraphBuilder.nonManifestKind(config) == "an image configuration")
        let other = Array(#"{"name":"something else"}"#.utf8)
        #expect(GraphBuilder.nonManifestKind(other) == "a JSON document of another kind")
        let manifest = Array(#"{"schemaVersion":2,"config":{},"layers":[]}"#.utf8)
        #expect(GraphBuilder.nonManifestKind(manifest) == nil)
    }

    /// Only the first 4 KiB are checked: a character cut at that boundary is still UTF-8.
    @Test func aLongDocumentCutInsideACharacterIsStillJSON() {
        let head = Array(#"{"name":""#.utf8)
        let padding = [UInt8](repeating: UInt8(ascii: "a"), count: 4095 - head.count)
        let document = head + padding + Array("é".utf8) + Array(String(repeating: "b", count: 100).utf8) + Array(#""}"#.utf8)
        #expect(document.count > 4096)
        #expect(GraphBuilder.nonManifestKind(document) == "a JSON document of another kind")
    }
}
