/// `--shard I/N` (docs/cli.md): run only the plan items whose stable hash falls in shard I of N.
/// I is 0-based, matching Kubernetes Indexed Jobs' `JOB_COMPLETION_INDEX`: N runners given
/// `0/N` … `N-1/N` split a job without overlap or gaps.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(ShardError) {
        guard count >= 1 else { throw .invalid("\(index)/\(count)", reason: "N must be at least 1") }
        guard (0..<count).contains(index) else {
            throw .invalid("\(index)/\(count)", reason: "I must be between 0 and N-1 (shards are numbered from 0)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public init(parsing text: String) throws(ShardError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw .invalid(text, reason: "expected I/N, e.g. 0/3")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    public func contains(_ item: PlanItem) -> Bool { item.inShard(index, of: count) }

    /// The items of `plan` in this shard, in plan order.
    public func items(of plan: Plan) -> [PlanItem] { plan.items.filter(contains) }
}

public enum ShardError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let text, let reason): "invalid shard '\(text)': \(reason)"
        }
    }
}
