import Curl
import Foundation
import OCI

/// The OCI distribution spec 1.1 pieces pushctl uses for referrers: the referrers API, and a
/// manifest `PUT` that says whether the registry took note of the manifest's `subject` (the
/// `OCI-Subject` response header). Registries without either (docker-registry 2.8) are served by
/// the fallback tag `<alg>-<hex>` that pushctl maintains itself (README "Signatures and SBOMs").
extension RegistryClient {
    /// `PUT` as `putManifest`, also returning whether the response carried `OCI-Subject` (the
    /// registry then lists the manifest in its referrers API and the fallback tag is not needed)
    /// and whether it carried `Docker-Content-Digest` (then equal to the bytes' digest: a registry
    /// sends it only once it has stored the manifest under the reference, docs/run.md "Tags").
    public func putManifestReportingSubject(
        _ repository: String, reference: String, bytes: [UInt8],
        mediaType: String
    ) throws(RegistryError) -> (digest: Digest, subjectAcknowledged: Bool, digestReported: Bool) {
        let operation = "push manifest \(reference)"
        let local = (try? Digest(parsing: reference)).map { Digest.of(bytes, algorithm: $0.algorithm) } ?? Digest.of(bytes)
        let call = Call(operation: operation, repository: repository, scopes: [Self.pushScope(repository)])
        let response = try execute(call) {
            HTTPRequest(
                method: "PUT", url: url(repository, "manifests/\(reference)"),
                headers: ["Content-Type": mediaType], body: .bytes(bytes))
        }
        guard response.status == 201 || response.status == 200 || response.status == 202 else {
            throw failure(response, operation: operation, repository: repository)
        }
        if let reported = response.headers["Docker-Content-Digest"], reported != local.string {
            throw .digestMismatch(
                expected: local, actual: reported, operation: operation,
                registry: endpoint.host, repository: repository)
        }
        return (local, response.headers["OCI-Subject"] != nil, response.headers["Docker-Content-Digest"] != nil)
    }

    private struct ReferrersPage: Decodable {
        var manifests: [Descriptor]?
    }

    /// `GET /v2/NAME/referrers/DIGEST[?artifactType=…]`, every page (`Link: rel="next"`, at most
    /// 1,000 pages). nil when the registry has no referrers API (404, or an answer that is not an
    /// index, as docker-registry 2.8 gives): the caller then reads the fallback tag. A registry
    /// that ignores the filter (no `OCI-Filters-Applied: artifactType`) is filtered here.
    public func listReferrers(_ repository: String, of digest: Digest, artifactType: String? = nil) throws(RegistryError) -> [Descriptor]? {
        let operation = "list referrers of \(digest)"
        var query = ""
        if let artifactType {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            query = "?artifactType=" + (artifactType.addingPercentEncoding(withAllowedCharacters: allowed) ?? artifactType)
        }
        var next: String? = url(repository, "referrers/\(digest)") + query
        var fetched: Set<String> = []
        var found: [Descriptor] = []
        var filtered = artifactType == nil
        while let pageURL = next {
            guard fetched.insert(pageURL).inserted, fetched.count <= 1_000 else {
                throw .invalidResponse(operation: operation, registry: endpoint.host, message: "referrers pagination does not end")
            }
            let call = Call(operation: operation, repository: repository, scopes: [Self.pullScope(repository)])
            let response = try execute(call) { HTTPRequest(method: "GET", url: pageURL) }
            if response.status == 404 || response.status == 405 { return fetched.count == 1 ? nil : found }
            guard response.status == 200 else { throw failure(response, operation: operation, repository: repository) }
            guard let page = try? JSONDecoder().decode(ReferrersPage.self, from: Data(response.body)), let manifests = page.manifests else {
                return fetched.count == 1 ? nil : found
            }
            if response.headers["OCI-Filters-Applied"]?.contains("artifactType") == true { filtered = true }
            found += manifests
            next = Self.nextLink(response.headers.values(for: "Link")).map { Self.resolve($0, against: pageURL) }
        }
        if !filtered, let artifactType { found = found.filter { $0.artifactType == artifactType } }
        return found
    }
}

extension RegistryError {
    /// The registry answered 404 (with or without an error body): no such manifest or tag.
    public var isNotFound: Bool {
        switch self {
        case .registry(let status, _, _, _, _), .http(let status, _, _, _, _): status == 404
        default: false
        }
    }
}
