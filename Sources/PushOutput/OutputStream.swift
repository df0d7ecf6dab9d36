import Foundation
import Threading

/// Where rendered text goes: standard output or error, or memory in tests. Writes are whole
/// strings under one lock so that lines from different threads never mix.
public final class TextSink: Sendable {
    private let write: @Sendable (String) -> Void
    private let lock = Lock()

    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    public func callAsFunction(_ text: String) {
        lock.withLock { write(text) }
    }

    public static let standardOutput = TextSink { text in
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    public static let standardError = TextSink { text in
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Collects text in memory (tests).
    public static func memory() -> (TextSink, @Sendable () -> String) {
        let buffer = LockedValue("")
        let sink = TextSink { text in buffer.withLock { $0 += text } }
        return (sink, { buffer.withLock { $0 } })
    }
}

enum Format {
    /// `12.3 MB`, decimal units as docker prints sizes.
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A retry's wait as it will really be: whole seconds when it is one (`1`), else tenths
    /// (`0.8`, `2.3`) — rounding a jittered 0.8 s up to "1" would not match the wait.
    static func delay(_ t: TimeInterval) -> String {
        abs(t - t.rounded()) < 0.05 ? String(Int(t.rounded())) : String(format: "%.1f", t)
    }

    /// "0.4s", "59.9s", "1m05s". Built by hand, not with `String(format:)`: the summary line is
    /// printed by every run, and the first `CVarArg` cast of a process costs a scan of all the
    /// binary's protocol conformances (≈ 0.2 ms of a 25 ms rerun, docs/performance.md).
    static func seconds(_ t: TimeInterval) -> String {
        guard t < 60 else {
            let whole = Int(t)
            let rest = whole % 60
            return "\(whole / 60)m\(rest < 10 ? "0" : "")\(rest)s"
        }
        let tenths = Int((max(0, t) * 10).rounded(.toNearestOrEven))
        return "\(tenths / 10).\(tenths % 10)s"
    }
}
