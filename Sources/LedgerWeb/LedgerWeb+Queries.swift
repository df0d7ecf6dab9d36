import Foundation
import State

/// The query parameters of the listings (docs/web.md), checked: a bad one is 400 with a reason.
extension LedgerWeb {
    static func page(_ query: [String: String]) throws(WebFailure) -> LedgerPage {
        guard let text = query["page"] else { return LedgerPage(number: 1, size: pageSize) }
        guard let number = Int(text), number >= 1, number <= 10_000_000 else {
            throw .badRequest("invalid page \"\(text)\": expected a number from 1")
        }
        return LedgerPage(number: number, size: pageSize)
    }

    static func runQuery(_ query: [String: String]) throws(WebFailure) -> RunQuery {
        RunQuery(
            job: query["job"], kind: query["kind"].map(RunKind.init(rawValue:)), status: query["status"].map(RunStatus.init(rawValue:)),
            page: try page(query))
    }

    static func pushQuery(_ query: [String: String]) throws(WebFailure) -> PushQuery {
        PushQuery(digestPrefix: query["digest"], repository: query["repository"], tag: query["tag"], page: try page(query))
    }

    /// The number of pages `total` rows fill (at least one, so "page 1 of 1" on an empty list).
    static func pages(_ total: Int) -> Int { max(1, (total + pageSize - 1) / pageSize) }

    /// `path?query` with `page` replaced: the pager's links keep the filters.
    static func link(_ path: String, _ query: [String: String], page: Int) -> String {
        var items = query.filter { $0.key != "page" }.map { URLQueryItem(name: $0.key, value: $0.value) }
        if page > 1 { items.append(URLQueryItem(name: "page", value: String(page))) }
        items.sort { $0.name < $1.name }
        var components = URLComponents()
        components.path = path
        components.queryItems = items.isEmpty ? nil : items
        // `+` would read back as a space in a query.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? path
    }

    static func pager(_ path: String, _ query: [String: String], page: LedgerPage, total: Int) -> [String: Any] {
        var pager: [String: Any] = ["number": page.number, "pages": pages(total)]
        if page.number > 1 { pager["newer"] = link(path, query, page: page.number - 1) }
        if page.offset + page.size < total { pager["older"] = link(path, query, page: page.number + 1) }
        return pager
    }
}
