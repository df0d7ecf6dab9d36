import Threading
import Foundation
import Curl
import OCI
import PusherFakes
import Registry
import Run
import Synchronization
@testable import Pusher

/// An in-memory registry endpoint that records every request, refuses manifests whose blobs are
/// missing (as a real registry does), and can be made unreachable.
final class FakeRegistry: PushDestination, @unchecked Sendable {
    struct Unreachable: Error { var tls: Bool }
    struct RegistryDenied: Error, CustomStringConvertible {
        var description: String { "DENIED: requested access to the resource is denied" }
    }
    struct SourceCorrupt: Error, CustomStringConvertible { var description: String { "digest mismatch" } }

    private let lock = Lock()
    var blobs: [String: Set<Digest>] = [:]  // repository → digests
    var manifests: [String: [String: Digest]] = [:]  // repository → reference → digest
    var requests: [String] = []
    var unreachable: Unreachable?
    var denyWrites = false
    var refuseMounts = Set<String>()
    /// Manifests whose PUT is refused (`DENIED`), by digest of their bytes.
    var refuseManifests = Set<Digest>()

    func log(_ r: String) { lock.withLock { requests.append(r) } }
    func check() throws { if let unreachable { throw unreachable } }

    func ping() throws { log("GET /v2/"); try check() }

    /// Called inside every blob `HEAD`, after it is logged, with the repository and the digest.
    var duringBlobHead: (@Sendable (String, Digest) -> Void)?

    func blobExists(repository: String, digest: Digest) throws -> Bool {
        log("HEAD blob \(repository) \(digest.short)"); try check()
        duringBlobHead?(repository, digest)
        return lock.withLock { blobs[repository, default: []].contains(digest) }
    }

    func mountBlob(repository: String, digest: Digest, from: String) throws -> Bool {
        log("MOUNT \(repository) from \(from) \(digest.short)"); try check()
        return lock.withLock {
            guard !refuseMounts.contains(from), blobs[from, default: []].contains(digest) else { return false }
            blobs[repository, default: []].insert(digest)
            return true
        }
    }

    /// Called at the start of every blob upload, with the repository and the blob's digest.
    var duringUpload: (@Sendable (String, Digest) throws -> Void)?

    func uploadBlob(repository: String, payload: BlobPayload, progress: @escaping @Sendable (Int64) -> Void) throws {
        log("UPLOAD \(repository) \(payload.descriptor.digest.short)"); try check()
        if denyWrites { throw RegistryDenied() }
        try duringUpload?(repository, payload.descriptor.digest)
        let stream = try payload.open(0)
        var hasher = DigestHasher()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            hasher.update(Array(buffer[..<n]))
            progress(hasher.count)
        }
        guard hasher.finalize() == payload.descriptor.digest else { throw SourceCorrupt() }
        lock.withLock { _ = blobs[repository, default: []].insert(payload.descriptor.digest) }
    }

    /// Called inside every manifest `HEAD` (to see how many are in flight at once).
    var duringManifestHead: (@Sendable () -> Void)?

    func manifestDigest(repository: String, reference: String) throws -> Digest? {
        log("HEAD manifest \(repository):\(reference)"); try check()
        duringManifestHead?()
        return lock.withLock { manifests[repository]?[reference] }
    }

    /// Called at the start of every manifest `PUT`.
    var beforeManifestPut: (@Sendable () -> Void)?

    func putManifest(repository: String, reference: String, bytes: [UInt8], mediaType: String) throws -> Digest {
        log("PUT manifest \(repository):\(reference)"); try check()
        beforeManifestPut?()
        if denyWrites { throw RegistryDenied() }
        let (_, document) = try ManifestDocument.parse(bytes)
        let digest = Digest.of(bytes)
        if refuseManifests.contains(digest) { throw RegistryDenied() }
        try lock.withLock {
            for blob in document.blobs where !blobs[repository, default: []].contains(blob.digest) {
                throw NSError(domain: "MANIFEST_BLOB_UNKNOWN \(blob.digest)", code: 400)
            }
            for child in document.children where !manifests[repository, default: [:]].values.contains(child.digest) {
                throw NSError(domain: "MANIFEST_UNKNOWN \(child.digest)", code: 400)
            }
            manifests[repository, default: [:]][reference] = digest
            manifests[repository, default: [:]][digest.string] = digest
        }
        return digest
    }

    /// Answer a manifest PUT with the digest stored (`Docker-Content-Digest`, as docker-registry
    /// does); otherwise the answer says nothing beyond success.
    var reportsDigest = false

    func putManifestReportingSubject(
        repository: String, reference: String, bytes: [UInt8], mediaType: String
    ) throws -> ManifestPutAnswer {
        ManifestPutAnswer(
            digest: try putManifest(repository: repository, reference: reference, bytes: bytes, mediaType: mediaType),
            digestReported: reportsDigest)
    }

    func classify(_ error: any Error) -> EndpointVerdict {
        if let u = error as? Unreachable { return .unusable(tlsHandshake: u.tls) }
        if error is RegistryDenied { return .final }
        return .final
    }

    var requestLog: [String] { lock.withLock { requests } }
}

