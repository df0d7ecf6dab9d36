import Testing
@testable import JobFile

/// `defaults.timeout` and a registry's `timeout` (docs/jobfile.md), and job-file values with
/// control characters in messages.
@Suite struct TimeoutKeyTests {
    @Test func durationsAreReadInSeconds() throws {
        #expect(try loadJob(job()).get().defaults.timeout == 60)
        #expect(try loadJob(job(extra: "defaults: {timeout: 30s}\n")).get().defaults.timeout == 30)
        #expect(try loadJob(job(extra: "defaults: {timeout: 2m}\n")).get().defaults.timeout == 120)
        #expect(try loadJob(job(extra: "defaults: {timeout: '${T:-1m30s}'}\n")).get().defaults.timeout == 90)
        #expect(try loadJob(job(extra: "defaults: {timeout: 1500ms}\n")).get().defaults.timeout == 1.5)
        let registry = try loadJob(job(registry: "    url: https://registry.example.com\n    timeout: 45s")).get().registries[0]
        #expect(registry.timeout == 45)
        #expect(try loadJob(job()).get().registries[0].timeout == nil)
    }

    @Test func badDurationsAreLocatedErrors() {
        #expect(
            problems(job(extra: "defaults: {timeout: 30}\n"))
                == ["3:21: 'defaults.timeout' must be a duration such as 30s, 2m or 1m30s, found '30'"])
        #expect(
            problems(job(extra: "defaults: {timeout: 30 s}\n"))
                == ["3:21: 'defaults.timeout' must be a duration such as 30s, 2m or 1m30s, found '30 s'"])
        #expect(problems(job(extra: "defaults: {timeout: 0s}\n")) == ["3:21: 'defaults.timeout' must be between 1s and 1h, found '0s'"])
        #expect(problems(job(extra: "defaults: {timeout: 2h}\n")) == ["3:21: 'defaults.timeout' must be between 1s and 1h, found '2h'"])
        #expect(
            problems(job(registry: "    url: https://registry.example.com\n    timeout: soon"))
                == ["6:14: 'timeout' of registry 'prod' must be a duration such as 30s, 2m or 1m30s, found 'soon'"])
        #expect(
            problems(job(extra: "defaults: {timout: 30s}\n"))
                == ["3:12: unknown key 'timout' in 'defaults'; did you mean 'timeout'?"])
    }

    /// A carriage return or escape sequence in a value is shown escaped, never raw.
    @Test func controlCharactersInValuesAreEscapedInMessages() {
        let found = problems(
            job(image: "  - source: oci:build/app:1.0\n    repository: team/app\n    tags: [\"a\\rFAKE\\e[2Jb\"]\n    targets: [prod]"))
        #expect(found.count == 1)
        #expect(found.first?.contains(#"a\x0dFAKE\x1b[2Jb"#) == true, "\(found)")
        #expect(found.allSatisfy { !$0.contains("\r") && !$0.contains("\u{1b}") })
    }
}
