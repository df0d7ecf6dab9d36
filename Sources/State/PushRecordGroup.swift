import Threading

/// Group commit of push rows: pushes that finish while another push's rows are being written are
/// written together in the next transaction, so a run of many small pushes pays one commit (one
/// WAL sync, about 0.8 ms on the development machine) per group instead of one per push
/// (docs/state.md "Group commit", docs/performance.md). Each `record` still returns only when its
/// own rows are committed, and throws that write's error: nothing is deferred past the push.
public final class PushRecordGroup: Sendable {
    private struct Entry {
        var id: Int
        var records: [PushRecord]
        var blobs: [BlobLocation]
    }

    private struct Queue {
        var next = 0
        /// Rows (and blob locations) waiting for a writer, by caller.
        var pending: [Entry] = []
        var writing = false
        /// Outcomes of written groups, by caller, until the caller takes its own.
        var done: [Int: StateError?] = [:]
    }

    private let ledger: any Ledger
    private let queue = LockedValue(Queue())

    public init(ledger: any Ledger) {
        self.ledger = ledger
    }

    /// Records `records` and the blob locations their push established (`Ledger.recordPushes`).
    public func record(_ records: [PushRecord], blobs: [BlobLocation] = []) throws(StateError) {
        let id = queue.withLock { q in
            defer { q.next += 1 }
            q.pending.append(Entry(id: q.next, records: records, blobs: blobs))
            return q.next
        }
        while true {
            // Wait until this caller's rows are written, or nobody is writing and it can write.
            let group: [Entry]? = queue.withLock(whenReady: { $0.done[id] != nil || !$0.writing }) { q in
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
    private func write(_ group: [Entry]) -> [(Int, StateError?)] {
        do throws(StateError) {
            try ledger.recordPushes(group.flatMap(\.records), blobs: group.flatMap(\.blobs))
            return group.map { ($0.id, nil) }
        } catch {
            guard group.count > 1 else { return [(group[0].id, error)] }
        }
        return group.map { entry in
            do throws(StateError) {
                try ledger.recordPushes(entry.records, blobs: entry.blobs)
                return (entry.id, nil)
            } catch {
                return (entry.id, error)
            }
        }
    }
}
