import Foundation
import State

/// A document in the Prometheus text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): families, each with its HELP
/// and TYPE lines and its samples.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable { case gauge, counter }

    /// One sample: label pairs in order, and the value as written.
    public struct Sample: Sendable {
        public var labels: [(String, String)]
        public var value: String
        public init(_ labels: [(String, String)], _ value: String) { self.labels = labels; self.value = value }
    }

    public private(set) var text = ""
    public init() {}

    /// Appends a family; `name` is written as is (a counter's name ends in `_total`).
    public mutating func family(_ name: String, _ help: String, type: MetricType = .gauge, _ samples: [Sample]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type.rawValue)\n"
        for sample in samples {
            let labels = sample.labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",")
            text += labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(labels)} \(sample.value)\n"
        }
    }

    /// Label values escape backslash, double quote and newline.
    public static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Seconds and timestamps with millisecond precision.
    public static func number(_ value: Double) -> String { String(format: "%.3f", value) }
}

/// The families of one run each (`show --output prometheus`, and `/metrics` for each job's newest
/// run): every sample has the `job` label, so several jobs' runs share the families.
public enum LedgerMetrics {
    public static func runFamilies(_ runs: [RunOverview], now: Date = Date(), into out: inout PrometheusText) {
        typealias Sample = PrometheusText.Sample
        func samples(_ body: (RunOverview) -> [Sample]) -> [Sample] {
            runs.flatMap { s in body(s).map { Sample([("job", s.run.job)] + $0.labels, $0.value) } }
        }
        func one(_ value: @escaping (RunOverview) -> String) -> [Sample] { samples { [Sample([], value($0))] } }
        let number = PrometheusText.number
        out.family(
            "pushctl_run_info", "The run shown; always 1.",
            samples { s in
                let r = s.run
                return [
                    Sample(
                        [
                            ("run", r.id.description), ("kind", r.kind.rawValue), ("status", r.status.rawValue), ("version", r.version),
                            ("host", r.host)
                        ],
                        "1")
                ]
            })
        out.family(
            "pushctl_run_success", "1 if the run ended ok (or verification-ok), else 0.",
            one { $0.run.status == .ok || $0.run.status == .verificationOK ? "1" : "0" })
        out.family(
            "pushctl_run_pushes", "Tag pushes in the run, by outcome.",
            samples { s in PushStatus.allCases.map { Sample([("status", $0.rawValue)], String(s.pushes[$0] ?? 0)) } })
        out.family(
            "pushctl_run_blobs", "Blobs handled by the run's pushes, by how they got to the registry.",
            samples { s in
                [
                    Sample([("status", "uploaded")], String(s.blobsUploaded)), Sample([("status", "mounted")], String(s.blobsMounted)),
                    Sample([("status", "present")], String(s.blobsPresent))
                ]
            })
        out.family("pushctl_run_bytes_uploaded", "Bytes uploaded by the run.", one { String($0.bytesUploaded) })
        out.family(
            "pushctl_run_duration_seconds", "Wall-clock duration of the run (until now if it has not ended).",
            one { number(($0.run.ended ?? now).timeIntervalSince($0.run.started)) })
        out.family(
            "pushctl_run_start_timestamp_seconds", "When the run started, in seconds since the Unix epoch.",
            one { number($0.run.started.timeIntervalSince1970) })
        out.family(
            "pushctl_run_timestamp_seconds", "When the run ended (started, if it has not ended), in seconds since the Unix epoch.",
            one { number(($0.run.ended ?? $0.run.started).timeIntervalSince1970) })
        let ended = runs.filter { $0.run.exitCode != nil }
        if !ended.isEmpty {
            out.family(
                "pushctl_run_exit_code", "The run's exit code (docs/cli.md).",
                ended.map { Sample([("job", $0.run.job)], String($0.run.exitCode ?? 0)) })
        }
    }
}
