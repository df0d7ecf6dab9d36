import Foundation
import LedgerFormat
import State

/// `/metrics` (docs/web.md "Metrics"): the families of `show --output prometheus` for each job's
/// newest run, then what the ledger adds up to and what the service counted.
extension LedgerWeb {
    func metrics(now: Date = Date()) throws -> String {
        let statistics = try ledger.statistics()
        let facts = service()
        typealias Sample = PrometheusText.Sample
        var out = PrometheusText()
        LedgerMetrics.runFamilies(statistics.latestRuns, now: now, into: &out)
        out.family(
            "pushctl_runs", "Runs the ledger holds, by kind and status (prune-history removes old ones).",
            statistics.runCounts.map { Sample([("kind", $0.kind.rawValue), ("status", $0.status.rawValue)], String($0.count)) })
        out.family(
            "pushctl_job_last_success_timestamp_seconds",
            "When the job's newest successful run (ok or verification-ok) ended, in seconds since the Unix epoch.",
            statistics.lastSuccess.sorted { $0.key < $1.key }.map {
                Sample([("job", $0.key)], PrometheusText.number($0.value.timeIntervalSince1970))
            })
        out.family(
            "pushctl_events_received_total", "Registry events accepted since the service started.", type: .counter,
            [Sample([], String(facts.eventsReceived))])
        out.family(
            "pushctl_events_ignored_total", "Accepted registry events that named nothing in the jobs, or repeated an event id.",
            type: .counter, [Sample([], String(facts.eventsIgnored))])
        out.family("pushctl_events_pending", "Accepted registry events not yet run.", [Sample([], String(facts.eventsPending))])
        out.family("pushctl_serve_info", "The serving pushctl; always 1.", [Sample([("version", facts.version)], "1")])
        out.family(
            "pushctl_serve_start_timestamp_seconds", "When the service started, in seconds since the Unix epoch.",
            [Sample([], PrometheusText.number(facts.started.timeIntervalSince1970))])
        return out.text
    }
}
