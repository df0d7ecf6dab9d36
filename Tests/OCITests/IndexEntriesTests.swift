import OCI
import Testing

/// Narrowing and extending an index's `manifests` without re-encoding it.
struct IndexEntriesTests {
    let index = """
        {
          "schemaVersion": 2,
          "manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "amd64"}, "note": "x]}\\"["},
            {"digest": "b"},
            {"digest": "c"}
          ],
          "annotations": {"k": "v"}
        }
        """

    @Test func keepingCutsOnlyTheOtherEntries() throws {
        let entries = try IndexEntries(Array(index.utf8))
        #expect(entries.spans.count == 3)
        #expect(
            String(decoding: entries.keeping([0, 2]), as: UTF8.self)
                == index.replacingOccurrences(of: "{\"digest\": \"b\"},\n    ", with: ""))
        #expect(String(decoding: entries.keeping([1]), as: UTF8.self).contains("[\n    {\"digest\": \"b\"}\n  ]"))
        #expect(entries.keeping([0, 1, 2]) == Array(index.utf8))
    }

    @Test func appendingUsesTheSourcesSeparator() throws {
        let entries = try IndexEntries(Array(index.utf8))
        let out = String(decoding: entries.appending(Array(#"{"digest": "d"}"#.utf8)), as: UTF8.self)
        #expect(out.contains("{\"digest\": \"c\"},\n    {\"digest\": \"d\"}\n  ]"))
        let empty = try IndexEntries(Array(#"{"schemaVersion":2,"manifests":[]}"#.utf8))
        #expect(String(decoding: empty.appending(Array("{}".utf8)), as: UTF8.self) == #"{"schemaVersion":2,"manifests":[{}]}"#)
        let one = try IndexEntries(Array(#"{"manifests":[{"a":1}]}"#.utf8))
        #expect(String(decoding: one.appending(Array("{}".utf8)), as: UTF8.self) == #"{"manifests":[{"a":1},{}]}"#)
    }

    @Test func malformedIndexesAreErrors() {
        #expect(throws: IndexEntriesError.noManifests) { try IndexEntries(Array(#"{"layers":[]}"#.utf8)) }
        #expect(throws: IndexEntriesError.notAnObject) { try IndexEntries(Array("[]".utf8)) }
        #expect(throws: (any Error).self) { try IndexEntries(Array(#"{"manifests":[{"a":"#.utf8)) }
    }
}
