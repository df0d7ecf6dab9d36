@testable import PushOutput
import Foundation
import Testing

@Suite struct FormatTests {
    /// `Format.seconds` is written by hand; it says what `String(format: "%.1fs")` said, for
    /// durations of every size a run has (a grid of 6,000 values up to a minute, none on a tie).
    @Test func secondsReadAsPrintfsOneDecimal() {
        var differing: [String] = []
        for step in 0..<6_000 {
            let t = Double(step) * 0.00999 + 0.0003
            let expected = String(format: "%.1fs", t)
            if Format.seconds(t) != expected { differing.append("\(t): \(Format.seconds(t)) != \(expected)") }
        }
        #expect(differing.isEmpty, "\(differing.prefix(5))")
        #expect(Format.seconds(0) == "0.0s")
        #expect(Format.seconds(0.04) == "0.0s")
        #expect(Format.seconds(0.06) == "0.1s")
        #expect(Format.seconds(59.94) == "59.9s")
        #expect(Format.seconds(60) == "1m00s")
        #expect(Format.seconds(65.7) == "1m05s")
        #expect(Format.seconds(3_725) == "62m05s")
    }
}
