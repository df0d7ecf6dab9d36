import Foundation
import LedgerWeb
import Testing
import TestSupport

/// `/metrics` read by an independent parser (Debian's python3-prometheus-client), and every
/// family documented in docs/web.md.
@Suite struct MetricsTests {
    static func parse(_ text: String) throws -> [String: PrometheusParser.Family] { try PrometheusParser.parse(text) }

    @Test func familiesParseAndAddUp() throws {
        let f = try WebFixture.standard()
        let (status, type, text) = f.get("/metrics")
        #expect(status == 200 && type == "text/plain; version=0.0.4; charset=utf-8")
        let families = try Self.parse(text)
        func value(_ family: String, _ sample: String) -> Double? { families[family]?.samples[sample] }
        // Runs by kind and status, from the ledger.
        #expect(value("pushctl_runs", #"pushctl_runs{kind="apply",status="ok"}"#) == 1)
        #expect(value("pushctl_runs", #"pushctl_runs{kind="apply",status="failed"}"#) == 1)
        #expect(value("pushctl_runs", #"pushctl_runs{kind="verify",status="drift"}"#) == 1)
        // Last success per job: nightly's apply (the verify found drift), release's clean verify.
        let t0 = WebFixture.t0.timeIntervalSince1970
        #expect(
            value("pushctl_job_last_success_timestamp_seconds", #"pushctl_job_last_success_timestamp_seconds{job="nightly"}"#) == t0 + 40)
        #expect(
            value("pushctl_job_last_success_timestamp_seconds", #"pushctl_job_last_success_timestamp_seconds{job="release"}"#) == t0 + 1340)
        // The service's counters.
        let received = families.first { $0.key.hasPrefix("pushctl_events_received") }
        #expect(received?.value.type == "counter" && received?.value.samples[#"pushctl_events_received_total{}"#] == 7)
        let ignored = families.first { $0.key.hasPrefix("pushctl_events_ignored") }
        #expect(ignored?.value.samples[#"pushctl_events_ignored_total{}"#] == 2)
        #expect(value("pushctl_events_pending", "pushctl_events_pending{}") == 1)
        #expect(value("pushctl_serve_info", #"pushctl_serve_info{version="0.9.0-test"}"#) == 1)
        // The families of `show --output prometheus`, for each job's newest run.
        #expect(value("pushctl_run_success", #"pushctl_run_success{job="nightly"}"#) == 0)
        #expect(value("pushctl_run_success", #"pushctl_run_success{job="release"}"#) == 1)
        let info = families["pushctl_run_info"]?.samples.keys.sorted() ?? []
        #expect(info.count == 2)
        #expect(info.contains { $0.contains(#"job="nightly""#) && $0.contains(#"run="3""#) && $0.contains(#"status="drift""#) })
        #expect(info.contains { $0.contains(#"job="release""#) && $0.contains(#"run="4""#) })
        #expect(families["pushctl_run_info"]?.samples.count == 2)
        #expect(value("pushctl_run_exit_code", #"pushctl_run_exit_code{job="nightly"}"#) == 1)

        // Every family is documented.
        let docs = try String(contentsOfFile: packageRoot + "/docs/web.md", encoding: .utf8)
        for name in families.keys {
            let documented = docs.contains("`\(name)`") || docs.contains("`\(name)_total`")
            #expect(documented, "family \(name) is not documented in docs/web.md")
        }
        #expect(families.count >= 15)
    }

    /// A job name holding quotes, backslashes and a newline stays one label value.
    @Test func labelEscaping() throws {
        let f = try WebFixture()
        let job = "odd \"job\"\\\n<script>"
        _ = try f.run(job, at: 0)
        let families = try Self.parse(f.get("/metrics").text)
        let key = "pushctl_job_last_success_timestamp_seconds{job=\"\(job)\"}"
        #expect(families["pushctl_job_last_success_timestamp_seconds"]?.samples[key] == WebFixture.t0.timeIntervalSince1970 + 40)
    }

    @Test func emptyLedger() throws {
        let families = try Self.parse(try WebFixture().get("/metrics").text)
        #expect(families["pushctl_runs"]?.samples.isEmpty == true)
        #expect(families["pushctl_events_pending"]?.samples["pushctl_events_pending{}"] == 1)
    }
}
