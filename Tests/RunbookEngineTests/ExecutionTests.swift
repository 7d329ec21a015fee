import Foundation
import Testing
@testable import RunbookEngine

@Suite struct ExecutionTests {
    @Test func sequentialRunSucceedsAndPassesOutputsDownstream() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            parameters:
              who: { type: string, default: world }
            steps:
              - id: first
                action: note
                with: { key: a, echo: "hello ${{ params.who }}" }
              - id: second
                needs: [first]
                action: note
                with: { key: b, echo: "${{ steps.first.outputs.echo }}!" }
            """)
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.record("second")?.outputs["echo"] == "hello world!")
        #expect(h.log.all == ["do:a", "do:b"])
        let kinds = try await h.store.events(runID: outcome.run.id).map(\.kind)
        #expect(kinds.first == "run_created")
        #expect(kinds.last == "run_finished")
        #expect(kinds.filter { $0 == "step_succeeded" }.count == 2)
    }

    @Test func retriesFollowExponentialBackoffCappedAtMaxInterval() async throws {
        var h = EngineHarness()
        h.random = { 0.5 }
        let outcome = try await h.start("""
            name: test
            steps:
              - id: flaky
                action: note
                with: { key: f, fail_first: "4" }
                retry: { max_attempts: 5, backoff: exponential, initial_interval: 1s, max_interval: 3s, jitter: false }
            """)
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.record("flaky")?.attempts == 5)
        #expect(h.clock.sleeps == [.seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        let failed = try await h.store.events(runID: outcome.run.id).filter { $0.kind == "attempt_failed" }
        #expect(failed.map(\.attempt) == [1, 2, 3, 4])
        #expect(failed.first?.detail["retry_in"] == "1s")
    }

    @Test func jitterScalesEachDelayByTheRandomDraw() async throws {
        var h = EngineHarness()
        h.random = { 0.25 }
        _ = try await h.start("""
            name: test
            steps:
              - id: flaky
                action: note
                with: { key: f, fail_first: "2" }
                retry: { max_attempts: 3, initial_interval: 2s, max_interval: 30s }
            """)
        #expect(h.clock.sleeps == [.milliseconds(500), .milliseconds(1000)])
    }

    @Test func nonRetryableFailureSkipsRemainingAttempts() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - id: broken
                action: note
                with: { key: x, fatal: "true" }
                retry: { max_attempts: 5 }
            """)
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.record("broken")?.attempts == 1)
        #expect(h.log.count("fatal:x") == 1)
    }

    @Test func rollbackOfADiamondUndoesInReverseCompletionOrder() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: b, needs: [a], action: note, with: { key: b } }
              - { id: c, needs: [a], action: note, with: { key: c } }
              - { id: d, needs: [b, c], action: note, with: { key: d } }
              - { id: e, needs: [d], action: note, with: { key: e, fatal: "true" } }
            """)
        #expect(outcome.run.status == .rolledBack)
        #expect(h.log.all == ["do:a", "do:b", "do:c", "do:d", "fatal:e", "undo:e", "undo:d", "undo:c", "undo:b", "undo:a"])
        #expect(outcome.steps.filter { $0.status == .compensated }.map(\.stepID).sorted() == ["a", "b", "c", "d", "e"])
        #expect(outcome.run.message?.contains("step 'e' failed") == true)
    }

    @Test func rollbackOfAWideDAGNeverUndoesARootBeforeItsDependents() async throws {
        let h = EngineHarness()
        var yaml = "name: test\nsteps:\n  - { id: root, action: note, with: { key: root } }\n"
        for i in 0..<24 { yaml += "  - { id: branch-\(i), needs: [root], action: note, with: { key: b\(i) } }\n" }
        yaml += "  - { id: sink, needs: [\((0..<24).map { "branch-\($0)" }.joined(separator: ", "))], action: note, with: { key: sink, fatal: \"true\" } }\n"
        let outcome = try await h.start(yaml, parallelism: 6)
        #expect(outcome.run.status == .rolledBack)
        let undos = h.log.all.filter { $0.hasPrefix("undo:") }
        #expect(undos.count == 26)
        #expect(undos.last == "undo:root")
        #expect(undos.first == "undo:sink")
        // Branches are undone in exactly the reverse of the order they completed in.
        let completion = outcome.steps.filter { $0.stepID.hasPrefix("branch-") }
            .sorted { ($0.completionOrder ?? 0) > ($1.completionOrder ?? 0) }.map { "undo:b" + $0.stepID.dropFirst("branch-".count) }
        #expect(Array(undos.dropFirst().dropLast()) == completion)
    }

    @Test func stepsWithoutCompensationAreRecordedAsNothingToUndo() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: a, action: probe, with: { states: ok } }
              - { id: b, needs: [a], action: note, with: { key: b, fatal: "true" } }
            """)
        #expect(outcome.run.status == .rolledBack)
        let events = try await h.store.events(runID: outcome.run.id)
        #expect(events.contains { $0.kind == "compensation_not_needed" && $0.stepID == "a" })
    }

    @Test func aSucceededPivotStopsRollbackAndResumeRetriesForward() async throws {
        let h = EngineHarness()
        let yaml = """
            name: test
            steps:
              - { id: prepare, action: note, with: { key: prepare } }
              - { id: promote, needs: [prepare], irreversible: true, action: note, with: { key: promote } }
              - { id: repoint, needs: [promote], action: note, with: { key: repoint, fail_first: "1" } }
            """
        let first = try await h.start(yaml)
        #expect(first.run.status == .failed)
        #expect(first.run.message?.contains("irreversible step 'promote'") == true)
        #expect(!h.log.all.contains { $0.hasPrefix("undo:") })
        let resumed = try await h.engine.resume(runID: first.run.id)
        #expect(resumed.run.status == .succeeded)
        #expect(h.log.count("do:promote") == 1)
        #expect(h.log.count("do:repoint") == 1)
    }

    @Test func approvalGatePausesUntilApprovedAndRecordsWho() async throws {
        let h = EngineHarness()
        let yaml = """
            name: test
            steps:
              - { id: check, action: note, with: { key: check } }
              - { id: pivot, needs: [check], approval: required, action: note, with: { key: pivot } }
              - { id: after, needs: [pivot], action: note, with: { key: after } }
            """
        let paused = try await h.start(yaml)
        #expect(paused.run.status == .awaitingApproval)
        #expect(paused.run.status.exitCode == 3)
        #expect(h.log.all == ["do:check"])
        let approved = try await h.engine.approve(runID: paused.run.id, stepID: "pivot")
        #expect(approved.run.status == .succeeded)
        #expect(approved.record("pivot")?.approvedBy == "tester")
        #expect(h.log.all == ["do:check", "do:pivot", "do:after"])
        let events = try await h.store.events(runID: paused.run.id)
        #expect(events.contains { $0.kind == "approval_requested" && $0.stepID == "pivot" })
        #expect(events.contains { $0.kind == "step_approved" && $0.detail["by"] == "tester" })
    }

    @Test func yesPassesApprovalGatesAndSaysSo() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: pivot, approval: required, action: note, with: { key: pivot } }
            """, yes: true)
        #expect(outcome.run.status == .succeeded)
        let events = try await h.store.events(runID: outcome.run.id)
        #expect(events.contains { $0.kind == "step_approved" && $0.detail["via"] == "--yes" })
    }

    @Test func whenFalsySkipsTheStepAndDependentsStillRun() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            parameters:
              restore: { type: bool, default: false }
            steps:
              - { id: optional, when: "${{ params.restore }}", action: note, with: { key: optional } }
              - { id: after, needs: [optional], action: note, with: { key: after } }
            """)
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.status(of: "optional") == .skipped)
        #expect(h.log.all == ["do:after"])
    }

    @Test func waiterPollsUntilTheStateMatchesAndMergesItsOutputs() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - id: create
                action: note
                with: { key: db }
                wait:
                  action: probe
                  with: { states: "creating,creating,backing-up,available", key: "${{ outputs.key }}" }
                  until: { output: state, equals: available }
                  fail_if: { output: state, in: [failed] }
                  interval: 3s
                  timeout: 5m
            """)
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.record("create")?.polls == 4)
        #expect(outcome.record("create")?.outputs["state"] == "available")
        #expect(h.log.all == ["do:db", "poll:db:creating", "poll:db:creating", "poll:db:backing-up", "poll:db:available"])
        #expect(h.clock.sleeps == [.seconds(3), .seconds(3), .seconds(3)])
        let polls = try await h.store.events(runID: outcome.run.id).filter { $0.kind == "waiter_poll" }
        #expect(polls.map { $0.detail["state"] } == ["creating", "creating", "backing-up", "available"])
        #expect(polls.map { $0.detail["result"] } == ["pending", "pending", "pending", "success"])
    }

    @Test func waiterFailureStateFailsTheStepAndRollsBack() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - id: create
                action: note
                with: { key: db }
                wait:
                  action: probe
                  with: { states: "creating,failed" }
                  until: { output: state, equals: available }
                  fail_if: { output: state, in: [failed, incompatible-parameters] }
                  interval: 1s
            """)
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.record("create")?.error?.contains("failure state 'failed'") == true)
        #expect(h.log.all.last == "undo:db")
    }

    @Test func waiterTimesOutAtItsDeadline() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - id: create
                action: note
                with: { key: db }
                wait:
                  action: probe
                  with: { states: creating }
                  until: { output: state, equals: available }
                  interval: 10s
                  timeout: 35s
            """)
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.record("create")?.error?.contains("timed out after 35s") == true)
        #expect(outcome.record("create")?.polls == 5)
    }

    @Test func failedCompensationEndsRollbackFailedAndRollbackRetriesIt() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: base, action: note, with: { key: base } }
              - id: sticky
                needs: [base]
                action: note
                with: { key: sticky }
                compensate: { action: undo_fails, with: { key: sticky }, retry: { max_attempts: 2, initial_interval: 1s } }
              - { id: boom, needs: [sticky], action: note, with: { key: boom, fatal: "true" } }
            """)
        #expect(outcome.run.status == .rollbackFailed)
        #expect(outcome.run.message?.contains("left to undo: base, sticky") == true)
        #expect(h.log.count("broken-undo:sticky") == 2)
        #expect(!h.log.all.contains("undo:base"))
        h.broken.set(false)
        let retried = try await h.engine.rollback(runID: outcome.run.id)
        #expect(retried.run.status == .rolledBack)
        #expect(Array(h.log.all.suffix(2)) == ["undo:sticky", "undo:base"])
    }

    @Test func succeededRunRollsBackOnRequest() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: b, needs: [a], action: note, with: { key: b } }
            """)
        #expect(outcome.run.status == .succeeded)
        let rolled = try await h.engine.rollback(runID: outcome.run.id)
        #expect(rolled.run.status == .rolledBack)
        #expect(Array(h.log.all.suffix(2)) == ["undo:b", "undo:a"])
        let again = try await h.engine.rollback(runID: outcome.run.id)
        #expect(again.alreadyFinished)
        #expect(h.log.all.count == 4)
    }

    @Test func resumingAFinishedRunChangesNothing() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
            """)
        let eventsBefore = try await h.store.events(runID: outcome.run.id).count
        let resumed = try await h.engine.resume(runID: outcome.run.id)
        #expect(resumed.alreadyFinished)
        #expect(resumed.run.status == .succeeded)
        #expect(try await h.store.events(runID: outcome.run.id).count == eventsBefore)
        #expect(h.log.all == ["do:a"])
    }

    @Test func interruptionRecordsInterruptedAndResumeFinishesTheRun() async throws {
        let h = EngineHarness()
        let definition = try h.definition("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: slow, needs: [a], action: hang, with: { duration: 30s } }
              - { id: c, needs: [slow], action: note, with: { key: c } }
            """)
        let engine = h.engine
        let task = Task {
            try await engine.start(definition: definition, parameters: [:], options: RunOptions(workingDirectory: "/tmp"), runID: "run-int")
        }
        while !h.log.all.contains("hang:slow:1") { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        let interrupted = try await task.value
        #expect(interrupted.run.status == .interrupted)
        #expect(interrupted.status(of: "slow") == .running)
        // The step that was in flight runs again on resume (attempt 2); finished steps do not.
        let resumeTask = Task { try await engine.resume(runID: "run-int") }
        while !h.log.all.contains("hang:slow:2") { try await Task.sleep(for: .milliseconds(5)) }
        resumeTask.cancel()
        let again = try await resumeTask.value
        #expect(again.run.status == .interrupted)
        #expect(h.log.count("do:a") == 1)
        #expect(again.record("slow")?.attempts == 2)
    }

    @Test func secondDriverIsRefusedWhileTheLeaseIsLiveAndTakesOverAStaleOne() async throws {
        let store = InMemoryRunStore()
        let h = EngineHarness(store: store)
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: gate, approval: required, action: note, with: { key: gate } }
            """)
        // Someone else (alive: this very process) holds the lease now.
        let live = ActorIdentity(user: "other", host: ProcessInfo.processInfo.hostName, pid: getpid())
        _ = try await store.acquireLease(runID: outcome.run.id, holder: live, staleAfter: 30_000, now: h.clock.nowMilliseconds)
        await #expect {
            _ = try await h.engine.resume(runID: outcome.run.id)
        } throws: { ($0 as? EngineError)?.code == .leaseHeld }

        // A holder on another host whose heartbeat is old is taken over, and the takeover is recorded.
        let gone = ActorIdentity(user: "other", host: "bastion-that-died", pid: 4242)
        let current = try #require(await store.lease(runID: outcome.run.id))
        await store.releaseLease(runID: outcome.run.id, leaseToken: current.token)
        let stale = try await store.acquireLease(runID: outcome.run.id, holder: gone, staleAfter: 30_000, now: h.clock.nowMilliseconds - 120_000)
        let approved = try await h.engine.approve(runID: outcome.run.id, stepID: "gate")
        #expect(approved.run.status == .succeeded)
        let takeover = await store.events(runID: outcome.run.id).last { $0.kind == "lease_taken" }
        #expect(takeover?.detail["previous_holder"] == gone.description)
        // The old holder is fenced out: its writes are refused.
        await #expect {
            try await store.commit(runID: outcome.run.id, leaseToken: stale.lease.token, RunChanges(runStatus: .failed))
        } throws: { ($0 as? RunStoreError)?.code == .leaseLost }
    }

    @Test func cancelRequestFromAnotherProcessStopsAndRollsBack() async throws {
        let store = InMemoryRunStore()
        let h = EngineHarness(store: store)
        let definition = try h.definition("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: slow, needs: [a], action: hang, with: { duration: 30s } }
            """)
        let engine = h.engine
        let task = Task {
            try await engine.start(definition: definition, parameters: [:], options: RunOptions(workingDirectory: "/tmp"), runID: "run-cancel")
        }
        while !h.log.all.contains("hang:slow:1") { try await Task.sleep(for: .milliseconds(5)) }
        try await store.requestCancel(runID: "run-cancel", event: NewEvent(kind: .cancelRequested, detail: ["by": "oncall"], at: 0, actor: h.actor))
        // The heartbeat, which waits on the run's clock, is what sees the request.
        #expect(await eventually { !h.clock.pendingDeadlines.isEmpty })
        h.clock.advance(by: .milliseconds(50))
        let outcome = try await task.value
        #expect(outcome.run.status == .cancelled)
        #expect(h.log.all.last == "undo:a")
    }

    @Test func secretsAreRedactedFromOutputsErrorsAndStoredParameters() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            parameters:
              password: { type: string, secret: true }
            steps:
              - { id: leak, action: note, with: { key: k, echo: "pw=${{ params.password }}" } }
            """, parameters: ["password": "s3cr3t-Value"])
        #expect(outcome.record("leak")?.outputs["echo"] == "pw=***")
        #expect(outcome.run.parameters["password"] == "***")
        #expect(outcome.run.providedSecrets == ["password"])
        let events = try await h.store.events(runID: outcome.run.id)
        #expect(!events.contains { $0.detail.values.contains { $0.contains("s3cr3t-Value") } })
    }

    @Test func resumeWithoutTheSecretSaysWhichParameterToPassAgain() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            parameters:
              password: { type: string, secret: true }
            steps:
              - { id: gate, approval: required, action: note, with: { key: k } }
            """, parameters: ["password": "pw-long-enough"])
        await #expect {
            _ = try await h.engine.resume(runID: outcome.run.id)
        } throws: { error in
            guard let error = error as? EngineError else { return false }
            return error.code == .missingSecret && error.message.contains("--param password=")
        }
    }

    @Test func auditChainOfARunVerifiesAndDetectsAnEdit() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
            """)
        let events = try await h.store.events(runID: outcome.run.id)
        #expect(AuditChain.verify(run: outcome.run, events: events) == nil)
        var tampered = events
        tampered[2].detail["key"] = "forged"
        #expect(AuditChain.verify(run: outcome.run, events: tampered)?.seq == events[2].seq)
        var edited = outcome.run
        edited.parameters["extra"] = "x"
        #expect(AuditChain.verify(run: edited, events: events)?.reason.contains("parameters") == true)
    }

    @Test func aPassedRunDeadlineFailsTheRunAndRollsBack() async throws {
        let h = EngineHarness()
        let definition = try h.definition("""
            name: test
            steps:
              - { id: a, action: note, with: { key: a } }
              - { id: slow, needs: [a], action: hang, with: { duration: 30s } }
            """)
        let options = RunOptions(deadlineAt: h.clock.nowMilliseconds + 300, workingDirectory: "/tmp")
        let outcome = try await h.engine.start(definition: definition, parameters: [:], options: options)
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.run.message?.contains("deadline passed") == true)
        #expect(h.log.all.last == "undo:a")
    }

    @Test func aWaiterPacedByAParameterSleepsThatLong() async throws {
        let h = EngineHarness()
        let outcome = try await h.start("""
            name: test
            parameters:
              poll_interval: { type: duration, default: 30s }
            steps:
              - id: create
                action: note
                with: { key: db }
                wait:
                  action: probe
                  with: { states: "creating,available" }
                  until: { output: state, equals: available }
                  interval: "${{ params.poll_interval }}"
            """, parameters: ["poll_interval": "75ms"])
        #expect(outcome.run.status == .succeeded)
        #expect(h.clock.sleeps == [.milliseconds(75)])
    }
}
