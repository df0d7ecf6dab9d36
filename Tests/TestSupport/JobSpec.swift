import Foundation

/// A job file for a test, built from its parts and rendered as YAML — the one scenario builder
/// the integration suites share instead of each writing its own YAML templates.
public struct JobSpec: Sendable {
    public var name: String
    public var defaults: [String: String] = [:]
    /// Each registry and image on one line as a flow mapping (`r: {url: …}`,
    /// `- {source: '…', …}`) instead of a block: for tests that check the line and column pushctl
    /// names. `extra` lines must then be single `key: value` pairs.
    public var compact: Bool
    /// More top-level lines, such as `schedule: "*/2 * * * * *"`.
    public var topLevel: [String] = []
    private var registries: [(name: String, fields: [String])] = []
    private var images: [[String]] = []

    public init(_ name: String, defaults: [String: String] = [:], compact: Bool = false) {
        self.name = name
        self.defaults = defaults
        self.compact = compact
    }

    /// A target (or source) registry; `extra` lines such as `insecure: true` go into its entry.
    public func registry(_ name: String, url: String, mirrors: [String] = [], extra: [String] = []) -> JobSpec {
        var copy = self
        var fields = ["url: \(url)"]
        if !mirrors.isEmpty { fields.append("mirrors: [\(mirrors.joined(separator: ", "))]") }
        copy.registries.append((name, fields + extra))
        return copy
    }

    /// An image entry; `tags` nil leaves the source's own tag, `selector` is a flow mapping such
    /// as `{match: 'v[0-9]+'}`.
    public func image(
        _ source: String, repository: String, tags: [String]? = nil, selector: String? = nil,
        targets: [String], extra: [String] = []
    ) -> JobSpec {
        var copy = self
        var fields = ["source: '\(source)'", "repository: \(repository)"]
        if let tags { fields.append("tags: [\(tags.map { "\"\($0)\"" }.joined(separator: ", "))]") }
        if let selector { fields.append("tags: \(selector)") }
        fields.append("targets: [\(targets.joined(separator: ", "))]")
        copy.images.append(fields + extra)
        return copy
    }

    /// A top-level line (`schedule: …`, `timezone: …`).
    public func top(_ line: String) -> JobSpec {
        var copy = self
        copy.topLevel.append(line)
        return copy
    }

    public var yaml: String {
        var text = "version: 1\nname: \(name)\n"
        text += topLevel.map { $0 + "\n" }.joined()
        if !defaults.isEmpty {
            text += "defaults: {" + defaults.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}\n"
        }
        text += "registries:\n"
        for (name, fields) in registries {
            text += compact ? "  \(name): {\(fields.joined(separator: ", "))}\n" : "  \(name):\n" + fields.map { "    \($0)\n" }.joined()
        }
        text += "images:\n"
        for fields in images {
            text += compact ? "  - {\(fields.joined(separator: ", "))}\n" : "  - " + fields.joined(separator: "\n    ") + "\n"
        }
        return text
    }
}
