import CCurl
import CCurlShim
import CLibraryLoader
import Glibc
import Threading
import Synchronization

/// Connection and TLS settings shared by every request of one transport.
public struct CurlConfiguration: Sendable {
    /// Extra trusted CAs (PEM bundle). System trust is kept: CURLOPT_CAINFO points at this file and
    /// CURLOPT_CAPATH at the system hashed-certificate directory, and OpenSSL consults both.
    public var caFile: String?
    public var clientCertificate: String?
    public var clientKey: String?
    /// Skip certificate and host-name verification (only for registries marked `insecure`).
    public var insecureSkipVerify: Bool
    public var connectTimeoutSeconds: Int
    /// A transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTimeSeconds` is abandoned:
    /// the minimum-throughput rule for blob transfers, which may take as long as they keep moving.
    public var lowSpeedLimit: Int
    public var lowSpeedTimeSeconds: Int
    /// Overall deadline of every request that is not a blob transfer (nil: none). Pings, HEADs,
    /// manifests, tag lists, tokens and upload-session steps are small: one that has not
    /// finished in this time is stuck (a server that trickles its answer, a half-dead proxy), and
    /// the low-speed rule alone would let a trickle of a byte a second go on for ever. A blob
    /// transfer is a request that streams its body (`HTTPRequest.Body.stream`) or its response
    /// (`ResponseSink.stream`). `HTTPRequest.timeoutSeconds` overrides both rules.
    public var requestTimeoutSeconds: Double?
    /// A blob transfer during which no byte moves either way for this long is stalled (nil:
    /// only the low-speed rule). libcurl's low-speed check averages over a few seconds, so a
    /// transfer that stops right after a burst (a request body sent, no answer) would otherwise
    /// be noticed only some seconds later than `lowSpeedTimeSeconds`.
    public var idleTimeoutSeconds: Double? = nil
    public var userAgent: String
    public var cancellation: CancellationFlag?
    /// The system CA directory kept trusted next to `caFile`.
    public var systemCAPath: String
    /// Connect to this unix socket instead of the URL's host (the container engine's API:
    /// `DOCKER_HOST=unix:///var/run/docker.sock`); the URL still gives the path and `Host`.
    public var unixSocketPath: String? = nil

    public init(
        caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
        insecureSkipVerify: Bool = false, connectTimeoutSeconds: Int = 30,
        lowSpeedLimit: Int = 1, lowSpeedTimeSeconds: Int = 60,
        userAgent: String = "pushctl", cancellation: CancellationFlag? = nil,
        systemCAPath: String = "/etc/ssl/certs", requestTimeoutSeconds: Double? = 60
    ) {
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.lowSpeedLimit = lowSpeedLimit
        self.lowSpeedTimeSeconds = lowSpeedTimeSeconds
        self.userAgent = userAgent
        self.cancellation = cancellation
        self.systemCAPath = systemCAPath
        self.requestTimeoutSeconds = requestTimeoutSeconds
    }
}

/// libcurl is loaded (CCurlShim: dlopen, when first needed), then `curl_global_init` runs: once,
/// before any other libcurl call and before threads use curl. The value is the loader's message
/// when libcurl cannot be loaded.
private let curlGlobalInit: String? = {
    if let error = pushctl_curl_load() { return String(cString: error) }
    // CURL_GLOBAL_ALL (SSL | WIN32); the macro itself does not import into Swift.
    _ = curl_global_init(3)
    return nil
}()

/// The loader's message, and what to install, when libcurl cannot be loaded.
private func libraryMessage(_ error: String) -> String { "\(error) (install Debian's libcurl4)" }

/// Without libcurl pushctl can send no request at all, so a transport is never made without it:
/// the process stops with the loader's message and exit status 127, as the dynamic loader stops
/// a program whose library is missing (docs/cli.md "Exit codes"). A run that records itself
/// asks `CurlTransport.libraryError` first, so that it ends recorded instead.
private func requireLibcurl() {
    guard let error = curlGlobalInit else { return }
    let line = "pushctl: \(libraryMessage(error))\n"
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(127)
}

/// An easy handle owned by one thread at a time (taken out of the pool while in use).
struct EasyHandle: @unchecked Sendable {  // the pool hands each handle to one thread at a time
    let raw: UnsafeMutableRawPointer
}

