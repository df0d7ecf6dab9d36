import Testing
@testable import JobFile

@Suite struct SemverTests {
    @Test(arguments: [
        ("1.2.3", "1.2.3"), ("v1.2.3", "1.2.3"), ("3.18", "3.18.0"), ("3", "3.0.0"),
        ("3.21.0-rc1", "3.21.0-rc1"), ("1.0.0-alpha.1+build.5", "1.0.0-alpha.1")
    ])
    func parsesTags(tag: String, expected: String) throws {
        #expect(try #require(SemanticVersion(tag: tag)).description == expected)
    }

    @Test(arguments: ["latest", "1.2.3.4", "01.2", "1..2", "", "v", "1.2.x", "edge-3.19", "1.2.3-"])
    func nonVersions(_ tag: String) {
        #expect(SemanticVersion(tag: tag) == nil)
    }

    @Test func precedenceFollowsSemver() throws {
        // semver.org §11 example order
        let order = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
            "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"
        ]
        let versions = try order.map { try #require(SemanticVersion(tag: $0)) }
        #expect(versions.shuffled().sorted() == versions)
    }

    func range(_ r: String) throws -> SemverRange { try SemverRange(parsing: r) }

    @Test(arguments: [
        (">=3.18", "3.18.0", true), (">=3.18", "3.17.9", false), (">=3.18", "4.0.0", true),
        (">=3.18 <4", "3.20.1", true), (">=3.18 <4", "4.0.0", false),
        (">= 3.18 < 4", "3.19.0", true),
        ("3.18", "3.18.7", true), ("3.18", "3.19.0", false), ("=1.2.3", "1.2.3", true), ("1.2.3", "1.2.4", false),
        ("3.x", "3.99.1", true), ("3.x", "4.0.0", false), ("*", "0.0.1", true), ("", "9.9.9", true),
        (">3.18", "3.18.5", false), (">3.18", "3.19.0", true), (">3.18.1", "3.18.2", true),
        ("<=3.18", "3.18.9", true), ("<=3.18", "3.19.0", false), ("<3.18", "3.17.99", true), ("<3.18", "3.18.0", false),
        ("~1.2.3", "1.2.9", true), ("~1.2.3", "1.3.0", false), ("~1.2", "1.2.0", true), ("~1", "1.9.0", true), ("~1", "2.0.0", false),
        ("^1.2.3", "1.9.9", true), ("^1.2.3", "2.0.0", false), ("^0.2.3", "0.2.9", true), ("^0.2.3", "0.3.0", false),
        ("^0.0.3", "0.0.3", true), ("^0.0.3", "0.0.4", false),
        ("1.2 - 1.4", "1.4.9", true), ("1.2 - 1.4", "1.5.0", false), ("1.2 - 1.4", "1.3.5", true), ("1.2.0 - 1.4.0", "1.4.0", true),
        ("<2 || >=3", "2.5.0", false), ("<2 || >=3", "3.0.0", true), ("<2 || >=3", "1.0.0", true),
        // pre-releases match only ranges naming a pre-release of the same major.minor.patch
        (">=3.18", "3.21.0-rc1", false), (">=3.21.0-rc0", "3.21.0-rc1", true), (">=3.21.0-rc0", "3.22.0-rc1", false),
        ("^3.18", "3.19.0-beta", false), ("3.x", "3.1.0-rc1", false)
    ])
    func rangeMembership(r: String, version: String, expected: Bool) throws {
        let v = try #require(SemanticVersion(tag: version))
        #expect(try range(r).contains(v) == expected)
    }

    @Test(arguments: [">=banana", "1.2.3.4", "^^1", ">=1 | <2", "1 - ", "1.x.3", "~>>1", ">=1.2-rc1"])
    func invalidRanges(_ r: String) {
        #expect(throws: SemverRangeError.self) { try SemverRange(parsing: r) }
    }
}
