import Foundation
import OCI

/// One unit of work for the executor: a source image to push to one repository of one target
/// registry under some tags (a plan item, with its source loaded).
public struct PushJob: Sendable {
    public var target: PushTarget
    /// The registry's identity in the state database: canonical `host[:port]` of its `url`, so
    /// that metadata recorded through a mirror still belongs to the registry.
    public var registryKey: String
    /// The target registry's endpoints for this run (fallback order, clients, dead endpoints).
    public var endpoints: any PushEndpoints
    public var image: SourceImage
    /// A keyed hash of the credentials used for this registry (never the credentials).
    public var credentialIdentity: String
    /// Blob transfers at once within this push.
    public var concurrency: Int
    /// Repositories of the target registry to try mounting blobs from before the state database's
    /// candidates: the source repository of a `docker://` source on the same registry, so
    /// same-registry replication mounts instead of copying.
    public var mountSources: [String] = []
    /// Set for a referrer brought along with its subject (`referrers:`) or a tag attachment: the
    /// manifest it refers to. A referrer with no tags is pushed by digest; whether it needs
    /// pushing is read from its subject's referrers listing on the target (README "Signatures and SBOMs").
    public var subject: Descriptor? = nil

    public init(
        target: PushTarget, registryKey: String, endpoints: any PushEndpoints, image: SourceImage,
        credentialIdentity: String, concurrency: Int
    ) {
        self.target = target
        self.registryKey = registryKey
        self.endpoints = endpoints
        self.image = image
        self.credentialIdentity = credentialIdentity
        self.concurrency = concurrency
    }
}

/// Why a push failed, as printed and recorded.
public enum PushFailure: Error, CustomStringConvertible {
    case noEndpoint(registry: String, attempts: [(endpoint: String, error: String)])
    case blob(digest: Digest, error: String)
    case manifest(reference: String, error: String)
    case digestMismatch(reference: String, expected: Digest, reported: Digest)
    case cancelled
    case state(String)
    /// A step whose error message already says what was being done (the `/v2/` check).
    case request(String)
    /// The source could not be read or reached: this push never started (others go on).
    case source(String)
    /// A manifest this one references failed to go up in this run (another push may have put it):
    /// the registry would refuse this one, so it is not sent.
    case childFailed(manifest: String, child: Digest, error: String)
    /// Manifests waiting for each other (each digest names the next): refused rather than waited on.
    case referenceCycle([Digest])

    public var description: String {
        switch self {
        case .noEndpoint(let registry, let attempts):
            let tried = attempts.map { "\($0.endpoint): \($0.error)" }.joined(separator: "; ")
            return "no endpoint of registry \(registry) could be used (\(tried))"
        case .blob(let digest, let error): return "blob \(digest): \(error)"
        case .manifest(let reference, let error): return "manifest \(reference): \(error)"
        case .digestMismatch(let reference, let expected, let reported):
            return "manifest \(reference): the registry reports digest \(reported), expected \(expected)"
        case .cancelled: return "interrupted"
        case .state(let error): return "state database: \(error)"
        case .request(let error): return error
        case .source(let error): return error
        case .childFailed(let manifest, let child, let error):
            return "manifest \(manifest): not put, because its child \(child) failed in this run: \(error)"
        case .referenceCycle(let digests):
            return "manifests that reference each other in a cycle cannot be put in any order: "
                + (digests + digests.prefix(1)).map(\.string).joined(separator: " → ")
        }
    }
}
