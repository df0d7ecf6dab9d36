import Foundation

/// A fresh folder under the system temp dir for one test: job files, layouts, state database,
/// caches. Removed when the value goes away.
public final class Scratch: @unchecked Sendable {
    public let path: String

    /// `prefix` names the folder (`PREFIX-UUID`), to tell leftovers apart.
    public init(prefix: String = "pushctl-test") throws {
        path = try makeTemporaryDirectory(prefix + "-" + UUID().uuidString)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func sub(_ name: String) -> String { path + "/" + name }

    public var state: String { sub("state.db") }
    public var cache: String { sub("cache") }

    /// Writes a file under the folder and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let file = sub(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Writes a job file `NAME.yaml` and returns its path.
    public func job(_ name: String, _ yaml: String) throws -> String {
        try write(name + ".yaml", yaml)
    }

    /// Writes `spec` as `NAME.yaml` (or `FILE.yaml`) and returns its path.
    public func job(_ spec: JobSpec, file: String? = nil) throws -> String {
        try job(file ?? spec.name, spec.yaml)
    }

    /// The environment pushctl runs with: no user credentials, no user state or cache.
    public var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["REGISTRY_AUTH_FILE", "PUSHCTL_STATE", "XDG_STATE_HOME"] { environment[name] = nil }
        environment["DOCKER_CONFIG"] = sub("no-docker-config")
        // Nor the containers auth files (podman's login) of whoever runs the tests.
        environment["XDG_RUNTIME_DIR"] = sub("no-runtime-dir")
        environment["XDG_CONFIG_HOME"] = sub("no-config-home")
        environment["XDG_CACHE_HOME"] = cache
        return environment
    }
}

/// A fresh folder under the system temp dir, named after the test (`name`), that stays after the
/// test (left for inspection on failure; /tmp is cleaned by the OS).
public func temporaryDirectory(_ name: String = #function, prefix: String = "pushctl-state") throws -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    return try makeTemporaryDirectory("\(prefix)-\(safe)-\(UUID().uuidString.prefix(8))")
}

/// Creates `<temp dir>/NAME` and returns its path.
func makeTemporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
