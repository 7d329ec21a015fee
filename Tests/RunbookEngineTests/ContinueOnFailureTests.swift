import Foundation
import RunbookEngine
import Testing

/// `on_failure: continue`: a step whose failure must not stop the run (e.g. fencing an old primary that does
/// not answer during a failover) lets its dependents run, and the run says it completed with exceptions.
@Suite struct ContinueOnFailureTests {
    static let runbook = """
        name: test
        steps:
          - id: before
            action: note
            with: { key: a }
          - id: fence
            needs: [before]
            action: undo_fails
            with: { key: f }
            on_failure: continue
          - id: after
            needs: [fence]
            action: note
            with: { key: b }
        """

    @Test func dependentsRunNothingIsRolledBackAndTheRunEndsWithExceptions() async throws {
        let h = EngineHarness()
        let outcome = try await h.start(Self.runbook)
        #expect(outcome.run.status == .completedWithExceptions)
        #expect(outcome.run.status.exitCode == 6)
        #expect(outcome.status(of: "fence") == .failed)
        #expect(outcome.status(of: "after") == .succeeded)
        #expect(h.log.all == ["do:a", "broken-undo:f", "do:b"], "no compensation ran")
        #expect(outcome.run.message?.contains("step 'fence' did not succeed (cannot undo f right now)") == true, "\(outcome.run.message ?? "")")
        #expect(outcome.run.message?.contains("runbook resume \(outcome.run.id)") == true)
    }

    @Test func resumeRunsOnlyTheStepThatFailedAndThenTheRunSucceeds() async throws {
        let h = EngineHarness()
        let first = try await h.start(Self.runbook)
        #expect(first.run.status == .completedWithExceptions)
        h.broken.set(false)
        let resumed = try await h.engine.resume(runID: first.run.id)
        #expect(resumed.run.status == .succeeded)
        #expect(resumed.status(of: "fence") == .succeeded)
        #expect(h.log.all == ["do:a", "broken-undo:f", "do:b", "undo:f"], "only the failed step ran again")
    }

    @Test func aStepWithoutItStillRollsTheRunBack() async throws {
        let h = EngineHarness()
        let outcome = try await h.start(Self.runbook.replacingOccurrences(of: "    on_failure: continue\n", with: ""))
        #expect(outcome.run.status == .rolledBack)
        #expect(h.log.all == ["do:a", "broken-undo:f", "undo:a"])
    }

    @Test func anUnknownValueIsAValidationError() throws {
        let h = EngineHarness()
        #expect(throws: (any Error).self) {
            try h.definition(Self.runbook.replacingOccurrences(of: "on_failure: continue", with: "on_failure: ignore"))
        }
    }
}
