import Foundation
import FuzzTargets
import Testing

/// Runs every committed fuzz input through its target in the normal test run: the seed corpus
/// (`Fuzz/corpus/<target>/`) and every input a fuzzer once crashed on (`Fuzz/regressions/<target>/`,
/// each also pinned by a named test next to the parser it broke). A regression traps the test
/// process, so reaching the end of each test is the check; the counts show that files were found.
@Suite struct CorpusReplayTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    static func inputs(_ folder: String, _ target: FuzzTarget) -> [String] {
        let directory = "\(fuzzRoot)/\(folder)/\(target.rawValue)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().map { "\(directory)/\($0)" }
    }

    /// Runs `target` on each file; returns how many ran.
    static func replay(_ files: [String], _ target: FuzzTarget) throws -> Int {
        var ran = 0
        for file in files {
            let bytes = try #require(FileManager.default.contents(atPath: file), "cannot read \(file)")
            target.run(Array(bytes))
            ran += 1
        }
        return ran
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusRunsCleanly(target: FuzzTarget) throws {
        let files = Self.inputs("corpus", target)
        #expect(files.count >= 5, "seed corpus of \(target.rawValue) is missing or thin")
        let ran = try Self.replay(files, target)
        #expect(ran == files.count)
    }

    @Test(arguments: FuzzTarget.allCases)
    func pastCrashesRunCleanly(target: FuzzTarget) throws {
        let files = Self.inputs("regressions", target)
        let ran = try Self.replay(files, target)
        #expect(ran == files.count)
    }
}
