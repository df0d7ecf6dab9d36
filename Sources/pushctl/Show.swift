import ArgumentParser
import Foundation
import Run
import State

/// `pushctl show RUN|last` (docs/cli.md "Commands"): one run in full.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one run in full: every tag pushed, digests, endpoint used, blobs, bytes, time and errors.")

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text, json, prometheus
    }

    @Argument(help: ArgumentHelp("A run number (see `pushctl history`), or `last`.", valueName: "run"))
    var runArgument: String

    @OptionGroup var state: StateOption

    @Option(help: "text, json (schemas/show-v1.schema.json) or prometheus (text exposition format, for a textfile collector).")
    var output: Output = .text

    func run() throws {
        try reportingFailures { () throws(CommandFailure) in
            guard let reference = RunReference(runArgument) else {
                throw .invalidInput("invalid run \"\(runArgument)\": expected a run number or `last`")
            }
            let store = try state.openSingle(readingOnly: true)
            let detail: RunDetail
            do throws(StateError) { detail = try store.run(reference) } catch { throw CommandFailure(error) }
            switch output {
            case .text: writeOut(ShowRendering.text(detail, terminal: standardOutputIsTerminal))
            case .json: writeOut(ShowRendering.json(detail))
            case .prometheus: writeOut(ShowRendering.prometheus(detail))
            }
        }
    }
}

enum ShowRendering {
    static func text(_ d: RunDetail, terminal: Bool, now: Date = Date()) -> String {
        let r = d.run
        func when(_ date: Date) -> String {
            terminal ? "\(HumanFormat.timestamp(date)) (\(HumanFormat.relative(date, now: now)))" : HumanFormat.timestamp(date)
        }
        let counts = Dictionary(grouping: d.pushes, by: \.status).mapValues(\.count)
        let uploaded = d.pushes.reduce(Int64(0)) { $0 + $1.bytesUploaded }
        var out = "Run \(r.id) (\(r.kind))\n"
        var fields: [(String, String)] = [
            ("Job", r.job),
            ("Job file", "\(r.file) (\(r.fileDigest))"),
            ("Status", r.status.rawValue + (r.exitCode.map { ", exit code \($0)" } ?? "")),
            ("Host", "\(r.host) (pid \(r.pid))"),
            ("pushctl", r.version),
            ("Started", when(r.started))
        ]
        if let ended = r.ended {
            fields.append(("Ended", "\(when(ended)), took \(HumanFormat.duration(ended.timeIntervalSince(r.started)))"))
        } else {
            fields.append(("Ended", "not recorded"))
        }
        fields.append(
            (
                "Pushes",
                PushStatus.allCases.map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
                    + "; \(terminal ? HumanFormat.bytes(uploaded) : "\(uploaded) bytes") uploaded"
            ))
        fields.append(("State", d.database))
        out += aligned(fields, indent: "  ")
        for p in d.pushes {
            out += "\n\(p.target)  \(p.status)\n"
            var lines: [(String, String)] = [
                ("source", p.source + (p.sourceDigest.map { " (\($0))" } ?? "")),
                ("endpoint", p.endpoint + (p.registryName.isEmpty ? "" : " (registry \(p.registryName))")),
                ("tag", p.tag),
                (
                    "digest",
                    p.pushedDigest.map { d in
                        d.string + " (" + [p.mediaType, p.size.map { "\($0) bytes" }].compactMap { $0 }.joined(separator: ", ") + ")"
                    } ?? "-"
                ),
                ("blobs", "\(p.blobsUploaded) uploaded, \(p.blobsMounted) mounted, \(p.blobsPresent) present"),
                ("bytes", terminal ? HumanFormat.bytes(p.bytesUploaded) + " uploaded" : "\(p.bytesUploaded) uploaded"),
                ("attempts", String(p.attempts)),
                ("time", "\(when(p.started)), took \(HumanFormat.duration(p.duration))")
            ]
            if let verdict = p.verdict { lines.append(("verify", verdict)) }
            if !p.signatures.isEmpty { lines.append(("signed", p.signatures.map(\.string).joined(separator: ", "))) }
            if let error = p.error { lines.append(("error", error)) }
            out += aligned(lines, indent: "  ")
        }
        if !d.events.isEmpty {
            out += "\nRegistry events: \(d.events.joined(separator: ", "))\n"
        }
        if !d.checks.isEmpty {
            let counts = Dictionary(grouping: d.checks, by: \.status).mapValues(\.count)
            out +=
                "\nChecked \(d.checks.count) tag\(d.checks.count == 1 ? "" : "s"): "
                + ["ok", "changed", "gone", "unsigned", "error", "not-in-job"].map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
                + "\n"
            for check in d.checks {
                let target = "\(check.host)/\(check.repository):\(check.tag)"
                var line = "  \(check.status.uppercased().padding(toLength: 10, withPad: " ", startingAt: 0)) \(target)"
                switch check.status {
                case "ok": line += " \(check.expected)"
                case "changed": line += " pushed \(check.expected) (run \(check.pushedInRun)), now \(check.current ?? "?")"
                case "gone": line += " pushed \(check.expected) (run \(check.pushedInRun)), the tag no longer exists"
                default: line += ": \(check.error ?? "")"
                }
                out += line + "\n"
            }
        }
        return out
    }

