import Foundation

/// One page of a listing: which page (1-based) of how many rows per page.
public struct LedgerPage: Hashable, Sendable {
    public var number: Int
    public var size: Int
    public init(number: Int = 1, size: Int = 50) {
        self.number = max(1, number); self.size = max(1, size)
    }
    /// Rows skipped before this page.
    public var offset: Int { (number - 1) * size }
}

/// A run with what its pushes add up to, without the pushes themselves (the run list, `/metrics`).
public struct RunOverview: Hashable, Sendable {
    public var run: RunRecord
    /// Pushes by outcome; an outcome the run did not have is absent.
    public var pushes: [PushStatus: Int]
    public var blobsUploaded: Int
    public var blobsMounted: Int
    public var blobsPresent: Int
    public var bytesUploaded: Int64

    public init(
        run: RunRecord, pushes: [PushStatus: Int] = [:], blobsUploaded: Int = 0, blobsMounted: Int = 0, blobsPresent: Int = 0,
        bytesUploaded: Int64 = 0
    ) {
        self.run = run; self.pushes = pushes; self.blobsUploaded = blobsUploaded; self.blobsMounted = blobsMounted
        self.blobsPresent = blobsPresent; self.bytesUploaded = bytesUploaded
    }

    /// The summary of a run read in full (`show`).
    public init(_ detail: RunDetail) {
        self.init(
            run: detail.run, pushes: Dictionary(grouping: detail.pushes, by: \.status).mapValues(\.count),
            blobsUploaded: detail.pushes.reduce(0) { $0 + $1.blobsUploaded },
            blobsMounted: detail.pushes.reduce(0) { $0 + $1.blobsMounted },
            blobsPresent: detail.pushes.reduce(0) { $0 + $1.blobsPresent },
            bytesUploaded: detail.pushes.reduce(Int64(0)) { $0 + $1.bytesUploaded })
    }
}

/// Which runs the run list shows, newest first. Nil fields mean "any".
public struct RunQuery: Hashable, Sendable {
    public var job: String?
    public var kind: RunKind?
    public var status: RunStatus?
    public var page: LedgerPage
    public init(job: String? = nil, kind: RunKind? = nil, status: RunStatus? = nil, page: LedgerPage = LedgerPage()) {
        self.job = job; self.kind = kind; self.status = status; self.page = page
    }
}

/// A page of runs and how many match in all.
public struct RunPage: Hashable, Sendable {
    public var runs: [RunOverview]
    public var total: Int
    public init(runs: [RunOverview], total: Int) { self.runs = runs; self.total = total }
}

/// The push search ("where did sha256:3f1a go?"), newest first. Nil fields mean "any".
public struct PushQuery: Hashable, Sendable {
    /// A digest prefix as typed (`sha256:3f1a`, bare hex): matches pushed, source and subject digests.
    public var digestPrefix: String?
    /// `REPO` or `HOST/REPO`, as `history --repository`.
    public var repository: String?
    public var tag: String?
    public var page: LedgerPage
    public init(digestPrefix: String? = nil, repository: String? = nil, tag: String? = nil, page: LedgerPage = LedgerPage()) {
        self.digestPrefix = digestPrefix; self.repository = repository; self.tag = tag; self.page = page
    }
}

/// A page of pushes (each with its run) and how many match in all.
public struct PushPage: Hashable, Sendable {
    public var rows: [HistoryRow]
    public var total: Int
    public init(rows: [HistoryRow], total: Int) { self.rows = rows; self.total = total }
}

/// What `/metrics` reads from the ledger besides the service's own counters.
public struct LedgerStatistics: Hashable, Sendable {
    /// How many runs the ledger holds, by kind and status.
    public var runCounts: [RunCount]
    /// Per job, when its newest successful (`ok`, `verification-ok`) run ended.
    public var lastSuccess: [String: Date]
    /// Per job, its newest run.
    public var latestRuns: [RunOverview]
    public init(runCounts: [RunCount], lastSuccess: [String: Date], latestRuns: [RunOverview]) {
        self.runCounts = runCounts; self.lastSuccess = lastSuccess; self.latestRuns = latestRuns
    }
}

/// How many runs of one kind ended with one status.
public struct RunCount: Hashable, Sendable {
    public var kind: RunKind
    public var status: RunStatus
    public var count: Int
    public init(kind: RunKind, status: RunStatus, count: Int) { self.kind = kind; self.status = status; self.count = count }
}
