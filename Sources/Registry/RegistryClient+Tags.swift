import Curl
import Foundation

extension RegistryClient {
    private struct TagList: Decodable {
        var tags: [String]?
    }

    /// `GET /v2/NAME/tags/list`, following `Link: <…>; rel="next"` pages. `pageSize` sets `?n=`
    /// (tests use it to force several pages).
    public func listTags(_ repository: String, pageSize: Int? = nil) throws(RegistryError) -> [String] {
        let operation = "list tags"
        var next: String? = url(repository, "tags/list") + (pageSize.map { "?n=\($0)" } ?? "")
        var tags: [String] = []
        var pages = 0
        while let pageURL = next {
            pages += 1
            guard pages <= 10_000 else {
                throw .invalidResponse(operation: operation, registry: endpoint.host, message: "tag list pagination does not end")
            }
            let call = Call(operation: operation, repository: repository, scopes: [Self.pullScope(repository)])
            let response = try execute(call) { HTTPRequest(method: "GET", url: pageURL) }
            guard response.status == 200 else { throw failure(response, operation: operation, repository: repository) }
            guard let page = try? JSONDecoder().decode(TagList.self, from: Data(response.body)) else {
                throw .invalidResponse(operation: operation, registry: endpoint.host, message: "tag list is not valid JSON")
            }
            tags += page.tags ?? []
            next = Self.nextLink(response.headers.values(for: "Link")).map { Self.resolve($0, against: pageURL) }
        }
        return tags
    }

    /// The target of the `rel="next"` link among `Link` header values (RFC 8288).
    static func nextLink(_ values: [String]) -> String? {
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
