import Foundation
import SQLite

/// A registry push event `pushctl serve` accepted (docs/serve.md "Registry events", docs/state.md
/// "Events"): stored before the hook answers, then `ran` by a run or `ignored`.
public struct EventRecord: Sendable, Equatable {
    public var id: String
    public var received: Date
    public var action: String
    public var repository: String
    public var tag: String?
    public var digest: String?
    public var host: String?
    public var status: EventStatus
    public var runID: RunID?

    public init(
        id: String, received: Date, action: String, repository: String, tag: String?, digest: String?, host: String?,
        status: EventStatus = .pending, runID: RunID? = nil
    ) {
        self.id = id
        self.received = received
        self.action = action
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.host = host
        self.status = status
        self.runID = runID
    }
}

/// Where an accepted event stands.
public enum EventStatus: String, Sendable, Codable, CaseIterable {
    /// Stored, not yet run: `serve` runs pending events when it starts.
    case pending
    /// A run of the items it matched took it (`run_id`).
    case ran
    /// Nothing in the jobs reads its repository and tag.
    case ignored
}

extension StateStore {
    /// Stores the events not stored before (by id) in one transaction; returns the ids that were
    /// new. A repeated id (the registry retries a delivery) changes nothing.
    public func recordEvents(_ events: [EventRecord]) throws(StateError) -> [String] {
        try write { c in
            var added: [String] = []
            for event in events {
                try c.run(
                    """
                    INSERT INTO events (id, received, action, repository, tag, digest, host, status, run_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    """,
                    [
                        event.id, event.received.timeIntervalSince1970, event.action, event.repository, event.tag, event.digest,
                        event.host, event.status.rawValue, event.runID?.rawValue
                    ])
                if c.changes > 0 { added.append(event.id) }
            }
            return added
        }
    }

    /// Events still `pending`, oldest first.
    public func pendingEvents() throws(StateError) -> [EventRecord] {
        try events(where: "status = ?", [EventStatus.pending.rawValue], limit: nil)
    }

    /// The newest events, newest first (at most `limit`).
    public func recentEvents(limit: Int) throws(StateError) -> [EventRecord] {
        try events(where: "1 = 1", [], limit: limit)
    }

    /// Marks events `ran` (with their run) or `ignored`.
    public func markEvents(_ ids: [String], status: EventStatus, run: RunID?) throws(StateError) {
        try write { c in
            for id in ids {
                try c.run("UPDATE events SET status = ?, run_id = ? WHERE id = ?", [status.rawValue, run?.rawValue, id])
            }
        }
    }

    /// The ids of the events a run ran, oldest first (`show` of an `event` run lists them).
    public func eventIDs(run: RunID) throws(StateError) -> [String] {
        try read { c in
            try c.query("SELECT id FROM events WHERE run_id = ? ORDER BY received, id", [run.rawValue]) { row in
                try row.string(0)
            }
        }
    }

    /// How many events stand in each status.
    public func eventCounts() throws(StateError) -> [EventStatus: Int] {
        let rows = try read { c in
            try c.query("SELECT status, COUNT(*) FROM events GROUP BY status") { row in
                (try row.string(0), Int(try row.int64(1)))
            }
        }
        var counts: [EventStatus: Int] = [:]
        for (status, count) in rows { if let status = EventStatus(rawValue: status) { counts[status] = count } }
        return counts
    }

    private func events(where condition: String, _ values: [any SQLiteBindable], limit: Int?) throws(StateError) -> [EventRecord] {
        let order = limit == nil ? "received ASC, id ASC" : "received DESC, id DESC"
        let limitClause = limit.map { " LIMIT \(max(0, $0))" } ?? ""
        return try read { c in
            try c.query(
                """
                SELECT id, received, action, repository, tag, digest, host, status, run_id FROM events
                WHERE \(condition) ORDER BY \(order)\(limitClause)
                """, values
            ) { row in
                EventRecord(
                    id: try row.string(0), received: Date(timeIntervalSince1970: try row.double(1)), action: try row.string(2),
                    repository: try row.string(3), tag: try row.optionalString(4), digest: try row.optionalString(5),
                    host: try row.optionalString(6), status: EventStatus(rawValue: try row.string(7)) ?? .pending,
                    runID: try row.optionalInt64(8).map { RunID($0) })
            }
        }
    }
}
