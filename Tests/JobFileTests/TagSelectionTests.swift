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

    // MARK: selector cases (docs/replication.md)

    @Test func alternationsAndExcludesAreAnchoredAsAWhole() throws {
        let tags = ["3.19", "x3.19", "3.19x", "edge", "edge-old", "latest", "3.21.0-rc1"]
        // `a|b` is `^(?:a|b)$`, not `^a|b$`: neither alternative may match a part of a tag.
        #expect(try TagSelection.select(TagSelector(match: "3\\.19|edge"), from: tags) == ["3.19", "edge"])
        // Excludes are anchored too: `rc` does not drop `3.21.0-rc1`, `.*rc.*` does.
        #expect(try TagSelection.select(TagSelector(exclude: ["rc"]), from: tags) == tags)
        #expect(try TagSelection.select(TagSelector(exclude: [".*rc.*", "edge.*"]), from: tags) == ["3.19", "x3.19", "3.19x", "latest"])
        // match and exclude together: exclude wins.
        #expect(try TagSelection.select(TagSelector(match: "edge.*", exclude: ["edge-old"]), from: tags) == ["edge"])
    }

    @Test func semverRangesAdmitOnlyPrereleasesTheyName() throws {
        let tags = ["3.20.9", "3.21.0-rc1", "3.21.0-rc2", "3.21.0", "3.21.5", "3.21.6-beta", "3.22.0-rc1", "3.22.0", "v3.21.3"]
        // The range names a pre-release of 3.21.0: other pre-releases of 3.21.0 qualify, those of
        // 3.21.6 and 3.22.0 do not.
        #expect(
            try TagSelection.select(TagSelector(semver: ">=3.21.0-rc2 <3.22"), from: tags) == ["3.21.0-rc2", "3.21.0", "3.21.5", "v3.21.3"])
        // No pre-release named: none selected, even inside the bounds.
        #expect(try TagSelection.select(TagSelector(semver: ">=3.21 <3.23"), from: tags) == ["3.21.0", "3.21.5", "3.22.0", "v3.21.3"])
        // An upper bound excludes the pre-releases below it when they are not named.
        #expect(try TagSelection.select(TagSelector(semver: "<3.21"), from: tags) == ["3.20.9"])
        // Partial versions mean .0: `>=3.21` includes 3.21.0 and `<3.22` excludes 3.22.0.
        #expect(try TagSelection.select(TagSelector(semver: ">=3.21 <3.22"), from: tags) == ["3.21.0", "3.21.5", "v3.21.3"])
    }

    @Test func latestOrdersBySemanticVersionNotText() throws {
        let tags = ["v1.9.0", "v1.10.0", "1.10.0-rc.2", "1.10.0-rc.10", "1.2", "0.99.0", "nightly"]
        // 1.10 > 1.9 (numeric, not text); non-versions are dropped; pre-releases too, by default.
        #expect(try TagSelection.select(TagSelector(latest: 2), from: tags) == ["v1.10.0", "v1.9.0"])
        // With prerelease: true, a release outranks its pre-releases and numeric pre-release
        // identifiers compare as numbers (rc.10 > rc.2).
        #expect(
            try TagSelection.select(TagSelector(latest: 4, prerelease: true), from: tags)
                == ["v1.10.0", "1.10.0-rc.10", "1.10.0-rc.2", "v1.9.0"])
        // Asking for more than there are keeps them all, highest first.
        #expect(
            try TagSelection.select(TagSelector(latest: 50, prerelease: true), from: tags)
                == ["v1.10.0", "1.10.0-rc.10", "1.10.0-rc.2", "v1.9.0", "1.2", "0.99.0"])
        // latest applies after match, exclude and semver.
        #expect(try TagSelection.select(TagSelector(exclude: ["v.*"], semver: "<1.10", latest: 2), from: tags) == ["1.2", "0.99.0"])
    }

    @Test func equalVersionsAreOrderedDeterministically() throws {
        // 1.2 and 1.2.0 are the same version: the tie is broken by the tag text, highest first,
        // so the same tag list always gives the same selection.
        #expect(try TagSelection.select(TagSelector(latest: 1), from: ["1.2", "1.2.0"]) == ["1.2.0"])
        #expect(try TagSelection.select(TagSelector(latest: 1), from: ["1.2.0", "1.2"]) == ["1.2.0"])
    }

    // MARK: pre-releases only on request

    @Test func latestSkipsPrereleasesUnlessAsked() throws {
        let tags = ["2.0.0", "2.1.0-rc1", "1.9.3"]
        // The case: a release candidate must not win over the release before it.
        #expect(try TagSelection.select(TagSelector(latest: 1), from: tags) == ["2.0.0"])
        #expect(try TagSelection.select(TagSelector(latest: 2), from: tags) == ["2.0.0", "1.9.3"])
        #expect(try TagSelection.select(TagSelector(latest: 1, prerelease: true), from: tags) == ["2.1.0-rc1"])
        // Only pre-releases: nothing is selected rather than a release candidate.
        #expect(try TagSelection.select(TagSelector(latest: 1), from: ["3.0.0-beta.1", "3.0.0-rc.1"]) == [])
        // A match alone takes pre-release tags like any other tag.
        #expect(try TagSelection.select(TagSelector(match: "2\\..*"), from: tags) == ["2.0.0", "2.1.0-rc1"])
    }

    @Test func semverWithPrereleaseTestsPrereleasesLikeAnyVersion() throws {
        let tags = ["3.20.9", "3.21.0-rc1", "3.21.0", "3.21.6-beta", "3.22.0-rc1", "4.0.0-rc1", "4.0.0"]
        #expect(try TagSelection.select(TagSelector(semver: ">=3.21"), from: tags) == ["3.21.0", "4.0.0"])
        #expect(
            try TagSelection.select(TagSelector(semver: ">=3.21", prerelease: true), from: tags)
                == ["3.21.0", "3.21.6-beta", "3.22.0-rc1", "4.0.0-rc1", "4.0.0"])
        // A partial upper bound stops below its pre-releases: `<4` does not pick 4.0.0-rc1.
        #expect(
            try TagSelection.select(TagSelector(semver: ">=3.21 <4", prerelease: true), from: tags)
                == ["3.21.0", "3.21.6-beta", "3.22.0-rc1"])
        // A full one is taken literally: 4.0.0-rc1 sorts below 4.0.0.
        #expect(
            try TagSelection.select(TagSelector(semver: ">=3.21 <4.0.0", prerelease: true), from: tags)
                == ["3.21.0", "3.21.6-beta", "3.22.0-rc1", "4.0.0-rc1"])
        // Caret and tilde ranges already end below the next version's pre-releases.
        #expect(
            try TagSelection.select(TagSelector(semver: "^3.21", prerelease: true), from: tags)
                == ["3.21.0", "3.21.6-beta", "3.22.0-rc1"])
        #expect(try TagSelection.select(TagSelector(semver: "~3.21", prerelease: true), from: tags) == ["3.21.0", "3.21.6-beta"])
    }

    @Test func latestRanksWhatTheRangeAdmitted() throws {
        let tags = ["3.21.0-rc1", "3.21.0-rc2", "3.20.1", "3.22.0-rc1"]
        // A range that names a pre-release keeps npm's rule, and latest ranks what it admitted.
        #expect(try TagSelection.select(TagSelector(semver: ">=3.21.0-rc0", latest: 1), from: tags) == ["3.21.0-rc2"])
        #expect(try TagSelection.select(TagSelector(semver: ">=3.20", latest: 1), from: tags) == ["3.20.1"])
        #expect(try TagSelection.select(TagSelector(semver: ">=3.20", latest: 1, prerelease: true), from: tags) == ["3.22.0-rc1"])
    }
}
