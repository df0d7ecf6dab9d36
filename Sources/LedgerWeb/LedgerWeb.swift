import Foundation
import LedgerFormat
import Mustache
import State

/// One answer of the web view, for the HTTP server to send as it is.
public struct LedgerWebResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status; self.contentType = contentType; self.body = body
    }
}

/// What only the running service knows, for `/metrics` (docs/web.md "Metrics").
public struct ServiceFacts: Sendable {
    /// Registry events accepted since the service started.
    public var eventsReceived: Int
    /// Accepted events that named nothing in the jobs (or repeated an event id).
    public var eventsIgnored: Int
    /// Accepted events not yet run.
    public var eventsPending: Int
    public var started: Date
    /// The pushctl version serving.
    public var version: String

    public init(eventsReceived: Int, eventsIgnored: Int, eventsPending: Int, started: Date, version: String) {
        self.eventsReceived = eventsReceived; self.eventsIgnored = eventsIgnored; self.eventsPending = eventsPending
        self.started = started; self.version = version
    }
}

/// The ledger's read-only web view (docs/web.md): HTML pages, the JSON API under `/api/v1/` and
/// `/metrics`, each a function of the request path and query over the ledger. It holds no state
/// of its own, so the server may call it from any number of threads at once.
public final class LedgerWeb: Sendable {
    let ledger: any Ledger
    let service: @Sendable () -> ServiceFacts
    let templates: MustacheLibrary
    /// Rows per page of every listing (runs, pushes).
    static let pageSize = 50

    public init(ledger: any Ledger, service: @escaping @Sendable () -> ServiceFacts) {
        self.ledger = ledger
        self.service = service
        self.templates = WebTemplates.library()
    }

    /// The answer to a GET of `path` (without its query) with the decoded `query` parameters.
    public func respond(path: String, query: [String: String]) -> LedgerWebResponse {
        let route = WebRoute(path: path)
        // Empty parameters (an empty search field) mean "any".
        let query = query.filter { !$0.value.isEmpty }
        do {
            switch route {
            case .runs: return html("runs", try runsPage(query))
            case .run(let id): return html("run", try runPage(id))
            case .pushes: return html("pushes", try pushesPage(query))
            case .drift: return html("drift", try driftPage())
            case .apiRuns: return json(try apiRuns(query))
            case .apiRun(let id): return json(LedgerJSON.detail(try ledger.run(.id(id))))
            case .apiPushes: return json(try apiPushes(query))
            case .apiDrift: return json(try apiDrift())
            case .metrics: return text(try metrics())
            case .notFound: throw WebFailure.notFound(path: path)
            }
        } catch let failure as WebFailure {
            return failed(failure, route: route)
        } catch let error as StateError {
            return failed(WebFailure(error), route: route)
        } catch {
            return failed(.ledgerUnreadable("\(error)"), route: route)
        }
    }

    // MARK: answers

    func html(_ template: String, _ page: [String: Any], status: Int = 200) -> LedgerWebResponse {
        var page = page
        page["ledger"] = ledger.location
        let text = templates.render(page, withTemplate: template) ?? ""
        return LedgerWebResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(text.utf8))
    }

    func json(_ object: [String: Any], status: Int = 200) -> LedgerWebResponse {
        LedgerWebResponse(status: status, contentType: "application/json", body: Array(LedgerJSON.document(object).utf8))
    }

    func text(_ text: String) -> LedgerWebResponse {
        LedgerWebResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }

    func failed(_ failure: WebFailure, route: WebRoute) -> LedgerWebResponse {
        let message = failure.description
        switch route {
        case .apiRuns, .apiRun, .apiPushes, .apiDrift, .notFound(api: true):
            return json(["schema": "pushctl-web-error-v1", "status": failure.status, "error": message], status: failure.status)
        case .metrics:
            return LedgerWebResponse(status: failure.status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8))
        default:
            return html(
                "error", ["title": failure.reason, "code": failure.status, "reason": failure.reason, "message": message],
                status: failure.status)
        }
    }
}

/// The paths the web view answers (docs/web.md); anything else is 404.
enum WebRoute: Equatable {
    case runs, run(RunID), pushes, drift
    case apiRuns, apiRun(RunID), apiPushes, apiDrift
    case metrics
    /// No such page; under `/api/` the 404 is JSON.
    case notFound(api: Bool)

    init(path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let api = parts.starts(with: ["api", "v1"])
        if api { parts.removeFirst(2) }
        func runID(_ text: String) -> RunID? { Int64(text).flatMap { $0 > 0 ? RunID($0) : nil } }
        let notFound = WebRoute.notFound(api: path.hasPrefix("/api/"))
        switch (api, parts.count, parts.first) {
        case (false, 0, _): self = .runs
        case (false, 1, "pushes"): self = .pushes
        case (false, 1, "drift"): self = .drift
        case (false, 1, "metrics"): self = .metrics
        case (false, 2, "runs"): self = runID(parts[1]).map { .run($0) } ?? notFound
        case (true, 1, "runs"): self = .apiRuns
        case (true, 2, "runs"): self = runID(parts[1]).map { .apiRun($0) } ?? notFound
        case (true, 1, "pushes"): self = .apiPushes
        case (true, 1, "drift"): self = .apiDrift
        default: self = notFound
        }
    }
}

/// Why a request got no page; `description` is the text shown (registry text in it is escaped by
/// the templates and the JSON encoder like any other).
enum WebFailure: Error, CustomStringConvertible {
    case notFound(path: String)
    case unknownRun(String)
    case badRequest(String)
    case ledgerUnreadable(String)

    init(_ error: StateError) {
        switch error {
        case .unknownRun(_, let run): self = .unknownRun(run)
        case .invalidDigestPrefix, .ambiguousDigest: self = .badRequest(error.description)
        default: self = .ledgerUnreadable(error.description)
        }
    }

    var status: Int {
        switch self {
        case .notFound, .unknownRun: 404
        case .badRequest: 400
        case .ledgerUnreadable: 500
        }
    }

    var reason: String {
        switch status {
        case 404: "Not Found"
        case 400: "Bad Request"
        default: "Internal Server Error"
        }
    }

    var description: String {
        switch self {
        case .notFound(let path): "no page at \(path)"
        case .unknownRun(let run): "no run \(run) in the ledger"
        case .badRequest(let reason): reason
        case .ledgerUnreadable(let reason): "the ledger could not be read: \(reason)"
        }
    }
}
