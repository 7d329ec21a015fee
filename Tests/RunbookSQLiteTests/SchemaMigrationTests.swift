import CSQLite
import Foundation
import RunbookEngine
import Testing
@testable import RunbookSQLite

/// Databases written by runbook's first schema (definitions inside `runs` rows) are upgraded in place.
@Suite struct SchemaMigrationTests {
    /// A version-1 database holding the runs, steps and events of `source` (a current database), written the
    /// way version 1 stored them: the definition text inside each `runs` row.
    static func makeVersion1Copy(of source: String, at path: String) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute(Schema.migrations[0])
        try connection.execute("PRAGMA application_id = \(Schema.applicationID)")
        try connection.execute("PRAGMA user_version = 1")
        try connection.execute("""
            ATTACH DATABASE '\(source)' AS current;
            INSERT INTO runs (id, runbook, definition, definition_hash, origin, parameters, provided_secrets, options,
                              status, message, created_at, finished_at, started_by, cancel_requested)
                SELECT r.id, r.runbook, d.source, r.definition_hash, r.origin, r.parameters, r.provided_secrets, r.options,
                       r.status, r.message, r.created_at, r.finished_at, r.started_by, r.cancel_requested
                FROM current.runs r JOIN current.definitions d ON d.hash = r.definition_hash;
            INSERT INTO steps SELECT * FROM current.steps;
            DETACH DATABASE current;
            """)
        try copyEventsAsVersion1Wrote(from: source, into: connection)
    }

    /// Version 1 had no per-event step digests and no `run_created` keys for them: each run's events are copied
    /// without those and chained again, as version 1 would have hashed them.
    static func copyEventsAsVersion1Wrote(from source: String, into connection: SQLiteConnection) throws {
        let current = try SQLiteConnection(path: source)
        let laterKeys: Set<String> = ["state_stamps", "run_options", "secrets_given", "secret_checks"]
        let rows = try current.query("SELECT run_id, seq, step_id, attempt, kind, detail, at, actor FROM events ORDER BY run_id, seq") { row in
            (row.text(0), row.int(1), row.optionalText(2), row.optionalInt(3).map(Int.init), row.text(4), row.text(5), row.int(6), row.text(7))
        }
        var previous: [String: String] = [:]
        for (runID, seq, stepID, attempt, kind, detailJSON, at, actorJSON) in rows {
            let decoded = (try JSONSerialization.jsonObject(with: Data(detailJSON.utf8)) as? [String: String]) ?? [:]
            let detail = decoded.filter { !laterKeys.contains($0.key) }
            let actor = try JSONDecoder().decode(ActorIdentity.self, from: Data(actorJSON.utf8))
            let prev = previous[runID] ?? AuditChain.genesis
            let hash = AuditChain.hash(previous: prev, canonical: AuditChain.canonicalContent(
                seq: seq, runID: runID, stepID: stepID, attempt: attempt, kind: kind, detail: detail, at: at, actor: actor))
            let detailText = String(decoding: try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]), as: UTF8.self)
            try connection.run("""
                INSERT INTO events (run_id, seq, step_id, attempt, kind, detail, at, actor, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(runID), .integer(seq), stepID.map { .text($0) } ?? .null, attempt.map { .integer(Int64($0)) } ?? .null,
                      .text(kind), .text(detailText), .integer(at), .text(actorJSON), .text(prev), .text(hash)])
            previous[runID] = hash
        }
    }

    @Test func aVersion1DatabaseIsUpgradedWithItsHistoryIntact() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let currentPath = scratch.file("current.sqlite")
        let store = try SQLiteRunStore(path: currentPath)
        var outcomes: [RunOutcome] = []
        for value in ["one", "two"] {
            // Two runs of the same definition: version 2 stores its text once.
            outcomes.append(try await runEngine(store: store, yaml: """
                name: test
                parameters:
                  value: { type: string }
                steps:
                  - { id: a, action: echo, with: { value: "${{ params.value }}" } }
                  - { id: b, needs: [a], action: echo, with: { value: "${{ steps.a.outputs.value }}" } }
                """, parameters: ["value": value]))
        }
        let oldPath = scratch.file("old.sqlite")
        try Self.makeVersion1Copy(of: currentPath, at: oldPath)
        #expect(rawExecute(oldPath, "SELECT definition FROM runs").ok, "the copy has version 1's layout")

        let upgraded = try SQLiteRunStore(path: oldPath)
        #expect(try upgraded.connectionForTests { try $0.scalarInt("PRAGMA user_version") } == Schema.currentVersion)
        #expect(try upgraded.connectionForTests { try $0.scalarInt("SELECT count(*) FROM definitions") } == 1)
        #expect(try upgraded.connectionForTests { try $0.scalarInt("PRAGMA foreign_keys") } == 1)
        for outcome in outcomes {
            let run = try #require(try await upgraded.run(id: outcome.run.id))
            #expect(run.definition == outcome.run.definition)
            #expect(run.parameters == outcome.run.parameters)
            #expect(run.status == .succeeded)
            #expect(run.message == outcome.run.message)
            let events = try await upgraded.events(runID: run.id)
            #expect(events.count == (try await store.events(runID: run.id)).count)
            #expect(AuditChain.verify(run: run, events: events) == nil)
            #expect(try await upgraded.steps(runID: run.id).map(\.status) == [.succeeded, .succeeded])
        }
        // The upgraded database keeps its guards and takes new runs.
        #expect(!rawExecute(oldPath, "DELETE FROM runs").ok)
        #expect(!rawExecute(oldPath, "UPDATE definitions SET source = 'forged'").ok)
        let another = try await runEngine(store: upgraded, yaml: "name: test\nsteps:\n  - { id: a, action: echo, with: { value: three } }\n")
        #expect(another.run.status == .succeeded)
        #expect(try await upgraded.runs(limit: 10).count == 3)
    }

    @Test func anUpgradeThatWouldBreakReferencesChangesNothing() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let currentPath = scratch.file("current.sqlite")
        let store = try SQLiteRunStore(path: currentPath)
        _ = try await runEngine(store: store, yaml: "name: test\nsteps:\n  - { id: a, action: echo, with: { value: one } }\n")
        let oldPath = scratch.file("old.sqlite")
        try Self.makeVersion1Copy(of: currentPath, at: oldPath)
        // A damaged version-1 file: a step row whose run is gone (written with foreign keys off).
        #expect(rawExecute(oldPath, """
            INSERT INTO steps (run_id, step_id, status) VALUES ('no-such-run', 'x', 'pending');
            PRAGMA wal_checkpoint(TRUNCATE);
            """).ok)
        let before = try Data(contentsOf: URL(fileURLWithPath: oldPath))
        #expect {
            _ = try SQLiteRunStore(path: oldPath)
        } throws: { error in
            let message = (error as? DatabaseOpenError)?.message ?? ""
            return message.contains("would break references in steps") && message.contains("nothing was changed")
        }
        #expect(rawExecute(oldPath, "PRAGMA wal_checkpoint(TRUNCATE)").ok)
        #expect(try Data(contentsOf: URL(fileURLWithPath: oldPath)) == before)
        #expect(rawExecute(oldPath, "SELECT definition FROM runs").ok, "still version 1")
    }
}
