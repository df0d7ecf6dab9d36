import SafeText
import Curl
import Foundation

extension RegistryClient {
    private struct TagList: Decodable {
        var tags: [String]?
    }

    /// Bounds on one tag listing, so a registry that paginates forever cannot keep pushctl busy
    /// (or growing) without end.
    struct TagListLimits {
        var pages = 10_000
        var tags = 1_000_000
        /// The whole listing's time budget (`TransferLimits.tagListDeadlineMultiple` × the
        /// registry's `timeout`); nil for none.
        var seconds: Double? = nil
    }

    /// `GET /v2/NAME/tags/list`, following `Link: <…>; rel="next"` pages. `pageSize` sets `?n=`
    /// (tests use it to force several pages). A `next` link back to a page already fetched, more
    /// than 10,000 pages, more than 1,000,000 tags or a listing still going after
    /// `TransferLimits.tagListDeadlineMultiple` × the registry's `timeout` are errors (`invalidResponse`).
    public func listTags(_ repository: String, pageSize: Int? = nil) throws(RegistryError) -> [String] {
        var limits = TagListLimits()
        limits.seconds = budgetSeconds.map { $0 * TransferLimits.tagListDeadlineMultiple }
        return try listTags(repository, pageSize: pageSize, limits: limits)
    }

    func listTags(_ repository: String, pageSize: Int?, limits: TagListLimits) throws(RegistryError) -> [String] {
        let operation = "list tags of \(repository)"
        var next: String? = url(repository, "tags/list") + (pageSize.map { "?n=\($0)" } ?? "")
        var tags: [String] = []
        var fetched: Set<String> = []
        let started = monotonicSeconds()
        while let pageURL = next {
            guard fetched.insert(pageURL).inserted else {
                throw .invalidResponse(
                    operation: operation, registry: endpoint.host,
                    message:
                        "tag list pagination loops: the Link header after page \(fetched.count) points back to a page already fetched (\(DisplayText.withoutQuery(pageURL)))"
                )
            }
            guard fetched.count <= limits.pages else {
                throw .invalidResponse(
                    operation: operation, registry: endpoint.host,
                    message: "tag list pagination does not end: more than \(limits.pages) pages (\(tags.count) tags so far)")
            }
            if let seconds = limits.seconds, monotonicSeconds() - started >= seconds {
                throw .invalidResponse(
                    operation: operation, registry: endpoint.host,
                    message:
                        "tag list pagination does not end: still going after \(Self.seconds(seconds)) (\(Int(TransferLimits.tagListDeadlineMultiple)) × the registry's timeout), \(fetched.count - 1) pages and \(tags.count) tags so far"
                )
            }
            let call = Call(operation: operation, repository: repository, scopes: [Self.pullScope(repository)])
            let response = try execute(call) { HTTPRequest(method: "GET", url: pageURL) }
            guard response.status == 200 else { throw failure(response, operation: operation, repository: repository) }
            guard let page = Self.decodeTagPage(response.body) else {
                throw .invalidResponse(operation: operation, registry: endpoint.host, message: "tag list is not valid JSON")
            }
            tags += page
            guard tags.count <= limits.tags else {
                throw .invalidResponse(
                    operation: operation, registry: endpoint.host,
                    message: "the repository lists more than \(limits.tags) tags, more than pushctl will select from")
            }
            next = Self.nextLink(response.headers.values(for: "Link")).map { Self.resolve($0, against: pageURL) }
        }
        return tags
    }

    /// The tags of one `tags/list` page (`{"name": …, "tags": [...]}`; `tags` may be null or
    /// missing on an empty repository); nil when the body is not such JSON. Separate from
    /// `listTags` so the fuzz target can reach the parsing of registry-controlled bytes.
    package static func decodeTagPage(_ body: [UInt8]) -> [String]? {
        guard let page = try? JSONDecoder().decode(TagList.self, from: Data(body)) else { return nil }
        return page.tags ?? []
    }

    /// The target of the `rel="next"` link among `Link` header values (RFC 8288).
    package static func nextLink(_ values: [String]) -> String? {
        for value in values {
            for link in value.split(separator: ",") {
                let parts = link.split(separator: ";").map { String($0).trimmingSpaces() }
                guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">") else { continue }
                let isNext = parts.dropFirst().contains { param in
                    let p = param.replacingOccurrences(of: " ", with: "").lowercased()
                    return p == "rel=\"next\"" || p == "rel=next"
                }
                if isNext { return String(target.dropFirst().dropLast()) }
            }
        }
        return nil
    }
}
