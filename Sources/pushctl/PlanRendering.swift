import Foundation
import Planner

/// Text and JSON forms of plans. The JSON document is described by schemas/plan-v1.schema.json.
enum PlanRendering {
    /// The JSON document: `{"schema": "pushctl-plan-v1", "offline": …, "plans": [Plan…]}`.
    struct Document: Encodable {
        var schema = "pushctl-plan-v1"
        var offline: Bool
        var plans: [Plan]
    }

    static func json(_ plans: [Plan], offline: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Document(offline: offline, plans: plans)), as: UTF8.self)
    }

    /// A readable listing: per item the source, target, repository, tags and endpoints in order.
    static func text(_ plans: [Plan]) -> String {
        var out = ""
        for plan in plans {
            out += "job \(plan.job) (\(plan.file), \(plan.fileDigest))\n"
            out += "  defaults: concurrency \(plan.defaults.concurrency), images \(plan.defaults.images), retries \(plan.defaults.retries)\n"
            for item in plan.items {
                out += "\n  [\(item.id)] image #\(item.imageIndex + 1) -> registry \(item.registry)\n"
                var source = item.source.written
                if let reference = item.source.reference { source += "  (\(reference))" }
                out += "    source:     \(source)\n"
                out += "    repository: \(item.repository)\n"
                out += "    tags:       \(item.tags.summary)\n"
                out += "    endpoints:\n"
                for (n, endpoint) in item.endpoints.enumerated() {
                    out += "      \(n + 1). \(endpoint)\n"
                }
            }
            out += "\n"
        }
        return out
    }
}
