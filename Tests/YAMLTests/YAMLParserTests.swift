import Testing
@testable import YAML

@Suite struct YAMLParserTests {
    func parse(_ text: String) throws -> Node {
        try #require(try YAMLParser.parse(text, file: "t.yaml"))
    }

    @Test func mappingKeepsKeyOrderAndLocations() throws {
        let root = try parse(
            """
            zeta: 1
            alpha:
              - x
              - "y"
            """)
        let entries = try #require(root.mapping)
        #expect(entries.map { $0.key.scalar?.value } == ["zeta", "alpha"])
        #expect(entries[0].key.location == Location(file: "t.yaml", line: 1, column: 1))
        #expect(entries[0].value.location == Location(file: "t.yaml", line: 1, column: 7))
        let items = try #require(entries[1].value.sequence)
        #expect(items.map { $0.scalar?.value } == ["x", "y"])
        #expect(items[1].location.line == 4)
        #expect(items[1].location.column == 5)
        #expect(items[0].scalar?.style == .plain)
        #expect(items[1].scalar?.style == .doubleQuoted)
    }

    @Test func scalarStylesAndTags() throws {
        let root = try parse(
            """
            a: 'single'
            b: |
              literal
            c: >
              folded
            d: !!str 5
            e: ~
            f:
            """)
        let m = try #require(root.mapping).map { $0.value.scalar }
        #expect(m[0]?.style == .singleQuoted)
        #expect(m[1]?.style == .literal)
        #expect(m[1]?.value == "literal\n")
        #expect(m[2]?.style == .folded)
        #expect(m[3]?.tag == "tag:yaml.org,2002:str")
        #expect(m[3]?.isNull == false)
        #expect(m[4]?.isNull == true)
        #expect(m[5]?.isNull == true)
    }

    @Test func anchorsAndAliasesAreResolved() throws {
        let root = try parse(
            """
            base: &b [one, two]
            copy: *b
            scalar: &s hello
            again: *s
            """)
        let m = try #require(root.mapping)
        #expect(m[1].value.sequence?.map { $0.scalar?.value } == ["one", "two"])
        #expect(m[3].value.scalar?.value == "hello")
    }

    @Test func undefinedAliasIsAnError() {
        #expect(throws: YAMLError.self) { try YAMLParser.parse("a: *nope\n", file: "t.yaml") }
    }

    @Test func syntaxErrorCarriesLibyamlProblemAndMark() {
        do {
            _ = try YAMLParser.parse("a: b\n  c: d\n", file: "bad.yaml")
            Issue.record("expected a syntax error")
        } catch {
            guard case .syntax(let problem, _, let location) = error else { Issue.record("\(error)"); return }
            #expect(problem == "mapping values are not allowed in this context")
            #expect(location == Location(file: "bad.yaml", line: 2, column: 4))
            #expect(error.description.hasPrefix("bad.yaml:2:4: error: YAML syntax error: mapping values"))
        }
    }

    @Test func unclosedFlowSequenceIsLocated() {
        do {
            _ = try YAMLParser.parse("tags: [a, b\nname: x\n", file: "f.yaml")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.location.file == "f.yaml")
            #expect(error.location.line >= 2)
        }
    }

    @Test func multipleDocumentsAreRejected() {
        #expect(throws: YAMLError.multipleDocuments(location: Location(file: "t.yaml", line: 2, column: 1))) {
            try YAMLParser.parse("a: 1\n---\nb: 2\n", file: "t.yaml")
        }
    }

    @Test func emptyDocumentIsNil() throws {
        #expect(try YAMLParser.parse("# only a comment\n", file: "t.yaml") == nil)
        #expect(try YAMLParser.parse("", file: "t.yaml") == nil)
    }

    @Test func explicitDocumentStartIsFine() throws {
        let root = try parse("---\na: 1\n...\n")
        #expect(root.mapping?.count == 1)
    }

    @Test func unreadableFileIsReported() {
        #expect(throws: YAMLError.self) { try YAMLParser.parse(contentsOf: "/nonexistent/job.yaml") }
    }

    @Test func unicodeColumnsCountCharacters() throws {
        let root = try parse("é: x\nb: y\n")
        let m = try #require(root.mapping)
        #expect(m[0].value.location.column == 4)
        #expect(m[1].key.location.line == 2)
    }
}
