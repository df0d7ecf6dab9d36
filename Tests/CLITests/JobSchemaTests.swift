import Foundation
import TestSupport
import Testing

/// The job schema and the loader must agree: shipped files pass both, invalid fixtures fail both.
@Suite(.serialized) struct JobSchemaTests {
    let schema = packageRoot + "/schemas/pushjob-v1.schema.json"

    @Test func shippedJobsAndExamplesValidateAgainstTheJobSchema() throws {
        let files = try (packageFiles(in: "jobs") + packageFiles(in: "examples")).map { packageRoot + "/" + $0 }
        let r = try SchemaValidator.validate(files, against: schema)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").map(String.init) == files.map { "ok \($0)" })
    }

    @Test func schemaAndLoaderBothRejectEachInvalidFixture() throws {
        let dir = "Tests/JobFileTests/Fixtures/invalid"
        let files = try packageFiles(in: dir)
        #expect(files.count >= 15)
        let r = try SchemaValidator.validate(files.map { packageRoot + "/" + $0 }, against: schema)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == files.count)
        for line in lines {
            #expect(line.hasPrefix("invalid "), "the schema accepts \(line)")
        }
        for file in files {
            let v = try run(pushctlBinary, ["validate", file], environment: [:])
            #expect(v.status == 2, "pushctl accepts \(file)")
            #expect(v.stderr.contains("\(file):"), "\(v.stderr)")
        }
    }
}
