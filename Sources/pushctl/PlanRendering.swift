import Foundation
import OCI
import Planner
import Pusher
import Run

/// Text and JSON forms of plans. The JSON document is described by schemas/plan-v1.schema.json.
enum PlanRendering {
    typealias ItemDetail = PlanItemDetail

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
            var planObjects = document["plans"] as? [[String: Any]]
        else { return "" }
        for p in planObjects.indices {
            guard var items = planObjects[p]["items"] as? [[String: Any]] else { continue }
            for i in items.indices {
                guard let id = items[i]["id"] as? String, let detail = details[id] else { continue }
                if let graph = detail.graph {
                    var resolved: [String: Any] = [
                        "digest": graph.root.digest.string, "mediaType": graph.root.mediaType,
                        "size": graph.totalSize, "blobs": graph.blobs.count
                    ]
                    if !graph.platforms.isEmpty { resolved["platforms"] = graph.platforms.map(\.description) }
                    if !graph.sourceTags.isEmpty { resolved["sourceTags"] = graph.sourceTags }
                    items[i]["resolved"] = resolved
                }
                if let error = detail.sourceError { items[i]["sourceError"] = error }
                if !detail.verdicts.isEmpty {
                    items[i]["signatures"] = detail.verdicts.map { ["source": $0.source, "verdict": $0.verdict] }
                }
                if !detail.previews.isEmpty {
                    var actions: [String: Any] = [
                        "tags": detail.previews.flatMap { p in p.preview.tags.map { ["tag": $0.name, "action": p.action($0.need)] } },
                        "blobs": [
                            "upload": detail.previews.reduce(0) { $0 + $1.preview.blobsToUpload },
                            "mount": detail.previews.reduce(0) { $0 + $1.preview.blobsToMount },
                            "present": detail.previews.reduce(0) { $0 + $1.preview.blobsPresent },
                            "uploadBytes": detail.previews.reduce(Int64(0)) { $0 + $1.preview.bytesToUpload }
                        ]
                    ]
                    if let endpoint = detail.previews.compactMap(\.endpoint).first { actions["endpoint"] = endpoint }
                    let errors = detail.previews.compactMap(\.preview.error)
                    if !errors.isEmpty { actions["error"] = errors.joined(separator: "; ") }
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
            out +=
                "  defaults: concurrency \(plan.defaults.concurrency), images \(plan.defaults.images), retries \(plan.defaults.retries)\n"
            for item in plan.items {
                let detail = details[item.id]
                out += "\n  [\(item.id)] image #\(item.imageIndex + 1) -> registry \(item.registry)\n"
                var source = item.source.written
                if let reference = item.source.reference { source += "  (\(reference))" }
                out += "    source:     \(source)\n"
                if let graph = detail?.graph {
                    // The size is everything a first push sends, manifests included, not the manifest's own size.
                    let manifests = graph.manifestsChildrenFirst.count
                    out +=
                        "    digest:     \(graph.root.digest) (\(graph.root.mediaType), whole image: \(graph.totalSize) bytes in "
                        + "\(manifests) manifest\(manifests == 1 ? "" : "s") and \(graph.blobs.count) blob\(graph.blobs.count == 1 ? "" : "s"))\n"
                    if !graph.platforms.isEmpty {
                        out += "    platforms:  \(graph.platforms.map(\.description).joined(separator: ", "))\n"
                    }
                }
                if let error = detail?.sourceError { out += "    source not readable: \(error)\n" }
                out += "    repository: \(item.repository)\n"
                out += "    tags:       \(item.tags.summary)\n"
                out += "    endpoints:\n"
                for (n, endpoint) in item.endpoints.enumerated() {
                    out += "      \(n + 1). \(endpoint.annotated)\n"
                }
                for (source, verdict) in detail?.verdicts ?? [] {
                    out += "    signatures: \(verdict)" + ((detail?.verdicts.count ?? 0) > 1 ? " (\(source))" : "") + "\n"
                }
                for p in detail?.previews ?? [] {
                    if let endpoint = p.endpoint, p.preview.error == nil { out += "    via \(endpoint): \(p.preview.target.source)\n" }
                    if let error = p.preview.error {
                        out += "    cannot plan \(p.preview.target.source): \(error)\n"
                        continue
                    }
                    for tag in p.preview.tags {
                        out += "      \(tag.name): \(p.action(tag.need))"
                        if tag.need != .unchanged {
                            out += ", \(p.preview.blobsToUpload) blob(s) \(byteText(p.preview.bytesToUpload)) to upload"
                            out += ", \(p.preview.blobsToMount) to mount, \(p.preview.blobsPresent) present"
                        }
                        out += "\n"
                    }
                }
            }
            out += "\n"
        }
        out += summary(plans, details: details) + "\n"
        return out
    }

    /// The closing line: what the whole plan would do (online), or how many items it has (offline).
    static func summary(_ plans: [Plan], details: [String: ItemDetail]) -> String {
        let items = plans.reduce(0) { $0 + $1.items.count }
        let previews = details.values.flatMap(\.previews).map(\.preview)
        guard !previews.isEmpty else { return "Plan: \(items) item\(items == 1 ? "" : "s"); registries not asked" }
        let tags = previews.flatMap(\.tags)
        let unchanged = tags.filter { $0.need == .unchanged }.count
        let upload = previews.reduce(0) { $0 + $1.blobsToUpload }, mount = previews.reduce(0) { $0 + $1.blobsToMount }
        let present = previews.reduce(0) { $0 + $1.blobsPresent }
        let bytes = previews.reduce(Int64(0)) { $0 + $1.bytesToUpload }, mountBytes = previews.reduce(Int64(0)) { $0 + $1.bytesToMount }
        let failed = previews.filter { $0.error != nil }.count
        return
            "Plan: \(previews.count) push\(previews.count == 1 ? "" : "es"); tags: \(tags.count - unchanged) to push, \(unchanged) unchanged; "
            + "blobs: \(upload) to upload (\(byteText(bytes))), \(mount) to mount (\(byteText(mountBytes))), \(present) present"
            + (failed > 0 ? "; \(failed) could not be planned" : "")
    }
}

/// `1.2 MB`-style sizes for plan output (decimal units, as docker prints them).
private func byteText(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes), unit = 0
    while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
