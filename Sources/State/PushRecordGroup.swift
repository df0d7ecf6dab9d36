import Threading

/// Group commit of push rows: pushes that finish while another push's rows are being written are
/// written together in the next transaction, so a run of many small pushes pays one commit (one
/// WAL sync, about 0.8 ms on the development machine) per group instead of one per push
/// (docs/state.md "Group commit", docs/performance.md). Each `record` still returns only when its
/// own rows are committed, and throws that write's error: nothing is deferred past the push.
public final class PushRecordGroup: Sendable {
    private struct Queue {
        var next = 0
        /// Rows waiting for a writer, by caller.
        var pending: [(id: Int, records: [PushRecord])] = []
        var writing = false
        /// Outcomes of written groups, by caller, until the caller takes its own.
        var done: [Int: StateError?] = [:]
    }

    private let ledger: any Ledger
    private let queue = LockedValue(Queue())

    public init(ledger: any Ledger) {
        self.ledger = ledger
    }

    public func record(_ records: [PushRecord]) throws(StateError) {
        let id = queue.withLock { q in
            defer { q.next += 1 }
            q.pending.append((q.next, records))
            return q.next
        }
        while true {
            // Wait until this caller's rows are written, or nobody is writing and it can write.
            let group: [(id: Int, records: [PushRecord])]? = queue.withLock(whenReady: { $0.done[id] != nil || !$0.writing }) { q in
                if q.done[id] != nil { return nil }
                q.writing = true
                defer { q.pending = [] }
                return q.pending
            }
            guard let group else { break }
            let outcomes = write(group)
            queue.withLock { q in
                for (id, outcome) in outcomes { q.done[id] = outcome }
                q.writing = false
            }
            queue.broadcast()
        }
        if let error = queue.withLock({ $0.done.removeValue(forKey: id) }) ?? nil { throw error }
    }

    /// One transaction for the group; if it fails, each caller's rows alone, so that every push
    /// gets the outcome of its own write, as without grouping.
    private func write(_ group: [(id: Int, records: [PushRecord])]) -> [(Int, StateError?)] {
        do throws(StateError) {
            try ledger.recordPushes(group.flatMap(\.records))
            return group.map { ($0.id, nil) }
        } catch {
            guard group.count > 1 else { return [(group[0].id, error)] }
        }
        return group.map { entry in
            do throws(StateError) {
                try ledger.recordPushes(entry.records)
                return (entry.id, nil)
            } catch {
                return (entry.id, error)
            }
        }
    }
}
