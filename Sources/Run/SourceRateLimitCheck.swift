import Threading
import Foundation
import JobFile
import OCI
import Planner
import Pusher
import Registry
import RegistrySource
import State

/// `apply`'s handling of source registries' rate limits (docs/replication.md "Rate limits"):
/// a budget remembered in the state database is checked before any request, the budgets the
/// registries announce while preparing are checked against what the run needs, and every budget
/// seen is saved for the next run. A run that cannot fit waits when the reset is near, else stops
/// with exit 1 and says when it can continue.
struct SourceRateLimitCheck {
    let store: any Ledger
    let cancellation: CancellationFlag
    let notice: @Sendable (String) -> Void
    let book = RateLimitBook()

    /// Before preparation: registries known (from an earlier run) to have nothing left.
    func checkRemembered(_ work: [(job: Job, items: [PlanItem])]) throws(ApplyStop) {
        var registries: Set<String> = []
        for (job, items) in work {
            for item in items {
                guard case .registry(let reference) = item.source.spec else { continue }
                registries.insert(RegistrySourceAccess.registryKey(for: reference, in: job))
            }
        }
        for registry in registries.sorted() {
            guard let record = try? store.rateLimit(registryHost: registry) else { continue }
            let remembered = RateLimitStatus(
                limit: record.limit, remaining: record.remaining, windowSeconds: record.windowSeconds,
                resetAt: record.resetAt, observedAt: record.observedAt)
            try act(on: RateLimitGate.decide(remembered: remembered, registry: registry))
        }
    }

    /// After preparation: the budgets announced so far against the pulls the run will need.
    func check(_ prepared: RunPreparation) throws(ApplyStop) {
        let needed = RateLimitGate.neededPulls(prepared) { registry, repository, tag in
            try? store.lastSuccessfulPush(registryHost: registry, repository: repository, tag: tag)?.pushedDigest
        }
        save()
        try act(on: RateLimitGate.decide(needed: needed, book: book))
    }

    /// Records every budget seen in this run in the state database.
    func save() {
        for (registry, status) in book.all {
            try? store.recordRateLimit(
                RateLimitRecord(
                    registryHost: registry, limit: status.limit, remaining: status.remaining,
                    windowSeconds: status.windowSeconds, resetAt: status.resetAt,
                    observedAt: status.observedAt))
        }
    }

    private func act(on decision: RateLimitGate.Decision) throws(ApplyStop) {
        switch decision {
        case .proceed:
            return
        case .wait(let seconds, let registry):
            notice("note: the rate limit of \(registry) resets in \(Int(seconds.rounded(.up))) s; waiting for it")
            guard cancellation.sleep(seconds: seconds) else { throw .interrupted }
        case .stop(let message):
            throw .rateLimited(message)
        }
    }
}
