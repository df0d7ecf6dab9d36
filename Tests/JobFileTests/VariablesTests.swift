import Testing
@testable import JobFile

@Suite struct VariablesTests {
    let env = ["USER_NAME": "bot", "EMPTY": "", "TAG": "1.4.2"]

    func sub(_ s: String) -> Result<String, Variables.Problems> { Variables.substitute(s, environment: env) }

    @Test(arguments: [
        ("plain", "plain"),
        ("${USER_NAME}", "bot"),
        ("a-${TAG}-b", "a-1.4.2-b"),
        ("${MISSING:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${USER_NAME:-fallback}", "bot"),
        ("${MISSING:-}", ""),
        ("$$", "$"),
        ("pa$$word", "pa$word"),
        ("$${TAG}", "${TAG}"),
        ("${MISSING:-a:-b}", "a:-b"),
        ("${TAG}${TAG}", "1.4.21.4.2"),
        // A `$` not followed by `{` or `$` is itself (docs/jobfile.md): regular expressions need no escaping.
        ("^v[0-9]+$", "^v[0-9]+$"),
        ("$X", "$X"),
        ("trailing $", "trailing $"),
        ("a$b$", "a$b$"),
        ("$$$", "$$"),
        ("$$${TAG}", "$1.4.2"),
        ("$HOME-${TAG}$", "$HOME-1.4.2$")
    ])
    func substitutes(input: String, expected: String) throws {
        #expect(try sub(input).get() == expected)
    }

    @Test func unsetVariableIsAnErrorAtItsOffset() {
        #expect(
            sub("x-${NOPE}")
                == .failure(
                    .init(list: [
                        .init(offset: 2, message: "variable 'NOPE' is not set (set it in the environment or write ${NOPE:-default})")
                    ])))
    }

    @Test func everyProblemInAScalarIsReported() throws {
        guard case .failure(let p) = sub("${A} $B ${1x}") else { Issue.record("expected failure"); return }
        // `$B` is literal text now; `${A}` and `${1x}` are the problems.
        #expect(p.list.map(\.offset) == [0, 8])
    }

    @Test(arguments: ["${", "${}", "${A B}", "${A:?err}", "x ${TAG"])
    func malformedReferences(_ input: String) {
        guard case .failure = sub(input) else { Issue.record("expected failure for \(input)"); return }
    }

    @Test func variablesInAJobAreLocated() {
        let text = job(registry: "    url: https://a.example.com\n    auth:\n      username: '${U}'\n      password: x${P}")
        #expect(
            problems(text) == [
                "7:18: variable 'U' is not set (set it in the environment or write ${U:-default})",
                "8:18: variable 'P' is not set (set it in the environment or write ${P:-default})"
            ])
        #expect(problems(text, environment: ["U": "u", "P": "p"]) == [])
    }

    @Test func variablesFeedTypedValues() throws {
        let text = job(extra: "defaults:\n  concurrency: '${C:-7}'\n  retries: ${R}\n")
        let j = try loadJob(text, environment: ["R": "3"]).get()
        #expect(j.defaults.concurrency == 7)
        #expect(j.defaults.retries == 3)
        #expect(problems(text, environment: ["R": "99"]) == ["5:12: 'defaults.retries' must be between 1 and 20, found 99"])
    }

    @Test func substitutedValuesAreValidatedLikeLiterals() {
        let text = job(image: "  - {source: 'oci:a:1', repository: a, tags: ['${T}'], targets: [prod]}")
        #expect(
            problems(text, environment: ["T": "bad tag"]) == [
                "7:47: invalid tag 'bad tag' in image #1: a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
            ])
    }

    @Test func registryNamesMaySubstituteToo() throws {
        let text = job().replacingOccurrences(of: "  prod:", with: "  ${REG:-prod}:")
        #expect(try loadJob(text).get().registries.map(\.name) == ["prod"])
    }

    @Test func aRegexEndingInDollarLoads() throws {
        let text = job(
            image: """
                  - source: docker://registry.example.com/team/app
                    repository: team/app
                    tags: {match: '^v[0-9]+$', exclude: ['v0$'], latest: 2}
                    targets: [prod]
                """)
        let j = try loadJob(text).get()
        #expect(j.images[0].tags == .selector(TagSelector(match: "^v[0-9]+$", exclude: ["v0$"], latest: 2)))
    }
}
