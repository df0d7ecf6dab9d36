import Dispatch
import Foundation
import Hummingbird
import JobFile
import LedgerWeb
import Logging
import Run
import ServiceLifecycle
import State
import Threading

/// `pushctl serve`'s settings (docs/serve.md "Command").
public struct ServeOptions: Sendable {
    public var listen: ListenAddress
    public var ledger: LedgerLocation
    public var jobFiles: [String]
    /// `--hook-token-file`; nil: `POST /hooks/registry` is refused (403).
    public var hookTokenFile: String?
    public var environment: [String: String]
    /// Largest request body accepted (413 above).
    public var maxBodyBytes = 1 << 20
    /// Requests handled at once (503 above).
    public var maxConcurrentRequests = 64
    /// Events are coalesced: a run starts once none arrived for `coalesceQuiet` seconds, at most
    /// `coalesceMaxWait` seconds after the first.
    public var coalesceQuiet: TimeInterval = 2
    public var coalesceMaxWait: TimeInterval = 10

    public init(listen: ListenAddress, ledger: LedgerLocation, jobFiles: [String], hookTokenFile: String?, environment: [String: String]) {
        self.listen = listen
        self.ledger = ledger
        self.jobFiles = jobFiles
        self.hookTokenFile = hookTokenFile
        self.environment = environment
    }
}

/// `--listen HOST:PORT` (`[::1]:8080` for IPv6; port 0 picks a free port, logged at start).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public static let standard = ListenAddress(host: "127.0.0.1", port: 8080)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ServeError) {
        var host: Substring
        var port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .listen(text) }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .listen(text) }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { throw .listen(text) }
        self.host = String(host)
        self.port = number
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why `serve` could not start.
public enum ServeError: Error, Sendable, CustomStringConvertible {
    case jobs(JobFileErrors)
    case listen(String)
    case tokenFile(path: String, reason: String)
    case state(StateError)
    case server(String)

    public var description: String {
        switch self {
        case .jobs(let errors): errors.description
        case .listen(let text): "--listen '\(text)' is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080)"
        case .tokenFile(let path, let reason): "--hook-token-file \(path): \(reason)"
        case .state(let error): error.description
        case .server(let why): "the HTTP server stopped: \(why)"
        }
    }

    /// docs/cli.md "Exit codes": bad input is 2, a state database another apply holds is not
    /// possible here (the lock is taken per run), anything else 1.
    public var exitStatus: ExitStatus {
        switch self {
        case .jobs, .listen, .tokenFile: .invalidInput
        case .state, .server: .failed
        }
    }
}

