import Foundation
import OCI
import Pusher
import Registry
import RegistrySource

/// Decides, before anything is pushed, whether the source registries' pull budgets cover what the
/// run will read: go on, wait for a reset that is near, or stop with a message saying when the
/// run can continue (docs/replication.md "Rate limits"). Burning into `429` answers would only
/// make the registry lock pushctl out for longer.
public enum RateLimitGate {
    /// A reset this close is waited for; a later one stops the run.
    public static let longestWaitSeconds: Double = 60

    public enum Decision: Sendable, Equatable {
        case proceed
        /// Wait this long (the budget resets by then), then go on.
        case wait(seconds: Double, registry: String)
        /// Stop: the message says why and when to run again.
        case stop(String)
    }

    /// Manifest `GET`s (Docker Hub's counted pulls) the run will probably make per source
    /// registry: one per distinct source image that some push will copy, i.e. whose digest is not
    /// what pushctl last pushed to every one of its tags (plus one for an index's children, a
    /// lower bound). Unchanged tags cost only `HEAD`s, which are not counted.
    public static func neededPulls(
        _ prepared: RunPreparation,
        lastPushed: (_ registry: String, _ repository: String, _ tag: String) -> Digest?
    ) -> [String: Int] {
        var needed: [String: Int] = [:]
        var counted: Set<String> = []
        for read in prepared.items.flatMap({ (try? $0.result.get())?.registryReads ?? [] }) {
            let job = read.push
            let root = job.image.root
            let changed = job.target.tags.contains { lastPushed(job.registryKey, job.target.repository, $0) != root.digest }
            guard changed, counted.insert(read.sourceRegistry + " " + read.sourceRepository + " " + root.digest.string).inserted else {
                continue
            }
            needed[read.sourceRegistry, default: 0] += MediaType.isIndex(root.mediaType) ? 2 : 1
        }
        return needed
    }

    /// The decision for `needed` pulls per registry against the budgets in `book`.
    public static func decide(needed: [String: Int], book: RateLimitBook, now: Date = Date()) -> Decision {
        var wait: (seconds: Double, registry: String)?
        for (registry, count) in needed.sorted(by: { $0.key < $1.key }) where count > 0 {
            guard let status = book.status(of: registry), status.remaining < count else { continue }
            let refill = status.refillBy
            if let refill, refill.timeIntervalSince(now) <= longestWaitSeconds {
                let seconds = max(0, refill.timeIntervalSince(now))
                if seconds > (wait?.seconds ?? -1) { wait = (seconds, registry) }
                continue
            }
            let when =
                refill.map { "run again after \(RateLimitStatus.format($0))" }
                ?? "run again once the registry's window frees pulls"
            return .stop(
                "rate limit of \(registry): \(status); this run needs about \(count) pull(s). "
                    + "Stopping before the registry answers 429; \(when). Nothing was pushed.")
        }
        if let wait { return .wait(seconds: wait.seconds, registry: wait.registry) }
        return .proceed
    }

    /// The same check against a budget remembered from an earlier run (state database), before
    /// any request: a registry known to have nothing left until a later reset is not contacted.
    public static func decide(remembered: RateLimitStatus, registry: String, now: Date = Date()) -> Decision {
        guard remembered.remaining <= 0, let refill = remembered.refillBy, refill > now else { return .proceed }
        if refill.timeIntervalSince(now) <= longestWaitSeconds {
            return .wait(seconds: refill.timeIntervalSince(now), registry: registry)
        }
        return .stop(
            "rate limit of \(registry): \(remembered) (recorded \(RateLimitStatus.format(remembered.observedAt))). "
                + "Stopping before the registry answers 429; run again after \(RateLimitStatus.format(refill)). Nothing was pushed.")
    }
}
