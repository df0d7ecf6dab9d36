/// Job files that name a test registry.
extension JobSpec {
    /// `server` as the registry `name`, with its credentials (`auth:`) when it has any.
    public func registry(_ name: String, _ server: RegistryServer, extra: [String] = []) -> JobSpec {
        var lines = extra
        if let user = server.username, let password = server.password {
            lines += ["auth:", "  username: \(user)", "  password: \(password)"]
        }
        return registry(name, url: server.baseURL, extra: lines)
    }
}
