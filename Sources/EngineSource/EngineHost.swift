import Foundation

/// Where the container engine's API listens, as the docker CLI reads it from the environment
/// (https://docs.docker.com/engine/reference/commandline/cli/#environment-variables):
/// `DOCKER_HOST` (default `unix:///var/run/docker.sock`), and for `tcp://` hosts
/// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`, default
/// `~/.docker`). Podman's Docker-compatible service (`podman system service`) is reached the same
/// way. `docker context` is not read.
public enum EngineHost: Sendable, Hashable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int, tls: TLSFiles?)

    /// The client certificate files of a TLS-verified `tcp://` engine.
    public struct TLSFiles: Sendable, Hashable {
        public var caFile: String
        public var certificateFile: String
        public var keyFile: String
    }

    public static let defaultSocket = "/var/run/docker.sock"

    /// The engine the environment names.
    public static func from(environment: [String: String]) throws(EngineError) -> EngineHost {
        let value = environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "unix://\(defaultSocket)"
        if value.hasPrefix("unix://") {
            let path = String(value.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw .invalidHost(value, "a unix socket path must be absolute") }
            return .unixSocket(path: path)
        }
        guard value.hasPrefix("tcp://") else {
            throw .invalidHost(value, "expected unix:///PATH or tcp://HOST:PORT (ssh:// and npipe:// are not supported)")
        }
        let authority = value.dropFirst("tcp://".count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            (1...65535).contains(port), colon > authority.startIndex
        else { throw .invalidHost(value, "expected tcp://HOST:PORT") }
        var host = String(authority[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var tls: TLSFiles?
        if let verify = environment["DOCKER_TLS_VERIFY"], !verify.isEmpty, verify != "0" {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            let folder = environment["DOCKER_CERT_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.docker"
            tls = TLSFiles(caFile: folder + "/ca.pem", certificateFile: folder + "/cert.pem", keyFile: folder + "/key.pem")
        }
        return .tcp(host: host, port: port, tls: tls)
    }

    /// The base URL requests are made against (a unix socket still needs a URL: its host part is
    /// only the `Host` header).
    var baseURL: String {
        switch self {
        case .unixSocket: "http://localhost"
        case .tcp(let host, let port, let tls):
            "\(tls == nil ? "http" : "https")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix://\(path)"
        case .tcp(let host, let port, let tls): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)\(tls == nil ? "" : " (TLS)")"
        }
    }
}
