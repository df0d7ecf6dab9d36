import SafeText

/// Why the container engine could not give an image (docs/image-sources.md "docker-daemon").
public enum EngineError: Error, Sendable, Equatable {
    /// `DOCKER_HOST` cannot be used.
    case invalidHost(String, String)
    /// Nothing answers at the engine's address (no socket, connection refused).
    case unreachable(host: String, reason: String)
    /// The socket exists but this user may not use it.
    case permissionDenied(host: String)
    /// The engine has no image of that name; `closest` are names it has that look alike.
    case imageNotFound(name: String, closest: [String])
    /// The engine answered an error of its own.
    case engine(host: String, status: Int, message: String)
    /// The engine's answer is not what its API promises.
    case invalidAnswer(host: String, what: String)
    /// The export stopped before its end (the engine went away, the connection dropped).
    case exportFailed(name: String, reason: String)
    /// Writing the export to the spool file failed.
    case spool(path: String, reason: String)
}

extension EngineError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidHost(let value, let why): "DOCKER_HOST=\(DisplayText.safe(value)) cannot be used: \(why)"
        case .unreachable(let host, let reason):
            "no container engine answers at \(host) (\(reason)); start docker or `podman system service`, or set DOCKER_HOST"
        case .permissionDenied(let host):
            "permission denied on the container engine's socket \(host); run as a user who may use it (the docker group, or root)"
        case .imageNotFound(let name, let closest):
            "the container engine has no image \(DisplayText.safe(name))"
                + (closest.isEmpty ? "" : "; closest it has: \(closest.map(DisplayText.safe).joined(separator: ", "))")
        case .engine(let host, let status, let message): "the container engine at \(host) answered \(status): \(DisplayText.safe(message))"
        case .invalidAnswer(let host, let what): "the container engine at \(host) gave an invalid answer: \(what)"
        case .exportFailed(let name, let reason): "exporting \(DisplayText.safe(name)) from the container engine failed: \(reason)"
        case .spool(let path, let reason): "writing the engine's export to \(path) failed: \(reason)"
        }
    }
}
