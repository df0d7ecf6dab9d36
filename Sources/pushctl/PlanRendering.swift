import Foundation
import ImageSource
import OCI
import Planner
import Pusher

/// Text and JSON forms of plans. The JSON document is described by schemas/plan-v1.schema.json.
enum PlanRendering {
    /// What planning found out about one item beyond the job file.
    struct ItemDetail {
        var graph: ImageGraph?
        var sourceError: String?
        var tags: [String]?
        var preview: PushPreview?
    }

    /// The JSON document: `{"schema": "pushctl-plan-v1", "offline": …, "plans": [Plan…]}`, each
    /// item with `resolved` (the source's digest, media type, size, platforms), `sourceError`, and
    /// online `actions`.
    struct Document: Encodable {
        var schema = "pushctl-plan-v1"
        var offline: Bool
        var plans: [Plan]
    }

    static func json(_ plans: [Plan], offline: Bool, details: [String: ItemDetail] = [:]) throws -> String {
        let encoded = try JSONEncoder().encode(Document(offline: offline, plans: plans))
        guard var document = try JSONSerialization.jsonObject(with: encoded) as? [String: Any],
              var planObjects = document["plans"] as? [[String: Any]] else { return "" }
        for p in planObjects.indices {
            guard var items = planObjects[p]["items"] as? [[String: Any]] else { continue }
            for i in items.indices {
                guard let id = items[i]["id"] as? String, let detail = details[id] else { continue }
                if let graph = detail.graph {
                    var resolved: [String: Any] = ["digest": graph.root.digest.string, "mediaType": graph.root.mediaType,
                                                   "size": graph.totalSize, "blobs": graph.blobs.count]
                    if !graph.platforms.isEmpty { resolved["platforms"] = graph.platforms.map(\.description) }
                    if !graph.sourceTags.isEmpty { resolved["sourceTags"] = graph.sourceTags }
                    items[i]["resolved"] = resolved
                }
                if let error = detail.sourceError { items[i]["sourceError"] = error }
                if let preview = detail.preview {
                    var actions: [String: Any] = [
                        "tags": preview.tags.map { ["tag": $0.tag, "action": $0.action.rawValue] },
                        "blobs": ["upload": preview.upload, "mount": preview.mount, "present": preview.present,
                                  "uploadBytes": preview.uploadBytes],
                    ]
                    if let endpoint = preview.endpoint { actions["endpoint"] = endpoint }
                    if let error = preview.error { actions["error"] = error }
                    items[i]["actions"] = actions
                }
            }
            planObjects[p]["items"] = items
        }
        document["plans"] = planObjects
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A readable listing: per item the source, target, repository, tags and endpoints in order,
    /// and what planning found out.
    static func text(_ plans: [Plan], details: [String: ItemDetail] = [:]) -> String {
        var out = ""
        for plan in plans {
            out += "job \(plan.job) (\(plan.file), \(plan.fileDigest))\n"
            out += "  defaults: concurrency \(plan.defaults.concurrency), images \(plan.defaults.images), retries \(plan.defaults.retries)\n"
            for item in plan.items {
                let detail = details[item.id]
                out += "\n  [\(item.id)] image #\(item.imageIndex + 1) -> registry \(item.registry)\n"
                var source = item.source.written
                if let reference = item.source.reference { source += "  (\(reference))" }
                out += "    source:     \(source)\n"
                if let graph = detail?.graph {
                    out += "    digest:     \(graph.root.digest) (\(graph.root.mediaType), \(graph.totalSize) bytes, \(graph.blobs.count) blobs)\n"
                    if !graph.platforms.isEmpty {
                        out += "    platforms:  \(graph.platforms.map(\.description).joined(separator: ", "))\n"
                    }
                }
                if let error = detail?.sourceError { out += "    source not readable: \(error)\n" }
                out += "    repository: \(item.repository)\n"
                out += "    tags:       \(item.tags.summary)\n"
                out += "    endpoints:\n"
                for (n, endpoint) in item.endpoints.enumerated() {
                    out += "      \(n + 1). \(endpoint)\n"
                }
                if let preview = detail?.preview {
                    if let error = preview.error {
                        out += "    cannot plan against the registry: \(error)\n"
                    } else {
                        out += "    via:        \(preview.endpoint ?? "?")\n"
                        for (tag, action) in preview.tags { out += "    \(action == .push ? "push     " : "unchanged") \(tag)\n" }
                        if preview.tags.contains(where: { $0.action == .push }) {
                            out += "    blobs:      \(preview.upload) to upload (\(preview.uploadBytes) bytes), \(preview.mount) to mount, \(preview.present) present\n"
                        }
                    }
                }
            }
            out += "\n"
        }
        return out
    }
}
