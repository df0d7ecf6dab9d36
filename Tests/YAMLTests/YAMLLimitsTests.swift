import Testing
@testable import YAML

/// Nesting and size limits: hostile input is a located error, never a crashed process.
@Suite struct YAMLLimitsTests {
    /// Levels of collections in a tree, counted without recursion.
    static func height(_ root: Node) -> Int {
        var deepest = 0
        var pending: [(Node, Int)] = [(root, 0)]
        while let (node, depth) = pending.popLast() {
            switch node.content {
            case .scalar: deepest = max(deepest, depth)
            case .sequence(let items):
                deepest = max(deepest, depth + 1)
                pending += items.map { ($0, depth + 1) }
            case .mapping(let entries):
                deepest = max(deepest, depth + 1)
                pending += entries.flatMap { [($0.key, depth + 1), ($0.value, depth + 1)] }
            }
        }
        return deepest
    }

    /// 50,000 `[` (100 KB) once overflowed the stack when the tree was released.
    @Test func fiftyThousandOpenBracketsAreALocatedError() throws {
        let text = "x-deep: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n"
        let error = try #require(throws: YAMLError.self) { _ = try YAMLParser.parse(text, file: "deep.yaml") }
        // The mapping is level 1; the 256th bracket (column 9 + 255) opens level 257.
        #expect(error == .tooDeep(limit: 256, location: Location(file: "deep.yaml", line: 1, column: 9 + 255)))
        #expect(error.description == "deep.yaml:1:264: error: YAML nesting is deeper than 256 levels here; a job file needs a handful")
    }

    @Test func nestingUpToTheLimitParsesAndIsReleased() throws {
        for _ in 0..<20 {
            let text = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
            let root = try #require(try YAMLParser.parse(text, file: "t.yaml"))
            #expect(Self.height(root) == 256)
        }
        let block = (0..<255).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " leaf\n"
        #expect(Self.height(try #require(try YAMLParser.parse(block, file: "t.yaml"))) == 255)
    }

    /// Aliases insert whole trees: anchors nested through aliases count with their full depth.
    @Test func aliasesCannotStackNestingPastTheLimit() throws {
        var lines = ["a0: &a0 " + String(repeating: "[", count: 100) + "x" + String(repeating: "]", count: 100)]
        for i in 1...3 {
            lines.append("a\(i): &a\(i) " + String(repeating: "[", count: 100) + "*a\(i - 1)" + String(repeating: "]", count: 100))
        }
        let error = try #require(throws: YAMLError.self) { _ = try YAMLParser.parse(lines.joined(separator: "\n"), file: "t.yaml") }
        guard case .tooDeep(256, let location) = error else {
            Issue.record("expected tooDeep, got \(error)")
            return
        }
        // a0 is 100 levels; a1 puts it under the mapping and 100 brackets (201 in all, fine) and
        // is 200 levels itself; a2's alias of a1 would reach 1 + 100 + 200 = 301.
        #expect(location.line == 3)
        #expect(location.column == 9 + 100)
    }

    @Test func documentsOverTheSizeLimitAreRefused() throws {
        let text = "key: " + String(repeating: "v", count: 2_000)
        let error = try #require(throws: YAMLError.self) {
            _ = try YAMLParser.parse(text, file: "big.yaml", limits: .init(maxDepth: 256, maxBytes: 1_000))
        }
        #expect(error == .tooLarge(file: "big.yaml", size: 2_005, limit: 1_000))
        #expect(error.location == Location(file: "big.yaml", line: 1, column: 1))
        #expect(YAMLParser.Limits().maxBytes == 16 << 20)
        #expect(try YAMLParser.parse(text, file: "ok.yaml")?.mapping?.count == 1)
    }
}
