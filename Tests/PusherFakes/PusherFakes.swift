import Threading
import Foundation
import OCI
import Pusher

/// The executor's state port in memory: what was pushed where, and the blobs it knows.
public final class FakeState: PushState, @unchecked Sendable {
    public init() {}
    private let lock = Lock()
    public var tags: [String: Digest] = [:]
    public var locations: [(registry: String, repository: String, digest: Digest, identity: String)] = []
    public var pushes: [CompletedPush] = []
    /// Whether a recorded push's blob locations are kept (false: as if not written yet).
    public var keepsPushedBlobLocations = true

    public func lastPushedDigest(registry: String, repository: String, tag: String) throws -> Digest? {
        lock.withLock { tags["\(registry)/\(repository):\(tag)"] }
    }
    public func isBlobKnown(registry: String, repository: String, digest: Digest) throws -> Bool {
        lock.withLock { locations.contains { $0.registry == registry && $0.repository == repository && $0.digest == digest } }
    }
    public func recordBlob(registry: String, repository: String, digest: Digest, identity: String) throws {
        lock.withLock { locations.append((registry, repository, digest, identity)) }
    }
    public func removeBlob(registry: String, repository: String, digest: Digest) throws {
        lock.withLock { locations.removeAll { $0.registry == registry && $0.repository == repository && $0.digest == digest } }
    }
    public func mountCandidates(registry: String, digest: Digest, targetRepository: String, identity: String, limit: Int) throws -> [String]
    {
        lock.withLock {
            Array(
                locations.filter { $0.registry == registry && $0.digest == digest && $0.repository != targetRepository }.map(\.repository)
                    .prefix(limit))
        }
    }
    public func recordPush(_ record: CompletedPush) throws {
        lock.withLock {
            pushes.append(record)
            if keepsPushedBlobLocations {
                locations += record.blobs.map { (record.registryKey, record.target.repository, $0, record.blobIdentity) }
            }
            for tag in record.tags where tag.status != .failed {
                tags["\(record.registryKey)/\(record.target.repository):\(tag.name)"] = record.sourceDigest
            }
        }
    }
}

/// The executor's events, in the order they came.
public final class EventLog: PushEventSink, @unchecked Sendable {
    public init() {}
    private let lock = Lock()
    private var all: [PushEvent] = []
    public func emit(_ event: PushEvent) { lock.withLock { all.append(event) } }
    public var events: [PushEvent] { lock.withLock { all } }
}
