import ArgumentParser
import Foundation
import LedgerFormat
import Run
import State

/// `pushctl history` (docs/cli.md "Commands"): past runs and pushes, newest first.
struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        _superCommandName: Pushctl.name,
        abstract: "List past runs and pushes from the state database, newest first.",
        discussion: """
            Each line is one tag push with its run; runs that pushed nothing appear as a line of their own \
            unless a push filter (--repository, --tag, --digest, --status) is given. Several --state \
            databases are read as one (e.g. one per shard runner).
            """)

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
    }

    @OptionGroup var state: StateOptions

    @Option(help: "Only runs of this job.")
    var job: String?

    @Option(help: ArgumentHelp("Only pushes to this repository (REPO or HOST/REPO).", valueName: "repo"))
    var repository: String?

    @Option(help: "Only pushes of this tag.")
    var tag: String?

    @Option(help: ArgumentHelp("Where was this digest pushed? A full digest or an unambiguous prefix.", valueName: "digest"))
    var digest: String?

    @Option(
        help: ArgumentHelp(
            "Only pushes since a duration ago (30m, 12h, 7d, 2w) or a date (2026-11-01, UTC) or ISO-8601 time.",
            valueName: "duration|date"))
    var since: String?

    @Option(help: ArgumentHelp("Only rows before a duration ago or a date (same forms as --since).", valueName: "duration|date"))
    var until: String?

    @Option(
        help: ArgumentHelp(
            "Only pushes with this outcome (ok/pushed, failed, unchanged), or runs that were interrupted.",
            valueName: "ok|failed|unchanged|interrupted"))
    var status: String?

    @Option(help: ArgumentHelp("Only runs of this kind.", valueName: "apply|verify"))
    var kind: String?

    @Option(help: ArgumentHelp("Only pushes to this registry (its name in the job file, or HOST[:PORT]).", valueName: "name|host"))
    var registry: String?

    @Option(help: ArgumentHelp("At most this many lines.", valueName: "n"))
    var limit: Int?

    @Option(help: "text (a table), json (one document, schemas/history-v1.schema.json) or csv.")
    var output: Output = .text

    func run() throws {
        try reportingFailures { () throws(CommandFailure) in
            let filter = try makeFilter()
            let stores = try state.openExisting(readingOnly: true)
            let rows: [HistoryRow]
            do throws(StateError) { rows = try LedgerHistory.rows(filter, in: stores) } catch { throw CommandFailure(error) }
            // An empty answer is an answer, but say so where a person reads it (stdout stays data).
            if rows.isEmpty { StandardError.write("no runs or pushes match") }
            switch output {
            case .text: writeOut(HistoryRendering.text(rows, terminal: standardOutputIsTerminal, showDatabase: stores.count > 1))
            case .json: writeOut(HistoryRendering.json(rows))
            case .csv: writeOut(HistoryRendering.csv(rows))
            }
        }
    }

    func makeFilter() throws(CommandFailure) -> HistoryFilter {
        var filter = HistoryFilter(job: job, repository: repository, tag: tag, digest: digest, limit: limit)
        filter.since = try Self.time("--since", since)
        filter.until = try Self.time("--until", until)
        if let kind {
            guard ["apply", "verify"].contains(kind) else { throw .invalidInput("invalid --kind \"\(kind)\": expected apply or verify") }
            filter.kind = RunKind(rawValue: kind)
        }
        filter.registry = registry
        if let status {
            switch status {
            case "ok", "pushed": filter.status = .pushed
            case "failed": filter.status = .failed
            case "unchanged": filter.status = .unchanged
            case "rejected": filter.status = .rejected
            case "interrupted": filter.runStatus = .interrupted
            default: throw .invalidInput("invalid --status \"\(status)\": expected ok, failed, unchanged, rejected or interrupted")
            }
        }
        if let limit, limit < 1 { throw .invalidInput("invalid --limit \(limit): expected a positive number") }
        return filter
    }

    /// The time a `--since`/`--until` value stands for; nil when the option is not given.
    static func time(_ option: String, _ text: String?) throws(CommandFailure) -> Date? {
        guard let text else { return nil }
        guard let date = TimeArgument.parse(text) else {
            throw .invalidInput(
                "invalid \(option) \"\(text)\": expected a duration (30m, 12h, 7d, 2w), a date (2026-11-01) or an ISO-8601 time")
        }
        return date
    }
}

