import Foundation
import Threading

/// TLS settings for one registry (job file keys `ca`, `cert`, `key`; whether certificates are
/// verified at all is the endpoint's `skipTLSVerify`, decided where `RegistryEndpoint` is made).
public struct TLSOptions: Sendable, Hashable {
    /// PEM bundle of extra trusted CAs; system trust is kept as well.
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?

    public init(caFile: String? = nil, clientCert: String? = nil, clientKey: String? = nil) {
        self.caFile = caFile
        self.clientCert = clientCert
        self.clientKey = clientKey
    }
}

/// Time limits of one client's requests (see `CurlConfiguration`).
public struct TransferLimits: Sendable, Hashable {
    /// Overall deadline of a request that moves no blob (ping, HEAD, manifest, tag list, token,
    /// upload-session step); nil for none.
    public var requestTimeoutSeconds: Double?
    /// A blob upload or download that moves fewer than `blobMinimumBytesPerSecond` bytes a
    /// second, averaged over `blobSpeedWindowSeconds`, is abandoned (and retried as usual).
    public var blobMinimumBytesPerSecond: Int
    public var blobSpeedWindowSeconds: Int
    /// The endpoint budget (job file `timeout`): every attempt of one request against this
    /// endpoint, its retries and their waits together, and an upload's attempts since its bytes
    /// last moved, stay within it; no retry starts once it would end past it. nil: no budget
    /// (only `RetryPolicy.attempts` bounds the retries).
    public var endpointBudgetSeconds: Double?

    public init(
        requestTimeoutSeconds: Double? = 60, blobMinimumBytesPerSecond: Int = 1, blobSpeedWindowSeconds: Int = 60,
        endpointBudgetSeconds: Double? = nil
    ) {
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.blobMinimumBytesPerSecond = blobMinimumBytesPerSecond
        self.blobSpeedWindowSeconds = blobSpeedWindowSeconds
        self.endpointBudgetSeconds = endpointBudgetSeconds
    }

    /// The limits a job file's `timeout` (seconds) stands for (docs/jobfile.md `timeout`): the
    /// deadline of every request that moves no blob, the endpoint budget, and the window of the
    /// blob minimum-throughput rule (1 B/s averaged over `timeout`).
    public static func timeout(_ seconds: Double) -> TransferLimits {
        TransferLimits(
            requestTimeoutSeconds: seconds, blobMinimumBytesPerSecond: 1,
            blobSpeedWindowSeconds: max(1, Int(seconds.rounded(.up))), endpointBudgetSeconds: seconds)
    }

    /// An item (one image pushed to one registry, all its endpoints) must end within this
    /// multiple of `timeout`, not counting the time its blob transfers move bytes.
    public static let itemDeadlineMultiple: Double = 10
    /// A tag listing (all its pages) must end within this multiple of `timeout`.
    public static let tagListDeadlineMultiple: Double = 5
}

/// Monotonic seconds, for budgets and deadlines (not affected by wall-clock changes).
package func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// The total deadline of one item (`TransferLimits.itemDeadlineMultiple` × `timeout`), shared by
/// the client views one push uses on every endpoint. Time spent in blob transfers that moved
/// bytes moves the deadline back by as much, so a large layer is bound by the throughput rule only.
public final class ItemDeadline: Sendable {
    public let seconds: Double
    private let end: LockedValue<Double>

    public init(seconds: Double) {
        self.seconds = seconds
        end = LockedValue(monotonicSeconds() + seconds)
    }

    var hasPassed: Bool { end.withLock { monotonicSeconds() >= $0 } }
    var remaining: Double { end.withLock { $0 - monotonicSeconds() } }
    func extend(by seconds: Double) { end.withLock { $0 += max(0, seconds) } }
}
