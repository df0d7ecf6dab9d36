import Curl
import Threading
import OCI

extension RegistryClient {
    /// Uploads a blob (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs).
    ///
    /// Without a `chunkSize`, blobs up to `monolithicLimit` go up monolithically (`POST` then one
    /// `PUT ?digest=`) and larger ones in one session streamed as a single `PATCH` (then an empty
    /// `PUT ?digest=`), as skopeo sends them: docker-registry 2.8 takes 4 × 64 MiB in a tenth to a
    /// sixth less time that way than in 16 MiB chunks (docs/performance.md "Blob uploads in one
    /// request").
    /// With a `chunkSize`, blobs up to it go monolithically and larger ones in `PATCH` chunks of it.
    /// `PATCH` requests carry `Content-Range`, are at least `OCI-Chunk-Min-Length` long and always
    /// follow the newest `Location`. A failed monolithic upload restarts from the source in a new
    /// session; a `PATCH` session resumes from the offset the registry reports (`GET` on the
    /// session, `Range: 0-N`) after a 416 or a dropped connection.
    /// `progress` receives the total bytes of this blob the registry has received.
    public func uploadBlob(
        _ repository: String, _ payload: BlobPayload, chunkSize: Int? = nil,
        progress: @escaping @Sendable (Int64) -> Void = { _ in }
    ) throws(RegistryError) {
        let size = payload.descriptor.size
        let limit = Int64(max(1, chunkSize ?? Self.monolithicLimit))
        if size <= limit {
            try uploadMonolithic(repository, payload, progress: progress)
        } else {
            try uploadChunked(repository, payload, chunkSize: chunkSize.map { _ in limit } ?? size, progress: progress)
        }
    }

    private func operationName(_ payload: BlobPayload) -> String { "upload blob \(payload.descriptor.digest)" }

    /// `POST …/blobs/uploads/`: a new session's URL and the registry's minimum chunk length.
    private func startUpload(_ repository: String, operation: String) throws(RegistryError) -> (location: String, minimumChunk: Int64) {
        let call = Call(operation: operation, repository: repository, scopes: [Self.pushScope(repository)])
        let response = try execute(call) {
            HTTPRequest(method: "POST", url: url(repository, "blobs/uploads/"), body: .bytes([]))
        }
        guard response.status == 202 else { throw failure(response, operation: operation, repository: repository) }
        guard let location = response.headers["Location"] else {
            throw .invalidResponse(operation: operation, registry: endpoint.host, message: "upload session without Location")
        }
        let minimum = response.headers["OCI-Chunk-Min-Length"].flatMap { Int64($0) } ?? 0
        return (Self.resolve(location, against: response.url), minimum)
    }

    private func openSource(_ payload: BlobPayload, at offset: Int64, operation: String) throws(RegistryError) -> any BlobStream {
        do { return try payload.open(offset) } catch { throw .source(operation: operation, message: String(describing: error)) }
    }

    /// Checks the registry stored what we hashed (when it says). A final PUT that failed is not
    /// the last word: the blob is asked for (`HEAD`) first, since a registry may answer an error
    /// (docker-registry's `400 DIGEST_INVALID` to a repeated PUT while it is still finishing the
    /// first) for a blob it holds. A digest reported in another algorithm than ours (distribution
    /// answers `sha256:…` for a `sha512:…` upload) cannot be compared: a `HEAD` by our digest decides.
    private func checkCommitted(_ response: HTTPResponse, _ payload: BlobPayload, repository: String, operation: String)
        throws(RegistryError)
    {
        guard response.status == 201 || response.status == 204 else {
            if try isStoredIfReachable(repository, payload, operation: operation) { return }
            throw failure(response, operation: operation, repository: repository)
        }
        if let reported = response.headers["Docker-Content-Digest"], reported != payload.descriptor.digest.string {
            if Self.isOtherAlgorithm(reported, than: payload.descriptor.digest),
                try isStoredIfReachable(repository, payload, operation: operation)
            {
                return
            }
            throw .digestMismatch(
                expected: payload.descriptor.digest, actual: reported, operation: operation,
                registry: endpoint.host, repository: repository)
        }
    }

