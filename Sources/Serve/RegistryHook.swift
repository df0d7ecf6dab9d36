import Foundation
import Hummingbird
import State
import Threading

/// `POST /hooks/registry` (docs/serve.md "Registry events"): authenticates the registry, stores
/// the push events in the ledger — before answering, so a crash after a 202 loses none — and
/// hands them to the runner.
struct RegistryHook: Sendable {
    /// The bearer token from `--hook-token-file`; nil: hooks are refused.
    let token: String?
    let ledger: any Ledger
    let jobs: JobSet
    let runner: Runner
    let log: ServeLog
    let counters: LockedValue<ServiceCounters>
    let maxBodyBytes: Int

    func handle(_ request: Request) async -> Response {
        guard let token else {
            return Self.text(.forbidden, "hooks are disabled: serve was started without --hook-token-file\n")
        }
        guard let given = Self.bearer(request.headers[.authorization]), Self.equalInConstantTime(given, token) else {
            // Said without the token either way: neither the expected nor the given one is logged.
            log.line("hook: refused a request without the right bearer token")
            var response = Self.text(.unauthorized, "a valid Authorization: Bearer token is required\n")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard let type, RegistryEvents.contentTypes.contains(type) else {
            return Self.text(.unsupportedMediaType, "the body must be \(RegistryEvents.contentTypes.joined(separator: " or "))\n")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            return Self.text(.contentTooLarge, "the body is larger than \(maxBodyBytes) bytes\n")
        }
        let parsed: (events: [EventRecord], skipped: Int)
        do throws(HookBodyError) {
            parsed = try RegistryEvents.parse(Array(body.readableBytesView), received: Date())
        } catch {
            log.line("hook: refused a body: \(error)")
            return Self.text(.badRequest, "\(error)\n")
        }
        // Matched now against the jobs loaded now: an event for nothing is stored as `ignored`.
        let current = jobs.jobs
        var events = parsed.events
        for index in events.indices where !current.contains(where: { !RegistryEvents.items(of: $0, matching: events[index]).isEmpty }) {
            events[index].status = .ignored
        }
        let added: Set<String>
        do {
            let ledger = ledger
            let toRecord = events
            added = Set(try await blockingWork { () throws(StateError) in try ledger.recordEvents(toRecord) }.get())
        } catch {
            log.line("error: hook: storing events: \(error)")
            return Self.text(.internalServerError, "the events could not be stored\n")
        }
        let new = events.filter { added.contains($0.id) }
        let pending = new.filter { $0.status == .pending }
        let ignored = new.filter { $0.status == .ignored }
        counters.withLock { counters in
            counters.eventsReceived += new.count
            counters.eventsIgnored += parsed.skipped
        }
        if !ignored.isEmpty { runner.markIgnored(ignored) }
        if !pending.isEmpty {
            log.line(
                "hook: accepted \(pending.count) push event\(pending.count == 1 ? "" : "s"): \(pending.map(Self.describe).joined(separator: ", "))"
            )
            runner.add(events: pending)
        }
        let answer = """
            {"accepted":\(pending.count),"ignored":\(ignored.count + parsed.skipped),"repeated":\(events.count - new.count)}

            """
        return Response(
            status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
    }

    static func describe(_ event: EventRecord) -> String {
        "\(event.id) (\(event.host.map { $0 + "/" } ?? "")\(event.repository):\(event.tag ?? ""))"
    }

    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// Compares without stopping at the first difference, so the answer's timing says nothing
    /// about how much of a guessed token was right.
    static func equalInConstantTime(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// At most `limit` requests are handled at once; more get 503 at once instead of queueing
/// without bound (docs/serve.md "Limits").
struct RequestLimit<Context: RequestContext>: RouterMiddleware {
    let limit: Int
    let active = LockedValue(0)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let admitted = active.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else {
            var response = RegistryHook.text(.serviceUnavailable, "too many requests at once\n")
            response.headers[.retryAfter] = "1"
            return response
        }
        defer { active.withLock { $0 -= 1 } }
        return try await next(request, context)
    }
}
