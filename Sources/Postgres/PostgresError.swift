import Foundation

/// A failure reported by libpq or the server. Messages never carry the connection string:
/// libpq can echo conninfo parts (host, user, and with `password=` the password) in its
/// connection errors, so every message is passed through `PostgresError.scrub` first.
public enum PostgresError: Error, Equatable, Sendable {
    /// The connection could not be made (server unreachable, authentication failed, …).
    case connect(target: String, message: String, authentication: Bool)
    /// A statement failed on the server. `sqlState` is the five-character SQLSTATE.
    case statement(sql: String, sqlState: String, message: String)
    /// The connection broke (server restart, network); the statement may not have run.
    case connectionLost(target: String, message: String)
    /// A column did not hold the type the caller asked for.
    case columnType(sql: String, column: Int, expected: String, found: String)

    /// True when the server refused the credentials (SQLSTATE 28P01/28000, or libpq's own
    /// "password authentication failed" / "no password supplied").
    public var isAuthentication: Bool {
        if case .connect(_, _, let authentication) = self { return authentication }
        return false
    }

    /// Unique violation (23505), serialization failure (40001) and deadlock (40P01) say so.
    public var sqlState: String? {
        if case .statement(_, let state, _) = self { return state }
        return nil
    }

    /// Removes anything that looks like a password from a libpq message: `password=…` conninfo
    /// parts and the userinfo of URLs (`postgres://user:secret@host`).
    public static func scrub(_ message: String, secrets: [String] = []) -> String {
        var text = message
        for secret in secrets where !secret.isEmpty { text = text.replacingAll(secret, with: "***") }
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: "password=") {
            out += rest[..<range.upperBound] + "***"
            rest = rest[range.upperBound...].drop { !$0.isWhitespace && $0 != "'" }
        }
        out += rest
        // scheme://user:secret@ → scheme://user:***@
        var result = ""
        var scan = Substring(out)
        while let scheme = scan.range(of: "://") {
            result += scan[..<scheme.upperBound]
            scan = scan[scheme.upperBound...]
            let authority = scan.prefix { $0 != "/" && !$0.isWhitespace }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += scan[..<colon] + ":***"
                scan = scan[at...]
            }
        }
        return (result + scan).trimmingTrailingNewlines()
    }
}

extension PostgresError: CustomStringConvertible {
    public var description: String {
        switch self {
        // The target is left to the caller, which names the ledger already (StateError).
        case .connect(_, let message, _): "cannot connect to PostgreSQL: \(message)"
        case .statement(let sql, let state, let message): "PostgreSQL error \(state): \(message) (in: \(sql))"
        case .connectionLost(_, let message): "lost the connection to PostgreSQL: \(message)"
        case .columnType(let sql, let column, let expected, let found):
            "PostgreSQL column \(column) holds \(found), expected \(expected) (in: \(sql))"
        }
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var out = "", rest = Substring(self)
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }

    fileprivate func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last == "\n" || s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