/// An HTTP transport on libcurl. Thread-safe: each request borrows an easy handle from a small
/// pool, so connections (and TLS sessions) are reused by later requests to the same host.
public final class CurlTransport: HTTPTransport {
    public let configuration: CurlConfiguration
    private let idle = LockedValue<[EasyHandle]>([])
    private let maxIdleHandles = 16

    /// Why libcurl cannot be loaded (with what to install), or nil once it is loaded and
    /// initialised; waits for a load started by `initialiseInBackground`.
    public static var libraryError: String? { curlGlobalInit.map(libraryMessage) }

    public init(configuration: CurlConfiguration = CurlConfiguration()) {
        requireLibcurl()
        self.configuration = configuration
    }

    /// Starts loading libcurl and its libraries (about 4 ms) and its global initialisation
    /// (OpenSSL's configuration and more, about 0.6 ms) on a thread of its own, so that they
    /// overlap the caller's work before its first request; the first transport made waits for
    /// them to end (a Swift global's initialiser runs once). A library that cannot be loaded is
    /// reported by that first transport, not by this thread.
    public static func initialiseInBackground() {
        let callersCPU = pushctl_current_cpu()
        startDetached(stackSize: 1 << 18) {
            // Beside the caller, not in turns with it on its CPU.
            pushctl_move_off_cpu(callersCPU)
            _ = curlGlobalInit
        }
    }

