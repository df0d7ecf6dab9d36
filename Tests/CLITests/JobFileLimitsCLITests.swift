import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct JobFileLimitsCLITests {
    /// 100 KB of nested brackets once crashed `pushctl validate` with SIGSEGV.
    @Test func deeplyNestedJobFileIsInvalidInputExit2() throws {
        let scratch = try Scratch()
        let file = scratch.sub("deep.yaml")
        let text =
            "x-deep: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n"
            + "version: 1\nname: deep\nregistries:\n  prod:\n    url: https://registry.example.com\nimages: []\n"
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let r = try run(pushctlBinary, ["validate", file])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(file):1:264: error: YAML nesting is deeper than 256 levels"))
    }
}
