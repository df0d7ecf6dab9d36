import Testing
@testable import JobFile

@Suite struct TagSelectionTests {
    let alpine = ["3.17", "3.18", "3.19", "3.20", "3.21.0-rc1", "3.21", "3.19-alpine", "edge", "latest", "20240101", "3.18.4"]

    @Test func specExampleKeepsTheHighestThree() throws {
        let s = TagSelector(match: "3\\.[0-9]+", semver: ">=3.18", latest: 3)
        #expect(try TagSelection.select(s, from: alpine) == ["3.21", "3.20", "3.19"])
    }

    @Test func matchIsAnchored() throws {
        #expect(try TagSelection.select(TagSelector(match: "3\\.19"), from: alpine) == ["3.19"])
        #expect(try TagSelection.select(TagSelector(match: "3"), from: alpine) == [])
    }

    @Test func excludeDropsTags() throws {
        let s = TagSelector(exclude: [".*-.*", "edge|latest", "[0-9]{8}"])
        #expect(try TagSelection.select(s, from: alpine) == ["3.17", "3.18", "3.19", "3.20", "3.21", "3.18.4"])
    }

    @Test func semverDropsNonVersionsAndPrereleases() throws {
        #expect(try TagSelection.select(TagSelector(semver: ">=3.19 <4"), from: alpine) == ["3.19", "3.20", "3.21"])
        // A date-like tag is a version too (20240101.0.0).
        #expect(try TagSelection.select(TagSelector(semver: ">=3.21.0-rc0"), from: alpine) == ["3.21.0-rc1", "3.21", "20240101"])
    }

    @Test func emptySelectorSelectsAll() throws {
        #expect(try TagSelection.select(TagSelector(), from: alpine) == alpine)
    }

    @Test func invalidPatternsAreReported() {
        #expect(throws: TagSelectionError.invalidPattern("(")) { try TagSelection.select(TagSelector(match: "("), from: ["a"]) }
        #expect(TagSelection.compileProblem("(") != nil)
        #expect(TagSelection.compileProblem("[a-z]+") == nil)
    }
}