    /// Returns once libcurl's global initialisation has ended (running it here if no thread has
    /// started it). A process that called `initialiseInBackground` calls this before it exits:
    /// exiting while that thread is inside OpenSSL's initialisation runs OpenSSL's exit-time
    /// cleanup under it, which frees the locks it holds (a SIGSEGV or SIGABRT at exit: 9 of 300
    /// `apply`s of a missing job file before this was added).
    public static func awaitInitialisation() {
        _ = curlGlobalInit
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.raw) }
    }

    private func borrow() -> EasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return curl_easy_init().map { EasyHandle(raw: $0) }
    }

    private func giveBack(_ handle: EasyHandle) {
        let keep = idle.withLock { handles -> Bool in
            guard handles.count < maxIdleHandles else { return false }
            handles.append(handle)
            return true
        }
        if !keep { curl_easy_cleanup(handle.raw) }
    }

    public func perform(
        _ request: HTTPRequest, sink: ResponseSink,
        progress: (@Sendable (Int64) -> Void)?
    ) throws(TransportError) -> HTTPResponse {
        let cancellation = request.ignoresCancellation ? nil : configuration.cancellation
        if let flag = cancellation, flag.isCancelled { throw .cancelled(url: request.url) }
        guard let handle = borrow() else { throw .other(url: request.url, code: -1, message: "curl_easy_init failed") }
        defer { giveBack(handle) }
        // Resetting keeps the handle's connection cache, which is the point of reusing it.
        curl_easy_reset(handle.raw)

        let context = TransferContext(
            request: request, sink: sink, progress: progress,
            cancellation: cancellation)
        if Self.isBlobTransfer(request, sink: sink) { context.idleLimit = configuration.idleTimeoutSeconds }
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            let h = handle.raw
            let userdata = Unmanaged.passUnretained(context).toOpaque()
            _ = pushctl_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            _ = pushctl_curl_setopt_string(h, CURLOPT_URL, request.url)
            _ = pushctl_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            _ = pushctl_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
            _ = pushctl_curl_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
            _ = pushctl_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT, configuration.connectTimeoutSeconds)
            if let limit = request.timeoutSeconds {
                _ = pushctl_curl_setopt_long(h, CURLOPT_TIMEOUT, limit)
            } else if !Self.isBlobTransfer(request, sink: sink), let limit = configuration.requestTimeoutSeconds {
                _ = pushctl_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, Int(limit * 1000)))
            }
            _ = pushctl_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit)
            _ = pushctl_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, configuration.lowSpeedTimeSeconds)
            _ = pushctl_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
            _ = pushctl_curl_setopt_string(h, CURLOPT_USERAGENT, configuration.userAgent)
            // Registries answer uncompressed JSON; an empty string lets curl offer what it decodes.
            _ = pushctl_curl_setopt_string(h, CURLOPT_ACCEPT_ENCODING, "")
            if let socket = configuration.unixSocketPath { _ = pushctl_curl_setopt_string(h, CURLOPT_UNIX_SOCKET_PATH, socket) }
            applyTLS(h)

            switch request.method {
            case "GET":
                _ = pushctl_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
            case "HEAD":
                _ = pushctl_curl_setopt_long(h, CURLOPT_NOBODY, 1)
            case "DELETE" where request.body.length == 0:
                _ = pushctl_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, "DELETE")
            default:
                // Every method with a body (even an empty one) goes through the read callback,
                // with the exact length announced as Content-Length.
                _ = pushctl_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
                _ = pushctl_curl_setopt_off_t(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length))
                _ = pushctl_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method)
                // Larger reads from the source per callback (curl's default is 64 KiB): fewer calls
                // through the verifying stream for multi-gigabyte layers; memory stays bounded.
                _ = pushctl_curl_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
                _ = pushctl_curl_setopt_data_callback(h, CURLOPT_READFUNCTION) { buffer, size, count, userdata in
                    let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                    return context.readBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
                }
                _ = pushctl_curl_setopt_pointer(h, CURLOPT_READDATA, userdata)
            }

            for (name, value) in request.headers {
                headerList = curl_slist_append(headerList, "\(name): \(value)")
            }
            if request.body.length > 0 || request.method == "PUT" || request.method == "PATCH" || request.method == "POST" {
                // No "Expect: 100-continue" round trip (and its one-second stall on some servers).
                headerList = curl_slist_append(headerList, "Expect:")
            }
            _ = pushctl_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headerList)

            _ = pushctl_curl_setopt_data_callback(h, CURLOPT_HEADERFUNCTION) { buffer, size, count, userdata in
                let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                context.receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: size * count))
                return size * count
            }
            _ = pushctl_curl_setopt_pointer(h, CURLOPT_HEADERDATA, userdata)
            _ = pushctl_curl_setopt_data_callback(h, CURLOPT_WRITEFUNCTION) { buffer, size, count, userdata in
                let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                return context.receiveBody(UnsafeRawBufferPointer(start: buffer, count: size * count))
            }
            _ = pushctl_curl_setopt_pointer(h, CURLOPT_WRITEDATA, userdata)
            _ = pushctl_curl_setopt_long(h, CURLOPT_NOPROGRESS, 0)
            _ = pushctl_curl_setopt_xferinfo_callback(h) { userdata, _, downloaded, _, uploaded in
                let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
                return context.onProgress(uploaded: Int64(uploaded), downloaded: Int64(downloaded)) ? 0 : 1
            }
            _ = pushctl_curl_setopt_pointer(h, CURLOPT_XFERINFODATA, userdata)

            return curl_easy_perform(h)
        }

        if code != CURLE_OK {
            let message = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw classify(
                code: code, message: message.isEmpty ? String(cString: curl_easy_strerror(code)) : message,
                context: context, url: request.url)
        }
        var status = 0
        _ = pushctl_curl_getinfo_long(handle.raw, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: context.headers, body: context.body, url: request.url)
    }

    /// Whether a request moves a blob (streams its body or its response): those are bounded by
    /// the minimum-throughput rule only, everything else also by `requestTimeoutSeconds`.
    static func isBlobTransfer(_ request: HTTPRequest, sink: ResponseSink) -> Bool {
        if case .stream = request.body { return true }
        if case .stream = sink { return true }
        return false
    }

    private func applyTLS(_ h: UnsafeMutableRawPointer) {
        if let ca = configuration.caFile {
            _ = pushctl_curl_setopt_string(h, CURLOPT_CAINFO, ca)
            _ = pushctl_curl_setopt_string(h, CURLOPT_CAPATH, configuration.systemCAPath)
        }
        if let cert = configuration.clientCertificate {
            _ = pushctl_curl_setopt_string(h, CURLOPT_SSLCERT, cert)
        }
        if let key = configuration.clientKey {
            _ = pushctl_curl_setopt_string(h, CURLOPT_SSLKEY, key)
        }
        if configuration.insecureSkipVerify {
            _ = pushctl_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            _ = pushctl_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
    }

    private func classify(code: CURLcode, message: String, context: TransferContext, url: String) -> TransportError {
        if context.cancelled { return .cancelled(url: url) }
        if let idle = context.stalledAfter {
            return .timeout(url: url, message: "no data moved for \(idle == idle.rounded() ? String(Int(idle)) : String(idle)) seconds")
        }
        if let error = context.bodyError { return .bodySource(url: url, message: error) }
        if context.bodyTooLarge, case .memory(let limit) = context.sink { return .responseTooLarge(url: url, limit: limit) }
        if let error = context.sinkError { return .responseConsumer(url: url, message: error) }
        switch code.rawValue {
        case 5, 6, 7:  // couldn't resolve proxy / host, couldn't connect
            return .connect(url: url, message: message)
        case 28:
            return .timeout(url: url, message: message)
        case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98:
            return .tls(url: url, message: message)
        case 16, 18, 52, 55, 56, 65, 92:
            // HTTP/2 framing, partial file, empty reply, send/receive failure, rewind needed, stream error.
            return .connectionLost(url: url, message: message)
        default:
            return .other(url: url, code: Int(code.rawValue), message: message)
        }
    }
}

