import Foundation

/// Debian's Chromium, headless, for tests of the web view: the DOM it builds from a page, and a
/// screenshot. Each call is one browser with its own profile folder under `scratch`; it runs under
/// coreutils' `timeout`, which SIGKILLs the browser's whole process group if it hangs.
public struct HeadlessChromium: Sendable {
    public let executable = "/usr/bin/chromium"
    public let profile: String
    public let timeoutSeconds: Int

    /// `scratch` holds the browser's profile (`--user-data-dir`).
    public init(scratch: Scratch, timeoutSeconds: Int = 90) {
        profile = scratch.sub("chromium-profile")
        self.timeoutSeconds = timeoutSeconds
    }

    /// The DOM after the page loaded (and ran any script it has), serialized (`--dump-dom`).
    public func dumpDOM(_ url: String) throws -> String {
        try run(["--dump-dom", url])
    }

    /// Writes a PNG of the page as a window of `width`×`height` shows it.
    public func screenshot(_ url: String, to png: String, width: Int = 412, height: Int = 915) throws {
        try? FileManager.default.removeItem(atPath: png)
        try run(["--screenshot=\(png)", "--window-size=\(width),\(height)", "--hide-scrollbars", url])
        guard FileManager.default.fileExists(atPath: png) else {
            throw HarnessError.toolFailed("chromium --screenshot \(url)", status: 0, stderr: "no screenshot written at \(png)")
        }
    }

    @discardableResult
    private func run(_ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw HarnessError.missingTool(executable) }
        // As root Chromium needs --no-sandbox; no GPU, no first-run or crash-report side trips.
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-breakpad", "--disable-extensions",
            "--user-data-dir=\(profile)"
        ]
        return try TestTools.runChecked(
            try TestTools.path("timeout"), ["-s", "KILL", String(timeoutSeconds), executable] + flags + arguments)
    }
}
