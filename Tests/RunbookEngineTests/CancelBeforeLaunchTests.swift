import Foundation
import Testing
@testable import RunbookEngine

/// `request_cancel`: does what `runbook cancel` does from another process while this step runs, then succeeds.
private struct RequestCancelAction: StepAction {
    let store: any RunStore
    let log: EffectLog
    var name: String { "request_cancel" }
    var summary: String { "asks for the run to be cancelled" }
    var inputs: [ActionInputSpec] { [] }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        try await store.requestCancel(runID: invocation.runID, event: NewEvent(
            kind: .cancelRequested, detail: ["by": "oncall"], at: 0, actor: ActorIdentity(user: "oncall", host: "elsewhere", pid: 1)))
        log.append("cancel requested")
        return [:]
    }
}

@Suite struct CancelBeforeLaunchTests {
    @Test func aCancelRequestedWhileAStepRunsIsSeenBeforeTheNextStepStarts() async throws {
        let store = InMemoryRunStore()
        let log = EffectLog()
        let registry = ActionRegistry([NoteAction(log: log), RequestCancelAction(store: store, log: log)])
        let engine = RunEngine(environment: EngineEnvironment(
            store: store, registry: registry, clock: ManualClock(sleepsAdvance: true),
            // The heartbeat alone would see the request only after the next steps had run.
            heartbeatInterval: .seconds(60)))
        let definition = try RunbookParser.parse(source: """
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: cancel, needs: [a], action: request_cancel }
              - { id: b, needs: [cancel], action: note, with: { key: b } }
              - { id: c, needs: [b], action: note, with: { key: c } }
            """, file: "test.yaml", registry: registry)
        let outcome = try await engine.start(definition: definition, parameters: [:], options: RunOptions(workingDirectory: "/tmp"))
        #expect(log.all == ["do:a", "cancel requested", "undo:a"])
        #expect(outcome.run.status == .cancelled)
        #expect(outcome.status(of: "b") == .pending)
        let events = await store.events(runID: outcome.run.id)
        #expect(!events.contains { $0.stepID == "b" && $0.kind == EventKind.stepStarted.rawValue })
        #expect(AuditChain.verify(run: await store.run(id: outcome.run.id), events: events) == nil)
    }
}