    private func uploadMonolithic(
        _ repository: String, _ payload: BlobPayload,
        progress: @escaping @Sendable (Int64) -> Void
    ) throws(RegistryError) {
        let operation = operationName(payload)
        let size = payload.descriptor.size
        var attempt = 0
        let clock = MotionClock()
        while true {
            attempt += 1
            let session = try startUpload(repository, operation: operation)
            let target = Self.appendQuery(session.location, "digest", payload.descriptor.digest.string)
            let call = Call(
                operation: operation, repository: repository, scopes: [Self.pushScope(repository)],
                retry: false,
                progress: { sent in
                    clock.touch()
                    progress(sent)
                })
            do throws(RegistryError) {
                let response = try execute(call) { () throws(RegistryError) -> HTTPRequest in
                    let stream = try openSource(payload, at: 0, operation: operation)
                    return HTTPRequest(
                        method: "PUT", url: target,
                        headers: ["Content-Type": "application/octet-stream"],
                        body: .stream(BlobBodyStream(stream), length: size))
                }
                let delay = retryPolicy.delay(
                    afterAttempt: attempt, retryAfter: RetryPolicy.parseRetryAfter(response.headers["Retry-After"]))
                if Self.isRetryableStatus(response.status), attempt < retryPolicy.attempts,
                    withinBudget(since: clock.lastMoved, delay: delay)
                {
                    // A gateway may answer 5xx after the registry stored the blob.
                    if try isStoredIfReachable(repository, payload, operation: operation) {
                        progress(size)
                        return
                    }
                    cancelUpload(repository, location: session.location)
                    try pause(operation: operation, attempt: attempt, retryAfter: nil, reason: "HTTP \(response.status)", delay: delay)
                    continue
                }
                try checkCommitted(response, payload, repository: repository, operation: operation)
                progress(size)
                return
            } catch {
                // Interrupted: the session holds part of the bytes; delete it on the way out.
                if case .cancelled = error { cancelUpload(repository, location: session.location, afterInterrupt: true) }
                // The session may hold part of the bytes: start over from the source in a new one.
                guard case .unreachable = error, attempt < retryPolicy.attempts else { throw error }
                // A stalled endpoint is not asked again once its budget is spent: fallback moves on.
                let delay = retryPolicy.delay(afterAttempt: attempt)
                guard withinBudget(since: clock.lastMoved, delay: delay) else { throw budgetSpent(error) }
                // The whole body may have arrived and only the answer got lost: if the registry
                // has the blob, the upload is done and sending it again would be waste.
                if try isStoredIfReachable(repository, payload, operation: operation) {
                    progress(size)
                    return
                }
                cancelUpload(repository, location: session.location)
                try pause(operation: operation, attempt: attempt, retryAfter: nil, reason: error.description, delay: delay)
            }
        }
    }

    private func uploadChunked(
        _ repository: String, _ payload: BlobPayload, chunkSize: Int64,
        progress: @escaping @Sendable (Int64) -> Void
    ) throws(RegistryError) {
        let operation = operationName(payload)
        let size = payload.descriptor.size
        var failures = 0
        var location = ""
        var offset: Int64 = 0
        var stream: any BlobStream = MemoryBlobStream([])
        var chunk = chunkSize
        var needsSession = true
        let clock = MotionClock()

        // Interrupted: the open session holds part of the bytes; delete it on the way out.
        do throws(RegistryError) {
            while true {
                if needsSession {
                    // A new session from the start of the source (first try, or the old session is lost).
                    let session = try startUpload(repository, operation: operation)
                    location = session.location
                    chunk = max(chunkSize, session.minimumChunk)
                    offset = 0
                    stream = try openSource(payload, at: 0, operation: operation)
                    needsSession = false
                    progress(0)
                }
                guard offset < size else { break }
                let length = min(chunk, size - offset)
                let start = offset
                let call = Call(
                    operation: operation, repository: repository, scopes: [Self.pushScope(repository)],
                    retry: false,
                    progress: { sent in
                        clock.touch()
                        progress(start + sent)
                    })
                var problem: String
                var retryAfter: Double? = nil
                do throws(RegistryError) {
                    let currentStream = stream
                    let target = location
                    let response = try execute(call) {
                        HTTPRequest(
                            method: "PATCH", url: target,
                            headers: [
                                "Content-Type": "application/octet-stream",
                                "Content-Range": "\(start)-\(start + length - 1)"
                            ],
                            body: .stream(BlobBodyStream(currentStream), length: length))
                    }
                    if response.status == 202 {
                        if let next = response.headers["Location"] { location = Self.resolve(next, against: response.url) }
                        let received = Self.receivedBytes(response.headers["Range"]) ?? (start + length)
                        offset = start + length
                        if received != offset {
                            // The registry kept a different amount than we sent: continue from its count.
                            offset = received
                            stream = try openSource(payload, at: offset, operation: operation)
                        }
                        progress(offset)
                        continue
                    }
                    guard response.status == 416 || Self.isRetryableStatus(response.status) else {
                        throw failure(response, operation: operation, repository: repository)
                    }
                    problem = "HTTP \(response.status)"
                    retryAfter = RetryPolicy.parseRetryAfter(response.headers["Retry-After"])
                } catch {
                    guard case .unreachable = error else { throw error }
                    problem = error.description
                }
                // A 416, 5xx or dropped connection: ask the session how much it holds and resume there.
                failures += 1
                guard failures < retryPolicy.attempts else {
                    cancelUpload(repository, location: location)
                    throw .unreachable(
                        registry: endpoint.host, operation: operation, message: "\(problem) (gave up after \(failures) attempts)")
                }
                let delay = retryPolicy.delay(afterAttempt: failures, retryAfter: retryAfter)
                // A stalled endpoint is not asked again once its budget is spent: fallback moves on.
                guard withinBudget(since: clock.lastMoved, delay: delay) else {
                    throw budgetSpent(.unreachable(registry: endpoint.host, operation: operation, message: problem))
                }
                try pause(operation: operation, attempt: failures, retryAfter: nil, reason: problem, delay: delay)
                do throws(RegistryError) {
                    let status = try uploadStatus(repository, location: location, operation: operation)
                    location = status.location
                    offset = status.received
                    stream = try openSource(payload, at: offset, operation: operation)
                    progress(offset)
                } catch {
                    // The registry cannot resume this session (distribution 2.8 refuses one whose
                    // stored size no longer matches its state token): start over from the source.
                    guard case .registry(let status, _, _, _, _) = error, [400, 404, 416].contains(status) else { throw error }
                    cancelUpload(repository, location: location)
                    needsSession = true
                }
            }

            try commitUpload(repository, payload, location: location, operation: operation)
            progress(size)
        } catch {
            if case .cancelled = error, !location.isEmpty { cancelUpload(repository, location: location, afterInterrupt: true) }
            throw error
        }
    }