/// A small image: one config, two layers, an image manifest; `corruptLayer` makes the second
/// layer's bytes differ from its descriptor.
func makeImage(tag: String = "1.0", seed: String = "a", corruptLayer: Bool = false) -> SourceImage {
    let config = Array("{\"architecture\":\"amd64\",\"os\":\"linux\",\"seed\":\"\(seed)\"}".utf8)
    let layers = [Array("layer-one-\(seed)".utf8), Array("layer-two-\(seed)".utf8)]
    func descriptor(_ bytes: [UInt8], _ type: String) -> Descriptor {
        Descriptor(mediaType: type, digest: Digest.of(bytes), size: Int64(bytes.count))
    }
    let configDescriptor = descriptor(config, MediaType.ociConfig)
    let layerDescriptors = layers.map { descriptor($0, MediaType.ociLayerGzip) }
    let manifest = """
        {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(configDescriptor.digest)","size":\(config.count)},"layers":[\(layerDescriptors.map { "{\"mediaType\":\"\($0.mediaType)\",\"digest\":\"\($0.digest)\",\"size\":\($0.size)}" }.joined(separator: ","))]}
        """
    let manifestBytes = Array(manifest.utf8)
    let root = descriptor(manifestBytes, MediaType.ociManifest)
    var contents: [Digest: [UInt8]] = [configDescriptor.digest: config]
    for (d, bytes) in zip(layerDescriptors, layers) { contents[d.digest] = bytes }
    if corruptLayer { contents[layerDescriptors[1].digest]![0] ^= 0x01 }
    let frozen = contents
    return SourceImage(
        description: "test:\(seed)", root: root, manifests: [(root, manifestBytes)],
        blobs: [configDescriptor] + layerDescriptors,
        payload: { d in BlobPayload(descriptor: d) { offset in MemoryBlobStream(frozen[d.digest]!, offset: Int(offset)) } })
}

/// An OCI index over `children` (their manifests and blobs come along, children first).
func makeIndex(over children: [SourceImage], seed: String) -> SourceImage {
    let list = children.map { #"{"mediaType":"\#($0.root.mediaType)","digest":"\#($0.root.digest)","size":\#($0.root.size)}"# }
    let bytes = Array(
        #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":[\#(list.joined(separator: ","))],"annotations":{"seed":"\#(seed)"}}"#
            .utf8)
    let root = Descriptor(mediaType: MediaType.ociIndex, digest: Digest.of(bytes), size: Int64(bytes.count))
    let payloads = children.map(\.payload)
    let owners = children.map { Set($0.blobs.map(\.digest)) }
    return SourceImage(
        description: "test-index:\(seed)", root: root, manifests: children.flatMap(\.manifests) + [(root, bytes)],
        blobs: children.flatMap(\.blobs),
        payload: { d in payloads[owners.firstIndex { $0.contains(d.digest) }!](d) })
}

/// The run's endpoint rule (`EndpointSet`) over fake registries, by URL.
struct FakeEndpoints: PushEndpoints {
    let endpointSet: EndpointSet<FakeRegistry>

    init(members: [RegistryEndpoint], registries: [String: FakeRegistry]) {
        endpointSet = EndpointSet(registry: "lab", members: members) { member, _ in registries[member.url] ?? FakeRegistry() }
    }

    var members: [RegistryEndpoint] { endpointSet.members }
    var preferredHost: String { endpointSet.preferred?.host ?? "none" }

    func perform<T>(
        retries: @escaping @Sendable (PushRetry) -> Void,
        _ body: (any PushDestination, RegistryEndpoint) throws -> T
    ) throws -> (value: T, endpoint: RegistryEndpoint) {
        try endpointSet.performPush(destination: { $0 }, body)
    }
}

/// An executor whose jobs reach `registries` (by endpoint URL) through one endpoint set per
/// endpoint list for the whole run, as the run layer does.
struct TestExecutor {
    let executor: Executor
    let registries: [String: FakeRegistry]

    func run(_ jobs: [PushJob], images: Int) -> [PushOutcome] {
        var sets: [[RegistryEndpoint]: FakeEndpoints] = [:]
        let bound = jobs.map { job in
            var job = job
            let members = (job.endpoints as! FakeEndpoints).members
            let set = sets[members] ?? FakeEndpoints(members: members, registries: registries)
            sets[members] = set
            job.endpoints = set
            return job
        }
        return executor.run(bound, images: images)
    }
}

func makeJob(
    _ image: SourceImage, repository: String = "team/app", tags: [String] = ["1.0", "latest"],
    endpoints: [RegistryEndpoint] = [RegistryEndpoint(url: "http://127.0.0.1:5000", isHTTPTwin: false)]
) -> PushJob {
    PushJob(
        target: PushTarget(
            itemID: "\(repository)-\(image.description)", job: "test", source: image.description, registry: "lab",
            host: endpoints[0].host, repository: repository, tags: tags),
        registryKey: "registry.test", endpoints: FakeEndpoints(members: endpoints, registries: [:]), image: image,
        credentialIdentity: "id-1", concurrency: 3)
}

/// A weak reference that a `@Sendable` hook can hold to the fake that holds the hook (a strong one
/// would be a cycle, which LeakSanitizer reports).
final class WeakBox<T: AnyObject>: @unchecked Sendable {
    weak var value: T?
    init(_ value: T) { self.value = value }
}
