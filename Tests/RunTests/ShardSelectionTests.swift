import Planner
import Testing
@testable import Run

/// Which tags a shard of the run takes (`--shard i/n`).
@Suite struct ShardSelectionTests {
    @Test func selectedTagsSplitOverShardsWithoutOverlapOrGap() throws {
        let tags = (0..<200).map { "1.\($0).0" }
        var seen: [String: Int] = [:]
        for index in 0..<3 {
            let shard = try Shard(index: index, count: 3)
            for tag in tags where RunPreparation.selectedTag(tag, of: "0123456789abcdef", isIn: shard) { seen[tag, default: 0] += 1 }
        }
        #expect(seen.count == tags.count)
        #expect(seen.values.allSatisfy { $0 == 1 })
        // Stable: the same tag of the same item always lands in the same shard.
        let shard = try Shard(index: 1, count: 3)
        #expect(
            tags.filter { RunPreparation.selectedTag($0, of: "0123456789abcdef", isIn: shard) }
                == tags.filter { RunPreparation.selectedTag($0, of: "0123456789abcdef", isIn: shard) })
        #expect(tags.filter { RunPreparation.selectedTag($0, of: "0123456789abcdef", isIn: shard) }.count > 40)
    }
}