    /// The closing `PUT …?digest=` of a session, made idempotent. A PUT whose answer is lost
    /// (dropped connection, gateway 5xx) may still have completed the upload, and a repeated PUT
    /// then reaches a session that no longer exists (`404 BLOB_UPLOAD_UNKNOWN`). So after any
    /// such outcome the blob itself is asked for (`HEAD`): present with our digest and size means
    /// done; otherwise the PUT is repeated (a lost answer) or the failure reported.
    private func commitUpload(_ repository: String, _ payload: BlobPayload, location: String, operation: String) throws(RegistryError) {
        let call = Call(operation: operation, repository: repository, scopes: [Self.pushScope(repository)], retry: false)
        let target = Self.appendQuery(location, "digest", payload.descriptor.digest.string)
        var attempt = 0
        let started = monotonicSeconds()
        while true {
            attempt += 1
            let problem: String
            var retryAfter: Double?
            var final: RegistryError?
            do throws(RegistryError) {
                let response = try execute(call) {
                    HTTPRequest(method: "PUT", url: target, headers: ["Content-Type": "application/octet-stream"], body: .bytes([]))
                }
                if response.status == 201 || response.status == 204 {
                    return try checkCommitted(response, payload, repository: repository, operation: operation)
                }
                guard Self.isRetryableStatus(response.status) || response.status == 404 else {
                    // Any other failure (400 DIGEST_INVALID to a repeated PUT): the blob decides.
                    return try checkCommitted(response, payload, repository: repository, operation: operation)
                }
                problem = "HTTP \(response.status)"
                retryAfter = RetryPolicy.parseRetryAfter(response.headers["Retry-After"])
                // 404: the session is gone. Unless the blob is there, nothing can be repeated.
                if response.status == 404 { final = failure(response, operation: operation, repository: repository) }
            } catch {
                guard case .unreachable = error else { throw error }
                problem = error.description
            }
            if try isStoredIfReachable(repository, payload, operation: operation) { return }
            if let final { throw final }
            guard attempt < retryPolicy.attempts else {
                throw .unreachable(registry: endpoint.host, operation: operation, message: "\(problem) (gave up after \(attempt) attempts)")
            }
            let delay = retryPolicy.delay(afterAttempt: attempt, retryAfter: retryAfter)
            guard withinBudget(since: started, delay: delay) else {
                throw budgetSpent(.unreachable(registry: endpoint.host, operation: operation, message: problem))
            }
            try pause(operation: operation, attempt: attempt, retryAfter: nil, reason: problem, delay: delay)
        }
    }

