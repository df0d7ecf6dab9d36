import Foundation
import OCI
import SQLite
import TestSupport
import Testing

@testable import State

/// Schema 8 (docs/state.md "Signatures"): status `rejected`, the verdict columns, and
/// `recordSigning`.
@Suite struct SignatureRecordTests {
    @Test func aVersion7DatabaseKeepsItsRowsAndTakesRejections() throws {
        let path = try temporaryDirectory() + "/v7.db"
        do {
            _ = try legacyDatabase(at: path, version: 7, pushStatus: "deleted")
        }
        let store = try StateStore.open(path: path)
        #expect(try store.run(.id(RunID(1))).pushes.map(\.status) == [.deleted])
        let run = try store.testRun()
        var rejected = push(run: run, digest: nil, status: .rejected)
        rejected.verdict = "no signature of sha256:…"
        var signed = push(run: run, tag: "2.0")
        signed.verifiedKeys = ["sha256:aa", "sha256:bb"]
        signed.verdict = "2 of 2 required keys verified (sha256:aa, sha256:bb)"
        signed.signatures = [digest("sig")]
        try store.recordPushes([rejected, signed])
        let rows = try store.run(.id(run)).pushes
        #expect(rows.map(\.status) == [.rejected, .pushed])
        #expect(rows[0].verdict == "no signature of sha256:…" && rows[0].verifiedKeys.isEmpty && rows[0].signatures.isEmpty)
        #expect(rows[1].verifiedKeys == ["sha256:aa", "sha256:bb"] && rows[1].signatures == [digest("sig")])
        #expect(try store.history(HistoryFilter(status: .rejected)).count == 1)
    }

    @Test(arguments: LedgerBackend.allCases) func recordSigningAddsTheSignaturesOrFailsThePush(backend: LedgerBackend) throws {
        let store = try backend.open()
        let run = try store.testRun()
        try store.recordPushes([push(run: run, tag: "1.0"), push(run: run, tag: "latest")])
        let item = "item-team/app-1.0"
        try store.recordSigning(
            SigningRecord(
                runID: run, planItemID: item, registryHost: "registry.example.com", repository: "team/app",
                pushedDigest: digest("manifest"), signatures: [digest("sig")], error: nil))
        var rows = try store.run(.id(run)).pushes
        #expect(rows.first { $0.tag == "1.0" }?.signatures == [digest("sig")])
        #expect(rows.first { $0.tag == "latest" }?.signatures == [])  // another plan item
        try store.recordSigning(
            SigningRecord(
                runID: run, planItemID: item, registryHost: "registry.example.com", repository: "team/app",
                pushedDigest: digest("manifest"), signatures: [], error: "signing …: HTTP 503"))
        rows = try store.run(.id(run)).pushes
        #expect(rows.first { $0.tag == "1.0" }?.status == .failed)
        #expect(rows.first { $0.tag == "1.0" }?.error == "signing …: HTTP 503")
        #expect(try store.lastSuccessfulPush(registryHost: "registry.example.com", repository: "team/app", tag: "1.0") == nil)
    }
}
