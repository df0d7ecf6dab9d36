import Foundation
import RegistryHarness
import Testing

/// `apply` on a terminal (`--output auto` picks `tty`): the live area is drawn with ANSI control
/// codes and the permanent lines are docker's. Run under util-linux `script` for a real pty.
@Suite(.serialized) struct ApplyTerminalTests {
    @Test func autoOutputOnATerminalDrawsLiveBars() throws {
        let registry = try RegistryServer.start(.plain)
        defer { registry.stop() }
        let scratch = try Scratch()
        let command =
            "QUICKSTART_REGISTRY=\(registry.baseURL) PUSHCTL_STATE=\(scratch.state) HOME=\(scratch.path) "
            + "'\(pushctlBinary)' apply examples/quickstart.yaml"
        let r = try run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["TERM": "xterm", "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\u{1B}[2K"), "the live area is redrawn in place")
        #expect(r.stdout.contains("quickstart/hello"))
        #expect(r.stdout.contains("1.0: digest: sha256:"))
        #expect(r.stdout.contains("Summary: 1 pushed, 0 unchanged, 0 failed"))

        let plain = try run(
            pushctlBinary, ["apply", "examples/quickstart.yaml"],
            environment: quickstartEnvironment(registry, scratch))
        #expect(plain.status == 0)
        #expect(!plain.stdout.contains("\u{1B}"), "not a terminal: plain lines, no control codes")
        #expect(plain.stdout.contains("unchanged"))
    }
}
