import Curl
import OCI

extension RegistryClient {
    /// `HEAD /v2/NAME/blobs/DIGEST`: the blob's size when the repository has it, nil on 404.
    public func blobExists(_ repository: String, _ digest: Digest) throws(RegistryError) -> Int64? {
        let operation = "check blob \(digest)"
        let call = Call(
            operation: operation, repository: repository, scopes: [Self.pullScope(repository)],
            sink: .discard, followRedirects: true)
        let response = try execute(call) { HTTPRequest(method: "HEAD", url: url(repository, "blobs/\(digest)")) }
        switch response.status {
        case 200:
            return response.headers["Content-Length"].flatMap { Int64($0) } ?? 0
        case 404:
            return nil
        default:
            throw failure(response, operation: operation, repository: repository)
        }
    }

    /// Cross-repository mount (`POST …/blobs/uploads/?mount=DIGEST&from=REPO`). True when the
    /// registry mounted it (201). A 202 means the registry opened an upload session instead:
    /// it is deleted and false returned. Refusals (400/401/403/404) are never fatal: false.
    public func mountBlob(_ repository: String, _ digest: Digest, from source: String) throws(RegistryError) -> Bool {
        let operation = "mount blob \(digest) from \(source)"
        let call = Call(
            operation: operation, repository: repository,
            scopes: [Self.pushScope(repository), Self.pullScope(source)])
        let response: HTTPResponse
        do {
            response = try execute(call) {
                var target = url(repository, "blobs/uploads/")
                target = Self.appendQuery(target, "mount", digest.string)
                target = Self.appendQuery(target, "from", source)
                return HTTPRequest(method: "POST", url: target, body: .bytes([]))
            }
        } catch {
            if case .unauthorized = error { return false }
            throw error
        }
        switch response.status {
        case 201:
            return true
        case 202:
            if let location = response.headers["Location"] {
                cancelUpload(repository, location: Self.resolve(location, against: response.url))
            }
            return false
        case 400, 401, 403, 404:
            return false
        default:
            throw failure(response, operation: operation, repository: repository)
        }
    }

    /// Streams a blob's bytes to `consume` (replication sources). Follows redirects to storage.
    public func fetchBlob(
        _ repository: String, _ digest: Digest,
        consume: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) throws(RegistryError) {
        let operation = "fetch blob \(digest)"
        // No automatic retries: the consumer has seen part of the bytes; the caller restarts.
        let call = Call(
            operation: operation, repository: repository, scopes: [Self.pullScope(repository)],
            sink: .stream(consume), retry: false, followRedirects: true)
        let response = try execute(call) { HTTPRequest(method: "GET", url: url(repository, "blobs/\(digest)")) }
        guard response.status == 200 else {
            throw failure(response, operation: operation, repository: repository)
        }
    }

    /// Best-effort `DELETE` of an abandoned upload session (registries expire them anyway).
    ///
    /// `afterInterrupt`: the upload was cancelled (SIGINT/SIGTERM); the session is still deleted,
    /// in one short request, so the registry does not keep the partial upload until it purges it.
    func cancelUpload(_ repository: String, location: String, afterInterrupt: Bool = false) {
        var call = Call(
            operation: "cancel upload", repository: repository, scopes: [Self.pushScope(repository)],
            sink: .discard, retry: false)
        call.ignoresCancellation = afterInterrupt
        _ = try? execute(call) { HTTPRequest(method: "DELETE", url: location) }
    }
}