    private static func aligned(_ fields: [(String, String)], indent: String) -> String {
        let width = fields.map { $0.0.count }.max() ?? 0
        return fields.map { name, value in
            indent + (name + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + "  " + value + "\n"
        }.joined()
    }

    static func json(_ d: RunDetail) -> String {
        StateJSON.document([
            "schema": "pushctl-show-v1",
            "state": d.database,
            "run": StateJSON.run(d.run),
            "pushes": d.pushes.map(StateJSON.push),
            "checks": d.checks.map { c -> [String: Any] in
                [
                    "registry": c.registryName, "host": c.host, "endpoint": c.endpoint ?? NSNull(), "repository": c.repository,
                    "tag": c.tag, "expected": c.expected, "current": c.current ?? NSNull(), "status": c.status,
                    "error": c.error ?? NSNull(), "pushedInRun": c.pushedInRun
                ]
            },
            "events": d.events
        ])
    }

    /// Prometheus text exposition format 0.0.4
    /// (https://prometheus.io/docs/instrumenting/exposition_formats/), e.g. for node_exporter's
    /// textfile collector after a cron `apply`. Every sample has the `job` label.
    static func prometheus(_ d: RunDetail, now: Date = Date()) -> String {
        let r = d.run
        let job = "job=\"\(escapeLabel(r.job))\""
        var out = ""
        func metric(_ name: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (labels, value) in samples { out += "\(name){\(job)\(labels)} \(value)\n" }
        }
        let counts = Dictionary(grouping: d.pushes, by: \.status).mapValues(\.count)
        metric(
            "pushctl_run_info", "The run shown; always 1.",
            [
                (
                    ",run=\"\(r.id)\",kind=\"\(escapeLabel(r.kind.rawValue))\",status=\"\(escapeLabel(r.status.rawValue))\",version=\"\(escapeLabel(r.version))\",host=\"\(escapeLabel(r.host))\"",
                    "1"
                )
            ])
        metric(
            "pushctl_run_success", "1 if the run ended ok (or verification-ok), else 0.",
            [("", r.status == .ok || r.status == .verificationOK ? "1" : "0")])
        metric(
            "pushctl_run_pushes", "Tag pushes in the run, by outcome.",
            PushStatus.allCases.map { (",status=\"\($0.rawValue)\"", String(counts[$0] ?? 0)) })
        metric(
            "pushctl_run_blobs", "Blobs handled by the run's pushes, by how they got to the registry.",
            [
                (",status=\"uploaded\"", String(d.pushes.reduce(0) { $0 + $1.blobsUploaded })),
                (",status=\"mounted\"", String(d.pushes.reduce(0) { $0 + $1.blobsMounted })),
                (",status=\"present\"", String(d.pushes.reduce(0) { $0 + $1.blobsPresent }))
            ])
        metric(
            "pushctl_run_bytes_uploaded", "Bytes uploaded by the run.",
            [("", String(d.pushes.reduce(Int64(0)) { $0 + $1.bytesUploaded }))])
        metric(
            "pushctl_run_duration_seconds", "Wall-clock duration of the run (until now if it has not ended).",
            [("", number((r.ended ?? now).timeIntervalSince(r.started)))])
        metric(
            "pushctl_run_start_timestamp_seconds", "When the run started, in seconds since the Unix epoch.",
            [("", number(r.started.timeIntervalSince1970))])
        metric(
            "pushctl_run_timestamp_seconds", "When the run ended (started, if it has not ended), in seconds since the Unix epoch.",
            [("", number((r.ended ?? r.started).timeIntervalSince1970))])
        if let exitCode = r.exitCode {
            metric("pushctl_run_exit_code", "The run's exit code (docs/cli.md).", [("", String(exitCode))])
        }
        return out
    }

    /// Label values escape backslash, double quote and newline.
    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String { String(format: "%.3f", value) }
}
