import State

/// `pushctl state copy FROM TO` (docs/cli.md, docs/state.md "Copying a ledger"): the whole ledger
/// at FROM merged into TO, SQLite or PostgreSQL either way. TO is created when missing; FROM
/// must exist. Idempotent: copying again adds nothing.
public enum StateCopy {
    public static func run(from: LedgerLocation, to: LedgerLocation) throws(LedgerOpenError) -> LedgerCopy.Result {
        guard from != to else { throw .state(.invalidLocation("state copy: FROM and TO are the same ledger (\(from))")) }
        let source = try from.openExisting(readingOnly: true)
        let target: any Ledger
        do throws(StateError) { target = try to.openForWriting() } catch { throw .state(error) }
        guard let sourceStore = source as? StateStore, let targetStore = target as? StateStore else {
            throw .state(.invalidLocation("state copy copies between pushctl's own SQLite and PostgreSQL ledgers"))
        }
        do throws(StateError) { return try LedgerCopy.copy(from: sourceStore, to: targetStore) } catch { throw .state(error) }
    }
}