/// The three renderings of history rows.
enum HistoryRendering {
    static func text(_ rows: [HistoryRow], terminal: Bool, showDatabase: Bool, now: Date = Date()) -> String {
        guard !rows.isEmpty else { return "" }
        func when(_ date: Date) -> String { terminal ? HumanFormat.relative(date, now: now) : HumanFormat.timestamp(date) }
        var header = ["RUN", "WHEN", "JOB", "STATUS", "TARGET", "DIGEST", "UPLOADED", "BLOBS U/M/P", "ERROR"]
        if showDatabase { header.insert("STATE", at: 0) }
        let lines = rows.map { row -> [String] in
            var cells: [String]
            if let p = row.push {
                let digest = p.pushedDigest ?? p.sourceDigest
                cells = [
                    row.run.id.description, when(p.started), row.run.job, p.status.rawValue, p.target,
                    digest.map { terminal ? $0.short : $0.string } ?? "-",
                    terminal ? HumanFormat.bytes(p.bytesUploaded) : String(p.bytesUploaded),
                    "\(p.blobsUploaded)/\(p.blobsMounted)/\(p.blobsPresent)",
                    p.error.map { oneLine(causeFirst($0), max: terminal ? 60 : nil) } ?? ""
                ]
            } else {
                cells = [
                    row.run.id.description, when(row.run.started), row.run.job, "run \(row.run.status.rawValue)",
                    "(no pushes)", "-", "-", "-",
                    [row.run.error.map { oneLine(causeFirst($0), max: terminal ? 60 : nil) }, row.run.exitCode.map { "exit \($0)" }]
                        .compactMap { $0 }.joined(separator: "; ")
                ]
            }
            if showDatabase { cells.insert(row.database, at: 0) }
            return cells
        }
        return TextTable.render(header: header, rows: lines)
    }

    static func json(_ rows: [HistoryRow]) -> String {
        LedgerJSON.document([
            "schema": "pushctl-history-v1",
            "entries": rows.map { row -> [String: Any] in
                ["state": row.database, "run": LedgerJSON.run(row.run), "push": row.push.map(LedgerJSON.push) ?? NSNull()]
            }
        ])
    }

    static let csvHeader = [
        "state", "run_id", "job", "run_status", "kind", "time", "registry_host", "repository", "tag",
        "source", "source_digest", "pushed_digest", "status", "bytes_uploaded", "blobs_uploaded",
        "blobs_mounted", "blobs_present", "attempts", "duration_seconds", "endpoint",
        "verified_keys", "verdict", "signatures", "error"
    ]

    /// RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold `,`, `"` or newlines.
    static func csv(_ rows: [HistoryRow]) -> String {
        var lines = [csvHeader]
        for row in rows {
            let r = row.run
            if let p = row.push {
                lines.append([
                    row.database, r.id.description, r.job, r.status.rawValue, r.kind.rawValue,
                    HumanFormat.timestamp(p.started), p.registryHost, p.repository, p.tag, p.source,
                    p.sourceDigest?.string ?? "", p.pushedDigest?.string ?? "", p.status.rawValue,
                    String(p.bytesUploaded), String(p.blobsUploaded), String(p.blobsMounted),
                    String(p.blobsPresent), String(p.attempts), String(format: "%.3f", p.duration),
                    p.endpoint, p.verifiedKeys.joined(separator: " "), p.verdict ?? "",
                    p.signatures.map(\.string).joined(separator: " "), p.error ?? ""
                ])
            } else {
                lines.append(
                    [
                        row.database, r.id.description, r.job, r.status.rawValue, r.kind.rawValue,
                        HumanFormat.timestamp(r.started)
                    ] + Array(repeating: "", count: csvHeader.count - 6))
            }
        }
        return lines.map { $0.map(csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Error messages are written outside in ("manifest 1.0: upload blob …: registry … answered 503:
    /// …"); a narrow column shows the innermost cause first, then the context.
    static func causeFirst(_ text: String) -> String {
        let parts = text.components(separatedBy: ": ").filter { !$0.isEmpty }
        guard parts.count > 1 else { return text }
        return parts.last! + " (" + parts.dropLast().joined(separator: ": ") + ")"
    }

    static func oneLine(_ text: String, max: Int?) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        guard let max, flat.count > max else { return flat }
        return String(flat.prefix(max - 1)) + "…"
    }
}
