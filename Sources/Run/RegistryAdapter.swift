import OCI
import Pusher
import Registry

/// The executor's view of one registry endpoint (`PushDestination`), backed by `RegistryClient`.
public struct RegistryDestination: PushDestination {
    public let client: RegistryClient

    public init(client: RegistryClient) {
        self.client = client
    }

    /// Once per endpoint and run (the client remembers a passed check).
    public func ping() throws { try client.pingOnce() }

    public func blobExists(repository: String, digest: Digest) throws -> Bool {
        try client.blobExists(repository, digest) != nil
    }

    public func mountBlob(repository: String, digest: Digest, from: String) throws -> Bool {
        try client.mountBlob(repository, digest, from: from)
    }

    public func uploadBlob(repository: String, payload: BlobPayload, progress: @escaping @Sendable (Int64) -> Void) throws {
        try client.uploadBlob(repository, payload, progress: progress)
    }

    public func manifestDigest(repository: String, reference: String) throws -> Digest? {
        try client.manifestDescriptor(repository, reference: reference)?.digest
    }

    public func putManifest(repository: String, reference: String, bytes: [UInt8], mediaType: String) throws -> Digest {
        try client.putManifest(repository, reference: reference, bytes: bytes, mediaType: mediaType)
    }

    public func putManifestReportingSubject(
        repository: String, reference: String, bytes: [UInt8],
        mediaType: String
    ) throws -> ManifestPutAnswer {
        let answer = try client.putManifestReportingSubject(repository, reference: reference, bytes: bytes, mediaType: mediaType)
        return ManifestPutAnswer(
            digest: answer.digest, subjectAcknowledged: answer.subjectAcknowledged, digestReported: answer.digestReported)
    }

    /// One `GET`; a 404 (with or without an error body) is "no such manifest".
    public func fetchManifest(repository: String, reference: String) throws -> [UInt8]? {
        do throws(RegistryError) {
            return try client.getManifest(repository, reference: reference).bytes
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    public func listReferrers(repository: String, subject: Digest) throws -> [Descriptor]? {
        try client.listReferrers(repository, of: subject)
    }

    public func classify(_ error: any Error) -> EndpointVerdict {
        (error as? RegistryError)?.endpointVerdict ?? .final
    }
}
