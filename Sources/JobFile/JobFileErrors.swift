import SafeText
import YAML

/// One problem in a job file, printed as `FILE:LINE:COLUMN: error: MESSAGE` (docs/jobfile.md "Errors in job files").
public struct JobFileProblem: Sendable, Hashable, CustomStringConvertible {
    public var location: Location
    public var message: String

    /// Values from the file are echoed in messages: a carriage return or an escape sequence in
    /// one must not drive the terminal or forge a log line, so control characters are escaped as
    /// in registry text (`DisplayText`, e.g. `\x1b`, `\x0d`).
    public init(location: Location, message: String) {
        self.location = location
        self.message = DisplayText.escapingControlCharacters(message)
    }

    public var description: String { "\(location): error: \(message)" }
}

/// Every problem found in a job file, in file order.
public struct JobFileErrors: Error, Sendable, CustomStringConvertible {
    public var problems: [JobFileProblem]

    public init(problems: [JobFileProblem]) {
        self.problems = problems.sorted {
            ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column)
        }
    }

    /// One located line per problem.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
