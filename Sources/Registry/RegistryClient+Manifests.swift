import Curl
import OCI

extension RegistryClient {
    static let manifestAccept = MediaType.allManifests.joined(separator: ", ")

    /// `HEAD /v2/NAME/manifests/REFERENCE` with every manifest type accepted: the descriptor the
    /// reference resolves to, nil on 404. Falls back to a GET when the registry omits the digest.
    public func manifestDescriptor(_ repository: String, reference: String) throws(RegistryError) -> Descriptor? {
        let operation = "check manifest \(reference)"
        let call = Call(
            operation: operation, repository: repository, scopes: [Self.pullScope(repository)],
            sink: .discard, followRedirects: true)
        let response = try execute(call) {
            HTTPRequest(method: "HEAD", url: url(repository, "manifests/\(reference)"), headers: ["Accept": Self.manifestAccept])
        }
        switch response.status {
        case 200:
            if let digestText = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: digestText),
                let mediaType = response.headers["Content-Type"],
                let size = response.headers["Content-Length"].flatMap({ Int64($0) })
            {
                return Descriptor(mediaType: Self.bareMediaType(mediaType), digest: digest, size: size)
            }
            let manifest = try getManifest(repository, reference: reference)
            return Descriptor(mediaType: manifest.mediaType, digest: manifest.digest, size: Int64(manifest.bytes.count))
        case 404:
            return nil
        default:
            throw failure(response, operation: operation, repository: repository)
        }
    }

    /// `GET /v2/NAME/manifests/REFERENCE`: the exact bytes, their media type and digest. When the
    /// reference is a digest the bytes must hash to it.
    public func getManifest(_ repository: String, reference: String) throws(RegistryError) -> (
        bytes: [UInt8], mediaType: String, digest: Digest
    ) {
        let operation = "fetch manifest \(reference)"
        let call = Call(operation: operation, repository: repository, scopes: [Self.pullScope(repository)], followRedirects: true)
        let response = try execute(call) {
            HTTPRequest(method: "GET", url: url(repository, "manifests/\(reference)"), headers: ["Accept": Self.manifestAccept])
        }
        guard response.status == 200 else { throw failure(response, operation: operation, repository: repository) }
        let expected = try? Digest(parsing: reference)
        let algorithm =
            expected?.algorithm
            ?? response.headers["Docker-Content-Digest"].flatMap { try? Digest(parsing: $0) }?.algorithm
            ?? .sha256
        let digest = Digest.of(response.body, algorithm: algorithm)
        if let expected, expected != digest {
            throw .digestMismatch(
                expected: expected, actual: digest.string, operation: operation,
                registry: endpoint.host, repository: repository)
        }
        var mediaType = response.headers["Content-Type"].map(Self.bareMediaType) ?? ""
        if !MediaType.isManifest(mediaType), let parsed = try? ManifestDocument.parse(response.body) {
            mediaType = parsed.mediaType
        }
        return (response.body, mediaType, digest)
    }

    /// `PUT /v2/NAME/manifests/REFERENCE` with the exact bytes and `Content-Type` = media type.
    /// Returns the manifest's digest after checking the registry computed the same one.
    @discardableResult
    public func putManifest(_ repository: String, reference: String, bytes: [UInt8], mediaType: String) throws(RegistryError) -> Digest {
        try putManifestReportingSubject(repository, reference: reference, bytes: bytes, mediaType: mediaType).digest
    }

    /// `DELETE /v2/NAME/manifests/DIGEST` (registries must allow deletes). True when deleted,
    /// false when it was not there.
    @discardableResult
    public func deleteManifest(_ repository: String, digest: Digest) throws(RegistryError) -> Bool {
        let operation = "delete manifest \(digest)"
        let call = Call(operation: operation, repository: repository, scopes: ["repository:\(repository):delete,push,pull"])
        let response = try execute(call) { HTTPRequest(method: "DELETE", url: url(repository, "manifests/\(digest)")) }
        switch response.status {
        case 200, 202, 204: return true
        case 404: return false
        default: throw failure(response, operation: operation, repository: repository)
        }
    }

    /// `application/json; charset=utf-8` → `application/json`.
    static func bareMediaType(_ contentType: String) -> String {
        String(contentType.split(separator: ";", maxSplits: 1).first ?? "").trimmingSpaces()
    }
}
