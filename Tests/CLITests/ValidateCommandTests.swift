import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct ValidateCommandTests {
    @Test func fiveMistakesGiveFiveLocatedErrorsAndExit2() throws {
        let file = "Tests/CLITests/Fixtures/five-mistakes.yaml"
        let r = try pushctl("validate", file)
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        let errors = r.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(
            errors == [
                "\(file):3:7: error: job name 'Release' must match [a-z0-9][a-z0-9._-]*",
                "\(file):5:3: error: unknown key 'concurency' in 'defaults'; did you mean 'concurrency'?",
                "\(file):8:10: error: 'url' of registry 'prod': a registry URL has no path ('/v2'); write only scheme://host[:port] and put the path in 'repository:'",
                "\(file):12:19: error: invalid tag 'bad tag' in image #1: a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
                "\(file):13:15: error: unknown registry 'prdo' in 'targets' of image #1; did you mean 'prod'?"
            ])
    }

    @Test func everyShippedJobAndExampleIsValid() throws {
        let files = try packageFiles(in: "jobs") + packageFiles(in: "examples")
        #expect(files.count >= 6)
        // An empty environment: shipped files must validate without any variable set.
        let r = try run(pushctlBinary, ["validate"] + files, environment: [:])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").map(String.init) == files.map { "\($0): ok" })
    }

    @Test func mixedValidAndInvalidFilesExit2AndReportBoth() throws {
        let r = try pushctl("validate", "jobs/release.yaml", "Tests/CLITests/Fixtures/five-mistakes.yaml")
        #expect(r.status == 2)
        #expect(r.stdout == "jobs/release.yaml: ok\n")
        #expect(r.stderr.contains("1 of 2 job files invalid"))
    }

    @Test func unsetVariableIsLocated() throws {
        let scratch = try Scratch()
        let file = try scratch.job(
            JobSpec("vars", compact: true)
                .registry("r", url: "https://r.example.com")
                .image("oci:a:1", repository: "a", tags: ["${GIT_SHA}"], targets: ["r"]),
            file: "job")
        let unset = try run(pushctlBinary, ["validate", file], environment: [:])
        #expect(unset.status == 2)
        #expect(unset.stderr.contains("\(file):6:48: error: variable 'GIT_SHA' is not set"))
        let set = try run(pushctlBinary, ["validate", file], environment: ["GIT_SHA": "abc123"])
        #expect(set.status == 0)
    }

    @Test func missingFileIsInvalidInput() throws {
        let r = try pushctl("validate", "no/such/job.yaml")
        #expect(r.status == 2)
        #expect(r.stderr.contains("no/such/job.yaml:1:1: error: cannot read job file"))
    }

    @Test func usageErrorsExit2() throws {
        #expect(try pushctl("validate").status == 2)
        #expect(try pushctl("plan", "--output", "yaml", "jobs/release.yaml").status == 2)
        #expect(try pushctl("no-such-command").status == 2)
        #expect(try pushctl("--help").status == 0)
    }
}
