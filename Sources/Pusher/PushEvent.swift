import Foundation
import OCI

/// What the executor reports while it works. Renderers (plain lines, live bars, NDJSON) turn these
/// into output; the executor itself never prints. Event names and fields follow the `json` output
/// of docs/cli.md ("Output").
public enum PushEvent: Sendable {
    case runStart(RunInfo)
    case pushStart(PushTarget)
    case blob(PushTarget, BlobProgress)
    case retrying(PushTarget, what: String, delaySeconds: Double, attempt: Int)
    case manifest(PushTarget, tag: String?, digest: Digest, size: Int64)
    case pushEnd(PushTarget, PushOutcome)
    case runEnd(RunSummary)
    /// Something a person should read that is not part of a push (an endpoint abandoned, a wait for
    /// a rate limit, an interrupt): renderers print it without breaking their own lines.
    case notice(String)
    /// The run could not start: invalid input (exit 2) in a machine-readable form.
    case error(message: String, exitCode: Int32)
}

public struct RunInfo: Sendable {
    public var runID: Int64
    public var jobs: [String]
    public var items: Int
    public var startedAt: Date

    public init(runID: Int64, jobs: [String], items: Int, startedAt: Date) {
        self.runID = runID
        self.jobs = jobs
        self.items = items
        self.startedAt = startedAt
    }
}

/// One image pushed to one repository of one registry (a plan item).
public struct PushTarget: Sendable, Hashable {
    /// One push's identity in output: an item with a tag selector makes one push per tag, so the
    /// item id alone does not tell two pushes apart.
    public var pushKey: String { itemID + "\u{0}" + source + "\u{0}" + tags.joined(separator: ",") }

    public var itemID: String
    public var job: String
    public var source: String
    public var registry: String
    /// `host[:port]` of the endpoint in use, as docker prints it.
    public var host: String
    public var repository: String
    public var tags: [String]

    public init(itemID: String, job: String, source: String, registry: String, host: String, repository: String, tags: [String]) {
        self.itemID = itemID
        self.job = job
        self.source = source
        self.registry = registry
        self.host = host
        self.repository = repository
        self.tags = tags
    }
}

public struct BlobProgress: Sendable {
    public enum Status: String, Sendable {
        /// The registry already holds it (a `HEAD` said so).
        case present
        /// Mounted from another repository of the same registry.
        case mounted
        /// Upload under way; `bytes` says how far.
        case uploading
        /// Upload finished.
        case uploaded
        /// An attempt failed and the blob will be tried again.
        case retrying
    }

    public var digest: Digest
    public var size: Int64
    public var status: Status
    public var bytes: Int64
    public var mountedFrom: String?

    public init(digest: Digest, size: Int64, status: Status, bytes: Int64, mountedFrom: String? = nil) {
        self.digest = digest
        self.size = size
        self.status = status
        self.bytes = bytes
        self.mountedFrom = mountedFrom
    }
}

public struct PushOutcome: Sendable {
    public enum Status: String, Sendable, Codable {
        case pushed, unchanged, failed
        /// Stopped by SIGINT/SIGTERM before it completed: not recorded (a push is recorded only
        /// once it completed or failed), and not counted as failed.
        case interrupted
    }

    public var status: Status
    public var digest: Digest?
    public var endpoint: String?
    public var error: String?
    public var counts: BlobCounts

    public init(status: Status, digest: Digest?, endpoint: String?, error: String?, counts: BlobCounts) {
        self.status = status
        self.digest = digest
        self.endpoint = endpoint
        self.error = error
        self.counts = counts
    }
}

/// How the blobs of one push, or of a whole run, were handled.
public struct BlobCounts: Sendable, Equatable {
    public var uploaded = 0
    public var mounted = 0
    public var present = 0
    public var bytesUploaded: Int64 = 0

    public init(uploaded: Int = 0, mounted: Int = 0, present: Int = 0, bytesUploaded: Int64 = 0) {
        self.uploaded = uploaded
        self.mounted = mounted
        self.present = present
        self.bytesUploaded = bytesUploaded
    }

    public static func + (a: BlobCounts, b: BlobCounts) -> BlobCounts {
        BlobCounts(
            uploaded: a.uploaded + b.uploaded, mounted: a.mounted + b.mounted,
            present: a.present + b.present, bytesUploaded: a.bytesUploaded + b.bytesUploaded)
    }
}

public struct RunSummary: Sendable {
    public var runID: Int64
    public var pushed = 0
    public var unchanged = 0
    public var failed = 0
    public var blobs = BlobCounts()
    public var duration: TimeInterval = 0
    public var interrupted = false
    /// Pushes stopped by the interrupt (not recorded, so not in `show`'s counts either).
    public var interruptedPushes = 0
    public var exitCode: Int32 = 0
    /// Why the run failed as a whole, if it did (recorded with the run).
    public var error: String?

    public init(runID: Int64) {
        self.runID = runID
    }
}

/// Receives events from any thread.
public protocol PushEventSink: Sendable {
    func emit(_ event: PushEvent)
}
