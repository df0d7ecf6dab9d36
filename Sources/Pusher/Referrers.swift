import Foundation
import Threading
import OCI

// Referrers (OCI distribution spec 1.1) on the push side: a manifest with a `subject` that the
// registry did not acknowledge (`OCI-Subject` missing, as with docker-registry 2.8) is added to its
// subject's fallback tag `<alg>-<hex>`; a referrer pushed by digest is `unchanged` when that
// listing (or the registry's referrers API) already names it, so a rerun costs one listing per
// subject and target. README "Signatures and SBOMs".

extension PushDestination {
    public func putManifestReportingSubject(
        repository: String, reference: String, bytes: [UInt8],
        mediaType: String
    ) throws -> ManifestPutAnswer {
        ManifestPutAnswer(digest: try putManifest(repository: repository, reference: reference, bytes: bytes, mediaType: mediaType))
    }

    public func fetchManifest(repository: String, reference: String) throws -> [UInt8]? { nil }

    public func listReferrers(repository: String, subject: Digest) throws -> [Descriptor]? { nil }
}

/// What this run knows of referrers listings on targets: per endpoint, repository and subject, the
/// digests listed. Read once, extended as pushctl adds entries; the lock also serializes the
/// read-merge-write of fallback tags, so two referrers of one subject pushed at once do not drop
/// each other's entry. (Another client writing the same tag at the same moment can still race:
/// docker-registry 2.8 has no conditional PUT.)
final class ReferrerListings: @unchecked Sendable {
    private let lock = Lock()
    private var listed: [String: Set<Digest>] = [:]
    /// Held across a fallback tag's read-merge-write.
    let updateLock = Lock()

    static func key(_ endpoint: String, _ repository: String, _ subject: Digest) -> String {
        "\(endpoint)\u{0}\(repository)\u{0}\(subject)"
    }

    func known(_ key: String) -> Set<Digest>? { lock.withLock { listed[key] } }
    func set(_ key: String, _ digests: Set<Digest>) { lock.withLock { listed[key] = digests } }
    func add(_ key: String, _ digest: Digest) { _ = lock.withLock { listed[key, default: []].insert(digest) } }
}

extension Executor {
    /// Whether the target already lists `job` among its subject's referrers: the fallback tag
    /// first (what pushctl maintains), then the referrers API.
    func referrerIsListed(
        _ job: PushJob, destination: any PushDestination, endpoint: String,
        step: StepRunner
    ) throws(StepFailure) -> Bool {
        try Self.referrerIsListed(job, destination: destination, endpoint: endpoint, step: step, listings: referrerListings)
    }

    static func referrerIsListed(
        _ job: PushJob, destination: any PushDestination, endpoint: String,
        step: StepRunner, listings referrerListings: ReferrerListings
    ) throws(StepFailure) -> Bool {
        guard let subject = job.subject?.digest else { return false }
        let repository = job.target.repository
        let key = ReferrerListings.key(endpoint, repository, subject)
        let digest = job.image.root.digest
        if let known = referrerListings.known(key) { return known.contains(digest) }
        let tag = ReferrersFallback.tag(for: subject)
        let bytes = try step.run(.manifest(reference: tag)) {
            try destination.fetchManifest(repository: repository, reference: tag)
        }
        var digests = Set((bytes.map(ReferrersFallback.entries) ?? []).map(\.digest))
        if !digests.contains(digest) {
            let api = try step.run(.manifest(reference: "referrers of \(subject)")) {
                try destination.listReferrers(repository: repository, subject: subject)
            }
            digests.formUnion((api ?? []).map(\.digest))
        }
        referrerListings.set(key, digests)
        return digests.contains(digest)
    }

    /// Reads the subject's fallback index (if any), adds the referrer with its `artifactType` and
    /// `annotations` unless it is listed, and writes it back. Entries others added stay. The write
    /// follows the run's manifest rule (TransferLedger): the listed referrers are the new index's
    /// children, so it waits for those this run is putting, and for other requests on the tag.
    func maintainFallbackTag(
        _ referrer: ReferrerManifest, descriptor: Descriptor, repository: String,
        destination: any PushDestination, endpoint: String, owner: TransferLedger.Owner, step: StepRunner
    ) throws(StepFailure) {
        let subject = referrer.subject.digest
        let tag = ReferrersFallback.tag(for: subject)
        let place = TransferLedger.Place(endpoint: endpoint, repository: repository)
        referrerListings.updateLock.lock()
        defer { referrerListings.updateLock.unlock() }
        // The read-merge-write holds the tag, so no other push's PUT of it (the layout's own
        // fallback index pushed as an item) lands in between and is overwritten.
        try ledger.access(place, owner: owner, for: tag, writes: [.tag(tag)], reads: [], awaiting: []) { () throws(StepFailure) in
            let existing = try step.run(.manifest(reference: tag)) {
                try destination.fetchManifest(repository: repository, reference: tag)
            }
            let entry = referrer.listingDescriptor(mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size)
            let merged: [UInt8]?
            do {
                merged = try ReferrersFallback.merge(existing, adding: entry)
            } catch {
                throw StepFailure(
                    .manifest(reference: tag, error: "the referrers fallback index cannot be extended: \(error)"), kind: .final)
            }
            guard let merged else { return }
            let children = Self.childDigests(merged)
            try ledger.access(
                place, owner: owner, for: tag, writes: [.manifest(Digest.of(merged))],
                reads: children.map { .manifest($0) }, awaiting: children
            ) { () throws(StepFailure) in
                _ = try step.run(.manifest(reference: tag)) {
                    try destination.putManifest(repository: repository, reference: tag, bytes: merged, mediaType: MediaType.ociIndex)
                }
            }
        }
        let key = ReferrerListings.key(endpoint, repository, subject)
        if referrerListings.known(key) != nil { referrerListings.add(key, descriptor.digest) }
    }
}
