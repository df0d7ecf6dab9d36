import Foundation
import OCI

// The executor talks to three things: an image it reads, a registry endpoint it writes to, and
// the state database. Each is a small protocol here, so the push logic can be read (and unit
// tested with fakes) on its own; the run layer connects them to ImageSource, Registry and State (`Run/RegistryAdapter.swift`,
// `Run/StateAdapter.swift`).

/// A fully loaded, verified-on-read source image.
public struct SourceImage: Sendable {
    /// How the user wrote the source, for messages.
    public var description: String
    public var root: Descriptor
    /// Every manifest with its exact bytes, children before parents, the root last.
    public var manifests: [(descriptor: Descriptor, bytes: [UInt8])]
    /// Every distributable config and layer blob, each once.
    public var blobs: [Descriptor]
    /// Opens a blob's bytes as a verifying stream.
    public var payload: @Sendable (Descriptor) -> BlobPayload
    /// Compressed layer digest → diffID, for archive sources whose layers pushctl compressed.
    public var diffIDs: [Digest: Digest]
    /// For images read lazily (`docker://` sources): only `root` is known up front, and this reads
    /// the manifests and blobs. The executor calls it once a tag actually needs pushing, so a rerun
    /// whose tags are unchanged never reads the source beyond the `HEAD` that gave `root`.
    public var loadContent: (@Sendable () throws -> SourceImage)? = nil
    /// The digest the source holds when `root` was derived from it (a platform subset of an
    /// index): recorded as the push's source digest, while `root` is what is pushed. nil: `root`
    /// is the source's own.
    public var sourceDigest: Digest? = nil

    public init(
        description: String, root: Descriptor, manifests: [(descriptor: Descriptor, bytes: [UInt8])],
        blobs: [Descriptor], payload: @escaping @Sendable (Descriptor) -> BlobPayload, diffIDs: [Digest: Digest] = [:]
    ) {
        self.description = description
        self.root = root
        self.manifests = manifests
        self.blobs = blobs
        self.payload = payload
        self.diffIDs = diffIDs
    }
}

/// One endpoint of a target registry, as the executor uses it.
public protocol PushDestination: Sendable {
    /// `GET /v2/`.
    func ping() throws
    func blobExists(repository: String, digest: Digest) throws -> Bool
    /// True when the registry mounted the blob (201); false for any refusal (202, 401, 403, 400, 404).
    func mountBlob(repository: String, digest: Digest, from: String) throws -> Bool
    func uploadBlob(repository: String, payload: BlobPayload, progress: @escaping @Sendable (Int64) -> Void) throws
    /// The digest a tag or digest reference points to, or nil when there is none (`HEAD`).
    func manifestDigest(repository: String, reference: String) throws -> Digest?
    /// Puts exact bytes; returns the digest the registry reports.
    func putManifest(repository: String, reference: String, bytes: [UInt8], mediaType: String) throws -> Digest
    /// How an error thrown by this destination bears on endpoint fallback.
    func classify(_ error: any Error) -> EndpointVerdict
    /// Puts exact bytes; also says what the answer said beyond success (`ManifestPutAnswer`).
    /// Referrers.swift has a default that says neither more.
    func putManifestReportingSubject(
        repository: String, reference: String, bytes: [UInt8],
        mediaType: String
    ) throws -> ManifestPutAnswer
    /// A manifest's exact bytes, nil when there is none (the referrers fallback tag).
    func fetchManifest(repository: String, reference: String) throws -> [UInt8]?
    /// The referrers API's listing of `subject`; nil when the registry has no referrers API.
    func listReferrers(repository: String, subject: Digest) throws -> [Descriptor]?
}

/// What the answer to a manifest `PUT` said beyond success.
public struct ManifestPutAnswer: Sendable {
    /// The digest of the bytes put (the registry's `Docker-Content-Digest` matched it, if sent).
    public var digest: Digest
    /// The registry acknowledged the manifest's `subject` (`OCI-Subject`).
    public var subjectAcknowledged: Bool
    /// The answer carried `Docker-Content-Digest`, equal to `digest`: the registry itself computed
    /// the digest of the manifest it stored under the reference, so the first push of a tag needs
    /// no confirming `HEAD` (docs/run.md "Tags").
    public var digestReported: Bool

