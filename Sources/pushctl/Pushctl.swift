import ArgumentParser

@main
struct Pushctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushctl",
        abstract: "A declarative push-job runner for container images.",
        version: PushctlVersion.current,
        subcommands: [History.self, Show.self, PruneHistory.self]
    )
}

enum PushctlVersion {
    static let current = "0.1.0"
}