/// State of one transfer, reached from libcurl's C callbacks through their userdata pointer.
/// Only the thread running `curl_easy_perform` touches it.
final class TransferContext {
    let sink: ResponseSink
    let progress: (@Sendable (Int64) -> Void)?
    let cancellation: CancellationFlag?
    private var stream: (any RequestBodyStream)?
    private var remaining: Int64

    var headers = HTTPHeaders()
    var body: [UInt8] = []
    var bodyError: String?
    var sinkError: String?
    var bodyTooLarge = false
    var cancelled = false
    private var lastReported: Int64 = -1
    /// `CurlConfiguration.idleTimeoutSeconds` for a blob transfer; nil for none.
    var idleLimit: Double?
    /// Set when the transfer was aborted because nothing moved for `idleLimit` seconds.
    var stalledAfter: Double?
    private var lastMoved = TransferContext.now()
    private var lastBytes: Int64 = 0

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    init(request: HTTPRequest, sink: ResponseSink, progress: (@Sendable (Int64) -> Void)?, cancellation: CancellationFlag?) {
        self.sink = sink
        self.progress = progress
        self.cancellation = cancellation
        switch request.body {
        case .none: stream = nil
        case .bytes(let bytes): stream = MemoryBodyStream(bytes)
        case .stream(let s, _): stream = s
        }
        remaining = request.body.length
    }

    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let stream, remaining > 0, buffer.count > 0 else { return 0 }
        let window = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(Int64(buffer.count), remaining))])
        do {
            let n = try stream.read(into: window)
            if n == 0 {
                bodyError = "the source ended \(remaining) bytes early"
                return Int(CURL_READFUNC_ABORT)
            }
            remaining -= Int64(n)
            return n
        } catch {
            bodyError = String(describing: error)
            return Int(CURL_READFUNC_ABORT)
        }
    }

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var raw = Array(bytes)
        while let last = raw.last, last == 0x0A || last == 0x0D { raw.removeLast() }
        let line = String(decoding: raw, as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line (after 100 Continue, say): only the last response's headers count.
            headers = HTTPHeaders()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon]).trimmingSpaces()
        let value = String(line[line.index(after: colon)...]).trimmingSpaces()
        headers.add(name, value)
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch sink {
        case .discard:
            return bytes.count
        case .memory(let limit):
            guard body.count + bytes.count <= limit else { bodyTooLarge = true; return 0 }
            body.append(contentsOf: bytes)
            return bytes.count
        case .stream(let consume):
            do { try consume(bytes) } catch { sinkError = String(describing: error); return 0 }
            return bytes.count
        }
    }

    /// False aborts the transfer.
    func onProgress(uploaded: Int64, downloaded: Int64 = 0) -> Bool {
        if let cancellation, cancellation.isCancelled { cancelled = true; return false }
        if let idleLimit {
            let now = Self.now()
            if uploaded + downloaded != lastBytes {
                lastBytes = uploaded + downloaded
                lastMoved = now
            } else if now - lastMoved >= idleLimit {
                stalledAfter = idleLimit
                return false
            }
        }
        if let progress, uploaded != lastReported {
            lastReported = uploaded
            progress(uploaded)
        }
        return true
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (HTTP header values).
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