    /// `isStored` asked once, where a registry that cannot answer (unreachable, 5xx, 408, 429)
    /// counts as "not known to be stored": the caller's own retry loop (a new PUT or a new
    /// session, with its backoff) then deals with the outage as it did before.
    private func isStoredIfReachable(_ repository: String, _ payload: BlobPayload, operation: String) throws(RegistryError) -> Bool {
        do {
            return try isStored(repository, payload, operation: operation, retry: false)
        } catch {
            switch error {
            case .unreachable: return false
            case .http(let status, _, _, _, _) where Self.isRetryableStatus(status): return false
            case .registry(let status, _, _, _, _) where Self.isRetryableStatus(status): return false
            default: throw error
            }
        }
    }

    /// Whether the repository holds the blob with the payload's digest and size (`HEAD`). A blob
    /// of the same digest but another size is a registry fault worth reporting, not a finished
    /// upload.
    private func isStored(_ repository: String, _ payload: BlobPayload, operation: String, retry: Bool) throws(RegistryError) -> Bool {
        let call = Call(
            operation: operation, repository: repository, scopes: [Self.pullScope(repository)],
            sink: .discard, retry: retry, followRedirects: true)
        let digest = payload.descriptor.digest
        let response = try execute(call) { HTTPRequest(method: "HEAD", url: url(repository, "blobs/\(digest)")) }
        switch response.status {
        case 200:
            if let reported = response.headers["Docker-Content-Digest"], reported != digest.string,
                !Self.isOtherAlgorithm(reported, than: digest)
            {
                throw .digestMismatch(
                    expected: digest, actual: reported, operation: operation, registry: endpoint.host, repository: repository)
            }
            if let length = response.headers["Content-Length"].flatMap({ Int64($0) }), length != payload.descriptor.size {
                throw .invalidResponse(
                    operation: operation, registry: endpoint.host,
                    message: "the registry holds \(digest) with \(length) bytes, expected \(payload.descriptor.size)")
            }
            return true
        case 404:
            return false
        default:
            throw failure(response, operation: operation, repository: repository)
        }
    }

    /// Whether a digest the registry reports is of another algorithm than `ours` (so the two
    /// cannot be compared): `sha256:…` for a blob addressed as `sha512:…`.
    static func isOtherAlgorithm(_ reported: String, than ours: Digest) -> Bool {
        guard let colon = reported.firstIndex(of: ":") else { return false }
        return reported[..<colon].lowercased() != ours.algorithm.rawValue
    }

    /// The last time (monotonic seconds) an upload's bytes moved, for the endpoint budget.
    final class MotionClock: Sendable {
        private let last = LockedValue(monotonicSeconds())
        var lastMoved: Double { last.withLock { $0 } }
        func touch() { last.withLock { $0 = monotonicSeconds() } }
    }

    /// `GET` on an upload session: how many bytes the registry holds (`Range: 0-N` → N+1).
    private func uploadStatus(_ repository: String, location: String, operation: String) throws(RegistryError) -> (
        location: String, received: Int64
    ) {
        let call = Call(operation: operation, repository: repository, scopes: [Self.pushScope(repository)])
        let response = try execute(call) { HTTPRequest(method: "GET", url: location) }
        guard response.status == 204 || response.status == 200 || response.status == 202 else {
            throw failure(response, operation: operation, repository: repository)
        }
        let next = response.headers["Location"].map { Self.resolve($0, against: response.url) } ?? location
        return (next, Self.receivedBytes(response.headers["Range"]) ?? 0)
    }

    /// Bytes a session holds according to its `Range` header. distribution answers `0-0` both for
    /// an empty session and for one byte; resuming from 0 is the safe reading.
    static func receivedBytes(_ header: String?) -> Int64? {
        guard let end = rangeEnd(header) else { return nil }
        return end == 0 ? 0 : end + 1
    }

    /// The inclusive end of `Range: 0-N` (also tolerates `bytes=0-N`); nil when absent or empty.
    static func rangeEnd(_ header: String?) -> Int64? {
        guard var value = header?.trimmingSpaces(), !value.isEmpty else { return nil }
        if value.hasPrefix("bytes=") { value.removeFirst(6) }
        guard let dash = value.firstIndex(of: "-") else { return nil }
        guard let end = Int64(value[value.index(after: dash)...]) else { return nil }
        return end < 0 ? nil : end
    }
}

/// A blob stream as an HTTP request body (the transport knows bodies, not blobs).
final class BlobBodyStream: RequestBodyStream {
    private let blob: any BlobStream
    init(_ blob: any BlobStream) { self.blob = blob }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try blob.read(into: buffer) }
}
