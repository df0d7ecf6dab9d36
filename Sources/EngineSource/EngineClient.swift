import SafeText
import Threading
import Curl
import Foundation
import OCI

/// What the engine says about one image (`GET /images/{name}/json`): enough to decide a push the
/// way `docker push` does, from the engine's metadata alone, without exporting anything.
public struct EngineImage: Sendable, Equatable {
    /// The image ID: the config's digest for docker's classic store and podman.
    public var id: Digest
    public var repoTags: [String]
    /// The uncompressed layers' digests, bottom first (`RootFS.Layers`).
    public var diffIDs: [Digest]
}

/// A client of the Docker Engine API (https://docs.docker.com/engine/api/v1.41/), as far as
/// pushctl reads images: inspect, list and export. It speaks through libcurl like the registry
/// client (over the unix socket with `CURLOPT_UNIX_SOCKET_PATH`), so there is one HTTP stack.
/// API version 1.41 is served by Docker 20.10 and later and by podman's compatible service.
public struct EngineClient: Sendable {
    public let host: EngineHost
    let transport: any HTTPTransport
    static let apiPrefix = "/v1.41"

    public init(host: EngineHost, cancellation: CancellationFlag? = nil) {
        self.host = host
        var configuration = CurlConfiguration(cancellation: cancellation)
        switch host {
        case .unixSocket(let path): configuration.unixSocketPath = path
        case .tcp(_, _, let tls?):
            configuration.caFile = tls.caFile
            configuration.clientCertificate = tls.certificateFile
            configuration.clientKey = tls.keyFile
        case .tcp: break
        }
        self.transport = CurlTransport(configuration: configuration)
    }

    init(host: EngineHost, transport: any HTTPTransport) {
        self.host = host
        self.transport = transport
    }

    /// `GET /images/{name}/json`.
    public func inspect(_ name: String) throws(EngineError) -> EngineImage {
        let response = try get("/images/\(Self.pathEscaped(name))/json", sink: .memory(limit: 4 << 20))
        if response.status == 404 { throw .imageNotFound(name: name, closest: closestNames(to: name)) }
        try check(response)
        struct Inspect: Decodable {
            struct RootFS: Decodable { var Layers: [String]? }
            var Id: String
            var RepoTags: [String]?
            var RootFS: RootFS?
        }
        guard let answer = try? JSONDecoder().decode(Inspect.self, from: Data(response.body)) else {
            throw .invalidAnswer(host: host.description, what: "the inspect answer for \(name) is not an image")
        }
        let id: Digest
        do { id = try Digest(parsing: answer.Id) } catch {
            throw .invalidAnswer(host: host.description, what: "image id \(DisplayText.safe(answer.Id)) is not a digest")
        }
        var diffIDs: [Digest] = []
        for layer in answer.RootFS?.Layers ?? [] {
            guard let digest = try? Digest(parsing: layer) else {
                throw .invalidAnswer(host: host.description, what: "layer \(DisplayText.safe(layer)) is not a digest")
            }
            diffIDs.append(digest)
        }
        return EngineImage(id: id, repoTags: answer.RepoTags ?? [], diffIDs: diffIDs)
    }

    /// Every `RepoTag` the engine has (`GET /images/json`).
    public func imageNames() throws(EngineError) -> [String] {
        let response = try get("/images/json", sink: .memory(limit: 64 << 20))
        try check(response)
        struct Summary: Decodable { var RepoTags: [String]? }
        guard let list = try? JSONDecoder().decode([Summary].self, from: Data(response.body)) else {
            throw .invalidAnswer(host: host.description, what: "the image list is not a list of images")
        }
        return list.flatMap { $0.RepoTags ?? [] }.filter { $0 != "<none>:<none>" }
    }

    /// `GET /images/{name}/get`: the image as a `docker save` tar (the classic layout, or the OCI
    /// layout with `manifest.json` that Docker 25+ writes), streamed into a new file at `path`
    /// (owner-only), never held in memory. A connection that ends early is an error, and so is
    /// an answer that is not a tar (its JSON message is reported).
    public func export(_ name: String, toFile path: String) throws(EngineError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .spool(path: path, reason: String(cString: strerror(errno))) }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let response: HTTPResponse
        do {
            response = try transport.perform(
                HTTPRequest(method: "GET", url: host.baseURL + Self.apiPrefix + "/images/\(Self.pathEscaped(name))/get"),
                sink: .stream { piece in try file.write(contentsOf: Data(piece)) }, progress: nil)
        } catch {
            throw .exportFailed(name: name, reason: "\(error)")
        }
        do { try file.synchronize() } catch { throw .spool(path: path, reason: "\(error)") }
        guard response.status == 200 else {
            let body = (try? Data(contentsOf: URL(fileURLWithPath: path)).prefix(64 << 10)).map { [UInt8]($0) } ?? []
            if response.status == 404 { throw .imageNotFound(name: name, closest: []) }
            try check(HTTPResponse(status: response.status, body: body))
            return
        }
    }

    // MARK: plumbing

    private func get(_ path: String, sink: ResponseSink) throws(EngineError) -> HTTPResponse {
        do {
            return try transport.perform(HTTPRequest(method: "GET", url: host.baseURL + Self.apiPrefix + path), sink: sink, progress: nil)
        } catch {
            throw unreachable(error)
        }
    }

    private func unreachable(_ error: TransportError) -> EngineError {
        // curl says only "Couldn't connect" for a unix socket: ask the file system why.
        if case .unixSocket(let path) = host {
            if access(path, F_OK) != 0 { return .unreachable(host: host.description, reason: "no such socket") }
            if access(path, R_OK | W_OK) != 0, errno == EACCES { return .permissionDenied(host: host.description) }
        }
        switch error {
        case .connect(_, let message), .tls(_, let message), .connectionLost(_, let message), .timeout(_, let message):
            return .unreachable(host: host.description, reason: DisplayText.safe(message))
        default:
            return .unreachable(host: host.description, reason: "\(error)")
        }
    }

    private func check(_ response: HTTPResponse) throws(EngineError) {
        guard !(200..<300).contains(response.status) else { return }
        struct Message: Decodable { var message: String }
        let message = (try? JSONDecoder().decode(Message.self, from: Data(response.body)))?.message ?? ""
        throw .engine(host: host.description, status: response.status, message: message)
    }

    /// Names the engine has that look like `name` (same last path component, or a few edits away).
    func closestNames(to name: String) -> [String] {
        guard let names = try? imageNames() else { return [] }
        let wanted = Self.shortName(name)
        let ranked = names.map { ($0, Self.editDistance(Self.shortName($0), wanted)) }.filter { $0.1 <= max(2, wanted.count / 3) }
        return ranked.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(3).map(\.0)
    }

    /// `docker.io/team/app:1` → `app:1`.
    static func shortName(_ name: String) -> String {
        String(name.split(separator: "/").last ?? Substring(name))
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    /// A name in a URL path: reference characters pass (`/` and `:` included, as the engine's
    /// router expects them); anything else is percent-encoded.
    static func pathEscaped(_ name: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/:@")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name
    }
}
