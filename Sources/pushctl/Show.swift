import ArgumentParser
import Foundation
import LedgerFormat
import Run
import State

/// `pushctl show RUN|last` (docs/cli.md "Commands"): one run in full.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        _superCommandName: Pushctl.name,
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

    static func json(_ d: RunDetail) -> String { LedgerJSON.document(LedgerJSON.detail(d)) }

    /// Prometheus text exposition format 0.0.4, e.g. for node_exporter's textfile collector after a
    /// cron `apply`; the families are those of `/metrics` for each job's newest run (docs/web.md).
    static func prometheus(_ d: RunDetail, now: Date = Date()) -> String {
        var out = PrometheusText()
        LedgerMetrics.runFamilies([RunOverview(d)], now: now, into: &out)
        return out.text
    }
}