    public init(digest: Digest, subjectAcknowledged: Bool = false, digestReported: Bool = false) {
        self.digest = digest
        self.subjectAcknowledged = subjectAcknowledged
        self.digestReported = digestReported
    }
}

/// A request that failed and is tried again after a wait (a "Retrying in N seconds" line).
public struct PushRetry: Sendable {
    public var operation: String
    /// 1-based number of the attempt that failed.
    public var attempt: Int
    public var delaySeconds: Double

    public init(operation: String, attempt: Int, delaySeconds: Double) {
        self.operation = operation
        self.attempt = attempt
        self.delaySeconds = delaySeconds
    }
}

/// Every endpoint of a registry was tried and none could be used (thrown by `PushEndpoints`).
public struct PushEndpointsExhausted: Error, Sendable {
    public var registry: String
    /// Each endpoint tried and why it was abandoned.
    public var attempts: [(endpoint: String, error: String)]

    public init(registry: String, attempts: [(endpoint: String, error: String)]) {
        self.registry = registry
        self.attempts = attempts
    }
}

/// The endpoints of one target registry for the run, as the executor uses them. The run layer
/// implements it over the registry's `EndpointSet`, so apply, plan, verify and registry sources
/// share one fallback rule and one client per endpoint (docs/run.md).
public protocol PushEndpoints: Sendable {
    /// `host[:port]` of the endpoint work would go to first now (dead endpoints skipped), for the
    /// first lines of a push.
    var preferredHost: String { get }
    /// Runs `body` at the first usable endpoint and falls back as the run's rule says; `retries`
    /// hears every retry of a request made through the destination handed to `body`.
    /// Errors that are `EndpointVerdictProviding` (the executor's step failures) say how they
    /// bear on fallback. Throws what `body` throws when it is final, else `PushEndpointsExhausted`.
    func perform<T>(
        retries: @escaping @Sendable (PushRetry) -> Void,
        _ body: (_ destination: any PushDestination, _ endpoint: RegistryEndpoint) throws -> T
    ) throws -> (value: T, endpoint: RegistryEndpoint)
}

/// What the executor reads from and writes to the state database.
public protocol PushState: Sendable {
    /// The digest pushctl last pushed successfully to this tag, if any.
    func lastPushedDigest(registry: String, repository: String, tag: String) throws -> Digest?
    func isBlobKnown(registry: String, repository: String, digest: Digest) throws -> Bool
    /// One blob location on its own (a push that was interrupted, and so is not recorded, still
    /// leaves what it learned); a completed push's go with its rows (`CompletedPush.blobs`).
    func recordBlob(registry: String, repository: String, digest: Digest, identity: String) throws
    func removeBlob(registry: String, repository: String, digest: Digest) throws
    /// Other repositories of the same registry known to hold the digest, best first.
    func mountCandidates(registry: String, digest: Digest, targetRepository: String, identity: String, limit: Int) throws -> [String]
    /// Records one finished push (one row per tag, and its blob locations) in one transaction.
    func recordPush(_ record: CompletedPush) throws
}

/// A push that finished (pushed, unchanged or failed), as the state database records it.
public struct CompletedPush: Sendable {
    public struct Tag: Sendable {
        public var name: String
        public var status: PushOutcome.Status
    }

    public var target: PushTarget
    /// The registry's identity in the state database (canonical `host[:port]` of its `url`).
    public var registryKey: String
    public var sourceDigest: Digest?
    /// What the tags were set to, when it differs from `sourceDigest` (a platform subset).
    public var pushedDigest: Digest? = nil
    /// The manifest this push refers to, for referrers and tag attachments (`sha256-….sig`).
    public var subject: Digest? = nil
    public var mediaType: String?
    public var size: Int64?
    public var endpoint: String?
    public var tags: [Tag]
    public var status: PushOutcome.Status
    public var counts: BlobCounts
    public var attempts: Int
    public var error: String?
    public var started: Date
    public var ended: Date
    /// Blobs this push found, mounted or uploaded in the target repository, under the
    /// credentials `blobIdentity`: recorded as blob locations in the same transaction as its
    /// rows, so a push of small images costs one commit, not one per blob (docs/state.md
    /// "Group commit").
    public var blobs: [Digest] = []
    public var blobIdentity = ""
}
