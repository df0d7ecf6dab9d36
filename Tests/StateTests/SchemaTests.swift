import Foundation
import SQLite
import TestSupport
import Testing
@testable import State

@Suite struct SchemaTests {
    private func names(_ db: Database, type: String) throws -> Set<String> {
        Set(
            try db.withConnection { (c: Connection) throws(SQLiteError) in
                try c.query("SELECT name FROM sqlite_master WHERE type = ?", [type]) { row throws(SQLiteError) in try row.string(0) }
            })
    }

    @Test func freshDatabaseHasCurrentSchema() throws {
        let store = try openTemporaryStore()
        let version = try store.sqlite!.withConnection { (c: Connection) throws(SQLiteError) in try c.userVersion() }
        #expect(version == StateSchema.currentVersion)
        let tables = try names(store.sqlite!, type: "table")
        #expect(tables.isSuperset(of: ["meta", "runs", "pushes", "blob_locations", "diffid_mappings"]))
        let indexes = try names(store.sqlite!, type: "index")
        #expect(
            indexes.isSuperset(of: [
                "runs_by_job", "pushes_by_repository", "pushes_by_tag", "pushes_by_pushed_digest",
                "pushes_by_started", "pushes_by_status", "pushes_by_target"
            ]))
    }

    @Test func migratesAVersion1Database() throws {
        let path = try temporaryDirectory() + "/old.db"
        // Build a file as the first schema version left it, with a run and a push in it.
        do {
            let old = try legacyDatabase(at: path, version: 1, pushStatus: "pushed")
            let indexes = try names(old, type: "index")
            #expect(!indexes.contains("pushes_by_tag"))
        }
        let store = try StateStore.open(path: path)
        let version = try store.sqlite!.withConnection { (c: Connection) throws(SQLiteError) in try c.userVersion() }
        #expect(version == StateSchema.currentVersion)
        #expect(try names(store.sqlite!, type: "table").contains("diffid_mappings"))
        #expect(try names(store.sqlite!, type: "index").contains("pushes_by_tag"))
        let detail = try store.run(.id(RunID(1)))
        #expect(detail.run.job == "legacy")
        #expect(detail.pushes.map(\.tag) == ["v1"])
        #expect(try store.history(HistoryFilter(tag: "v1")).count == 1)
    }

    @Test func refusesANewerSchema() throws {
        let path = try temporaryDirectory() + "/new.db"
        do {
            let db = try Database(path: path)
            try db.exec("PRAGMA user_version = 99")
        }
        #expect {
            _ = try StateStore.open(path: path)
        } throws: { error in
            guard case StateError.newerSchema(_, let found, let supported)? = error as? StateError else { return false }
            return found == 99 && supported == StateSchema.currentVersion
        }
    }

    @Test func openCreatesMissingFolders() throws {
        let path = try temporaryDirectory() + "/a/b/c/state.db"
        _ = try StateStore.open(path: path)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func defaultPathFollowsTheSpecOrder() {
        #expect(StateStore.defaultPath(environment: ["PUSHCTL_STATE": "/x/s.db", "XDG_STATE_HOME": "/xdg", "HOME": "/h"]) == "/x/s.db")
        #expect(StateStore.defaultPath(environment: ["XDG_STATE_HOME": "/xdg", "HOME": "/h"]) == "/xdg/pushctl/state.db")
        #expect(StateStore.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/state/pushctl/state.db")
        // A relative XDG_STATE_HOME is invalid per the XDG spec and ignored.
        #expect(StateStore.defaultPath(environment: ["XDG_STATE_HOME": "rel", "HOME": "/h"]) == "/h/.local/state/pushctl/state.db")
    }
}