/// The long-running process (docs/serve.md).
public enum Serve {
    /// Runs until SIGTERM or SIGINT (returns normally: exit 0) or until the server cannot go on
    /// (throws). SIGHUP reloads the job files.
    public static func run(_ options: ServeOptions, clock: any ServeClock = SystemClock(), log: ServeLog = ServeLog()) throws(ServeError) {
        let jobs: [Job]
        switch JobSet.load(options.jobFiles, environment: options.environment) {
        case .success(let loaded): jobs = loaded
        case .failure(let errors): throw .jobs(errors)
        }
        let token = try options.hookTokenFile.map { path throws(ServeError) in try readToken(path) }
        let ledger: any Ledger
        do { ledger = try options.ledger.openForWriting() } catch { throw .state(error) }

        let jobSet = JobSet(paths: options.jobFiles, environment: options.environment, jobs: jobs)
        let counters = LockedValue(ServiceCounters())
        let runner = Runner(
            ledger: ledger, jobs: jobSet, log: log, clock: clock,
            board: RunBoard(quiet: options.coalesceQuiet, maxWait: options.coalesceMaxWait), counters: counters)
        let scheduler = LockedValue(Scheduler(jobs: jobSet.schedules, now: clock.now()))
        log.line(
            "serve: \(jobs.count) job\(jobs.count == 1 ? "" : "s") loaded (\(jobSet.schedules.count) scheduled), state \(ledger.location)"
                + (token == nil ? "; registry hooks disabled (no --hook-token-file)" : ""))

        runner.start()
        // Events accepted before a stop or a crash run now.
        do {
            let pending = try ledger.pendingEvents()
            if !pending.isEmpty {
                log.line("serve: \(pending.count) pending event\(pending.count == 1 ? "" : "s") from before the start")
                runner.add(events: pending)
            }
        } catch {
            log.line("error: reading pending events: \(error)")
        }

        let stop = LockedValue<ServeError??>(nil)
        func finish(_ error: ServeError?) {
            stop.withLock { if $0 == nil { $0 = .some(error) } }
            stop.broadcast()
        }

        // Signals: TERM and INT stop, HUP reloads (docs/serve.md "Signals").
        let signalQueue = DispatchQueue(label: "pushctl.serve.signals")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                if number == SIGHUP {
                    reload(jobSet, scheduler: scheduler, clock: clock, log: log)
                } else {
                    log.line(
                        "serve: \(number == SIGINT ? "interrupt" : "terminated"): stopping (a run in progress is recorded interrupted)")
                    finish(nil)
                }
            }
            source.resume()
            sources.append(source)
        }
        defer {
            for source in sources { source.cancel() }
            for number in [SIGTERM, SIGINT, SIGHUP] { signal(number, SIG_DFL) }
        }

        // The scheduler's tick: which jobs came due since the last one.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "pushctl.serve.scheduler"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(250))
        timer.setEventHandler {
            let now = clock.now()
            for due in scheduler.withLock({ $0.due(at: now) }) { runner.scheduleDue(due) }
        }
        timer.resume()
        defer { timer.cancel() }

        let hook = RegistryHook(
            token: token, ledger: ledger, jobs: jobSet, runner: runner, log: log, counters: counters, maxBodyBytes: options.maxBodyBytes)
        let view = ledgerView(ledger: ledger, counters: counters)
        let router = Routes.make(hook: hook, view: view, maxConcurrentRequests: options.maxConcurrentRequests)
        // Hummingbird's own log says only what goes wrong: `serve`'s log has its lines.
        var logger = Logger(label: "pushctl.serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(options.listen.host, port: options.listen.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.listen.port
                log.line("serve: listening on http://\(ListenAddress(host: options.listen.host, port: port))")
            },
            logger: logger)
        // The server runs in a service group so that it stops gracefully (requests in progress
        // answered) when `serve` stops; the signals are `serve`'s, not the group's.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger))
        let ended = LockedValue(false)
        Task {
            do {
                try await group.run()
                finish(nil)
            } catch {
                finish(.server("\(error)"))
            }
            ended.withLock { $0 = true }
            ended.broadcast()
        }
        let outcome = stop.withLock(whenReady: { $0 != nil }) { $0! }
        runner.stop()
        Task { await group.triggerGracefulShutdown() }
        ended.withLock(whenReady: { $0 }) { _ in }
        if let error = outcome { throw error }
        log.line("serve: stopped")
    }

    private static func reload(_ jobs: JobSet, scheduler: LockedValue<Scheduler>, clock: any ServeClock, log: ServeLog) {
        switch jobs.reload() {
        case .success(let loaded):
            scheduler.withLock { $0.replace(jobs: jobs.schedules, now: clock.now()) }
            log.line("serve: reloaded \(loaded.count) job\(loaded.count == 1 ? "" : "s") (SIGHUP)")
        case .failure(let errors):
            log.line("error: reload (SIGHUP) kept the jobs loaded before: \(errors.description)")
        }
    }

    /// The hook token: the file's content without surrounding whitespace, never printed.
    static func readToken(_ path: String) throws(ServeError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .tokenFile(path: path, reason: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .tokenFile(path: path, reason: "is not UTF-8 text") }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .tokenFile(path: path, reason: "is empty") }
        guard !token.contains(where: \.isWhitespace) else { throw .tokenFile(path: path, reason: "holds more than one word") }
        return token
    }
}

/// `serve`'s routes: its own (`/healthz`, `/hooks/registry`) and every other GET to the view.
enum Routes {
    static func make(hook: RegistryHook, view: @escaping ViewHandler, maxConcurrentRequests: Int) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(RequestLimit(limit: maxConcurrentRequests))
        router.get("/healthz") { _, _ in RegistryHook.text(.ok, "ok\n") }
        router.post("/hooks/registry") { request, _ in await hook.handle(request) }
        let delegate: @Sendable (Request, BasicRequestContext) async -> Response = { request, _ in
            var parameters: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
            let path = request.uri.path
            let query = parameters
            let answer = await blockingWork { () throws(Never) in view(path, query) }.get()
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: [.contentType: answer.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        router.get("/", use: delegate)
        router.get("**", use: delegate)
        return router
    }
}

/// Every GET that is not `serve`'s own route goes to the ledger's read-only view (docs/web.md),
/// told what only the running service knows (its event counters, start time, version).
private func ledgerView(ledger: any Ledger, counters: LockedValue<ServiceCounters>) -> ViewHandler {
    let started = Date()
    let web = LedgerWeb(ledger: ledger) {
        let now = counters.withLock { $0 }
        return ServiceFacts(
            eventsReceived: now.eventsReceived, eventsIgnored: now.eventsIgnored, eventsPending: now.eventsPending, started: started,
            version: PushctlVersion.current)
    }
    return { path, query in
        let answer = web.respond(path: path, query: query)
        return ServeViewResponse(status: answer.status, contentType: answer.contentType, body: answer.body)
    }
}

/// Runs `work` (ledger reads and writes: blocking C calls into SQLite or libpq) on a Dispatch
/// worker thread, so that Hummingbird's event-loop threads never wait on the database
/// (docs/concurrency.md); the request limit bounds how many run at once.
func blockingWork<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async -> Result<T, E> {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: Result { () throws(E) in try work() })
        }
    }
}
