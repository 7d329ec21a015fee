import Foundation
import RunbookEngine
import Testing
@testable import RunbookSQLite

/// Each check of a run's stored rows against its chain, on its own: one edit that only that check can see.
@Suite struct StateAuditTests {
    private func finishedRun() async throws -> (ScratchDirectory, String, String) {
        let scratch = try ScratchDirectory()
        let path = scratch.file("db.sqlite")
        let outcome = try await runEngine(store: try SQLiteRunStore(path: path), yaml: """
            name: test
            steps:
              - { id: a, action: echo, with: { value: staging-db } }
              - { id: b, needs: [a], action: echo, with: { value: "${{ steps.a.outputs.value }}" } }
            """)
        #expect(outcome.run.status == .succeeded)
        return (scratch, path, outcome.run.id)
    }

    private func problem(_ path: String, _ runID: String) async throws -> AuditProblem? {
        let store = try SQLiteRunStore(path: path)
        return AuditChain.verify(run: try await store.run(id: runID), events: try await store.events(runID: runID),
                                 steps: try await store.steps(runID: runID))
    }

    @Test func anEditedStepOutputIsNamed() async throws {
        let (scratch, path, id) = try await finishedRun()
        defer { scratch.remove() }
        #expect(try await problem(path, id) == nil)
        #expect(rawExecute(path, "UPDATE steps SET outputs = '{\"value\":\"prod-db\"}' WHERE step_id = 'a'").ok)
        let found = try #require(try await problem(path, id))
        #expect(found.reason.contains("step 'a'"), "\(found)")
    }

    @Test func removedLastEventsWithAMatchingStatusAreNamedByTheChainHead() async throws {
        let (scratch, path, id) = try await finishedRun()
        defer { scratch.remove() }
        // Drop the run_finished event and make the status agree with what is left: only the head shows it.
        #expect(rawExecute(path, """
            DROP TRIGGER events_are_append_only_delete;
            DELETE FROM events WHERE run_id = '\(id)' AND kind = 'run_finished';
            UPDATE runs SET status = 'running', finished_at = NULL WHERE id = '\(id)';
            """).ok)
        let found = try #require(try await problem(path, id))
        #expect(found.reason.contains("recorded #"), "\(found)")
    }

    /// An edited run_created event also disagrees with the run's row; what was edited is the event, and that
    /// is what is named.
    @Test func anEditedEventIsNamedBeforeTheRowItNoLongerMatches() async throws {
        let (scratch, path, id) = try await finishedRun()
        defer { scratch.remove() }
        #expect(rawExecute(path, """
            DROP TRIGGER events_are_append_only_update;
            UPDATE events SET detail = json_set(detail, '$.runbook', 'other') WHERE run_id = '\(id)' AND seq = 1;
            """).ok)
        let found = try #require(try await problem(path, id))
        #expect(found.seq == 1 && found.reason.contains("its content does not match its hash"), "\(found)")
    }
}
