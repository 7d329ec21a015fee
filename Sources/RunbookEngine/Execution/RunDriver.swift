import Foundation

/// Results and signals delivered to the driver; it takes everything that has arrived at once, so several
/// step completions become one checkpoint (group commit on parallel paths).
final class Mailbox<Message: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Message] = []
    private var waiter: CheckedContinuation<[Message], Never>?

    func post(_ message: Message) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: [message])
            return
        }
        items.append(message)
        lock.unlock()
    }

    /// Whatever has arrived, without waiting.
    func takeAvailable() -> [Message] {
        lock.lock()
        defer { lock.unlock() }
        let taken = items
        items.removeAll()
        return taken
    }

    func takeAll() async -> [Message] {
        await withCheckedContinuation { continuation in
            lock.lock()
            if items.isEmpty {
                waiter = continuation
                lock.unlock()
            } else {
                let taken = items
                items.removeAll()
                lock.unlock()
                continuation.resume(returning: taken)
            }
        }
    }
}

enum DriverMessage: Sendable {
    case step(String, StepOutcome)
    case cancelRequested
    case deadlinePassed
    case halted(any Error)
}

/// Why a run is being rolled back.
enum RollbackReason: Equatable {
    case failure(String)
    case cancel
    case requested
}

/// Drives one run while holding its lease: schedules ready steps, checkpoints every transition, rolls back.
/// Used from a single task; child tasks only see `Sendable` snapshots.
final class RunDriver {
    let env: EngineEnvironment
    let definition: RunbookDefinition
    var run: RunRecord
    var steps: [String: StepRecord]
    let lease: Lease
    let context: StepContext
    let writer: RunWriter

    private let order: [String]
    private let index: [String: Int]
    private let dependents: [String: [String]]
    private var outputsByStep: [String: [String: String]] = [:]
    private var nextCompletionOrder: Int
    /// Step results, cancel requests, deadline and lease signals, for the forward loop.
    let mailbox = Mailbox<DriverMessage>()

    init(env: EngineEnvironment, definition: RunbookDefinition, run: RunRecord, steps: [StepRecord], lease: Lease, parameters: [String: String]) {
        self.env = env
        self.definition = definition
        self.run = run
        self.lease = lease
        // Sized up front: a resumed run may have tens of thousands of steps.
        let count = definition.steps.count
        var byID: [String: StepRecord] = [:]
        byID.reserveCapacity(count)
        for step in steps { byID[step.stepID] = step }
        for step in definition.steps where byID[step.id] == nil {
            byID[step.id] = StepRecord(runID: run.id, stepID: step.id)
        }
        self.steps = byID
        order = definition.steps.map(\.id)
        var index: [String: Int] = [:]
        index.reserveCapacity(count)
        var dependents: [String: [String]] = [:]
        dependents.reserveCapacity(count)
        outputsByStep.reserveCapacity(count)
        for (i, step) in definition.steps.enumerated() {
            index[step.id] = i
            for need in step.needs { dependents[need, default: []].append(step.id) }
        }
        self.index = index
        self.dependents = dependents
        nextCompletionOrder = (steps.compactMap(\.completionOrder).max() ?? 0) + 1
        for step in steps where step.status == .succeeded || step.status == .skipped {
            outputsByStep[step.stepID] = step.outputs
        }
        let secretNames = Set(definition.parameters.filter(\.secret).map(\.name))
        let secretValues = secretNames.compactMap { parameters[$0] }
        writer = RunWriter(store: env.store, runID: run.id, leaseToken: lease.token, hook: env.checkpointHook, progress: env.progress)
        context = StepContext(
            runID: run.id, runbook: definition.name, parameters: parameters, secretNames: secretNames,
            workingDirectory: run.options.workingDirectory, registry: env.registry, clock: env.clock, random: env.random,
            actor: env.actor, redactor: Redactor(secrets: secretValues), writer: writer)
    }

    private func event(_ kind: EventKind, step: String? = nil, attempt: Int? = nil, _ detail: [String: String] = [:]) -> NewEvent {
        context.event(kind, step: step, attempt: attempt, detail)
    }

    private func templateContext(own: [String: String] = [:]) -> TemplateContext {
        TemplateContext(params: context.parameters, stepOutputs: outputsByStep, ownOutputs: own, runID: run.id, runbook: definition.name)
    }

    private var succeededPivot: StepRecord? {
        definition.steps.filter(\.irreversible).compactMap { steps[$0.id] }
            .filter { $0.status == .succeeded }.max { ($0.completionOrder ?? 0) < ($1.completionOrder ?? 0) }
    }

    // MARK: - Forward

    /// Run steps until the run succeeds, pauses, stops or fails; returns the status it ended in.
    func forward(resumeNote: [NewEvent] = []) async throws -> RunStatus {
        let mailbox = self.mailbox
        var pending = RunChanges(events: resumeNote)
        var running: Set<String> = []
        var failure: String?
        var stop: DriverMessage?
        var gated: [String] = []

        // Steps that were in flight when the previous driver stopped run again (actions are idempotent).
        var relaunch: [String] = []
        var remainingNeeds: [String: Int] = [:]
        var ready: [Int] = []
        for (i, step) in definition.steps.enumerated() {
            guard let record = steps[step.id] else { continue }
            switch record.status {
            case .running, .waiting: relaunch.append(step.id)
            case .failed: failure = failure ?? "step '\(step.id)' failed: \(record.error ?? "no detail")"
            case .pending:
                let open = step.needs.filter { steps[$0]?.status != .succeeded && steps[$0]?.status != .skipped }.count
                remainingNeeds[step.id] = open
                if open == 0 { ready.append(i) }
            default: break
            }
        }
        if failure != nil { relaunch.removeAll() }

        func markDone(_ id: String) {
            for dependent in dependents[id] ?? [] {
                guard let open = remainingNeeds[dependent] else { continue }
                remainingNeeds[dependent] = open - 1
                if open - 1 == 0, let i = index[dependent] {
                    let position = ready.firstIndex { $0 > i } ?? ready.endIndex
                    ready.insert(i, at: position)
                }
            }
        }

        let deadline = run.options.deadlineAt
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { [env] in
                    let wait = deadline - env.clock.now()
                    if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
                    if !Task.isCancelled { mailbox.post(.deadlinePassed) }
                }
            }
            defer { group.cancelAll() }

            while true {
                if Task.isCancelled && stop == nil {
                    stop = .halted(CancellationError())
                }
                var launches: [(StepDefinition, StepRecord)] = []
                // The launches' records and events, committed only if no cancel has been requested, and the
                // records as they were before, put back when one has.
                var launching = RunChanges()
                var beforeLaunch: [String: StepRecord] = [:]
                if failure == nil && stop == nil {
                    for id in relaunch {
                        guard let step = definition.step(id), var record = steps[id] else { continue }
                        beforeLaunch[id] = record
                        if record.status == .running {
                            record.attempts += 1
                            launching.events.append(event(.attemptStarted, step: id, attempt: record.attempts, ["resumed": "true"]))
                        }
                        steps[id] = record
                        launching.steps.append(record)
                        launches.append((step, record))
                    }
                    relaunch.removeAll()
                    gated.removeAll()
                    var position = 0
                    while position < ready.count && running.count + launches.count < max(1, run.options.parallelism) {
                        let step = definition.steps[ready[position]]
                        guard var record = steps[step.id] else { ready.remove(at: position); continue }
                        let unlaunched = record
                        var approval: [NewEvent] = []
                        if (step.approvalRequired || env.registry.action(named: step.call.action)?.isApprovalGate == true) && record.approvedBy == nil {
                            if run.options.autoApprove {
                                record.approvedBy = "\(env.actor.user) (--yes)"
                                approval.append(event(.stepApproved, step: step.id, ["by": env.actor.user, "via": "--yes"]))
                            } else {
                                gated.append(step.id)
                                position += 1
                                continue
                            }
                        }
                        ready.remove(at: position)
                        if let when = step.when {
                            let decision: Bool
                            do {
                                decision = Template.isTruthy(try Template.render(when, templateContext()))
                            } catch {
                                record.status = .failed
                                record.finishedAt = env.clock.now()
                                record.error = "when: \(error)"
                                record.completionOrder = nextCompletionOrder
                                nextCompletionOrder += 1
                                steps[step.id] = record
                                pending.steps.append(record)
                                pending.events += approval + [event(.stepFailed, step: step.id, ["error": record.error ?? ""])]
                                failure = "step '\(step.id)' failed: \(record.error ?? "")"
                                break
                            }
                            if !decision {
                                record.status = .skipped
                                record.finishedAt = env.clock.now()
                                steps[step.id] = record
                                outputsByStep[step.id] = [:]
                                pending.steps.append(record)
                                pending.events += approval + [event(.stepSkipped, step: step.id, ["when": when])]
                                markDone(step.id)
                                position = 0
                                continue
                            }
                        }
                        record.status = .running
                        record.attempts += 1
                        record.startedAt = record.startedAt ?? env.clock.now()
                        steps[step.id] = record
                        beforeLaunch[step.id] = unlaunched
                        launching.steps.append(record)
                        // One event says the step and its attempt started; later attempts get `attempt_started`.
                        launching.events += approval + [event(.stepStarted, step: step.id, attempt: record.attempts, ["action": step.call.action])]
                        launches.append((step, record))
                    }
                }
                // The transaction that records the launches also reads the cancel flag: a cancel recorded
                // before it means no step starts; one recorded after it finds these steps in flight.
                let cancelSeen = try await writer.commit("checkpoint", pending, launching: launching)
                pending = RunChanges()
                if cancelSeen {
                    for (id, record) in beforeLaunch { steps[id] = record }
                    launches.removeAll()
                    if stop == nil {
                        stop = .cancelRequested
                        group.cancelAll()
                    }
                }

                for (step, record) in launches {
                    running.insert(step.id)
                    let runner: StepRunner
                    do {
                        runner = try makeRunner(step, record)
                    } catch {
                        mailbox.post(.step(step.id, .failed(record, "\(error)")))
                        continue
                    }
                    group.addTask {
                        let outcome = await runner.run(record)
                        mailbox.post(.step(step.id, outcome))
                    }
                }
                if running.isEmpty { break }

                var messages = await mailbox.takeAll()
                // Group commit: steps finishing at nearly the same moment share the next checkpoint. Give the
                // other running steps a moment (a scheduler turn, no timer) to report before committing.
                var turns = 0
                while messages.count < running.count && turns < 3 {
                    await Task.yield()
                    messages += mailbox.takeAvailable()
                    turns += 1
                }
                for message in messages {
                    switch message {
                    case .step(let id, let outcome):
                        running.remove(id)
                        switch outcome {
                        case .succeeded(var record, let events):
                            record.status = .succeeded
                            record.finishedAt = env.clock.now()
                            record.error = nil
                            record.completionOrder = nextCompletionOrder
                            nextCompletionOrder += 1
                            steps[id] = record
                            outputsByStep[id] = record.outputs
                            pending.steps.append(record)
                            pending.events.append(contentsOf: events)
                            // Carries the attempt that succeeded and the step's outputs.
                            pending.events.append(event(.stepSucceeded, step: id, attempt: record.attempts, record.outputs))
                            markDone(id)
                        case .failed(var record, let message):
                            let fromWaiter = record.waiterDeadline != nil
                            record.status = .failed
                            record.finishedAt = env.clock.now()
                            record.error = message
                            record.completionOrder = nextCompletionOrder
                            nextCompletionOrder += 1
                            steps[id] = record
                            pending.steps.append(record)
                            if !fromWaiter {
                                var detail = record.outputs
                                detail["error"] = message
                                pending.events.append(event(.attemptFailed, step: id, attempt: record.attempts, detail))
                            }
                            pending.events.append(event(.stepFailed, step: id, attempt: record.attempts, ["error": message]))
                            failure = failure ?? "step '\(id)' failed: \(message)"
                        case .stopped:
                            break
                        case .halted(let error):
                            throw EngineHalt(underlying: error)
                        }
                    case .cancelRequested:
                        if stop == nil {
                            stop = .cancelRequested
                            group.cancelAll()
                        }
                    case .deadlinePassed:
                        if stop == nil {
                            stop = .deadlinePassed
                            failure = failure ?? "the run's deadline passed"
                            group.cancelAll()
                        }
                    case .halted(let error):
                        throw EngineHalt(underlying: error)
                    }
                }
                if Task.isCancelled && stop == nil {
                    stop = .halted(CancellationError())
                    group.cancelAll()
                }
            }
        }

        let now = env.clock.now()
        switch stop {
        case .halted:
            // Ctrl-C / SIGTERM: record the interruption; `resume` continues.
            try await writer.commit("interrupted", RunChanges(
                runStatus: .interrupted, message: .some("interrupted; run `runbook resume \(run.id)` to continue"),
                steps: pending.steps, events: pending.events + [event(.runStatus, ["status": RunStatus.interrupted.rawValue])]))
            run.status = .interrupted
            return .interrupted
        case .cancelRequested:
            return try await rollback(reason: .cancel, carry: pending)
        default:
            break
        }
        if let failure {
            if let pivot = succeededPivot {
                let message = "\(failure). Not rolling back past irreversible step '\(pivot.stepID)', which has succeeded; fix the cause and run `runbook resume \(run.id)` to retry forward"
                try await writer.commit("failed after pivot", RunChanges(
                    runStatus: .failed, message: .some(message), finishedAt: now, steps: pending.steps,
                    events: pending.events + [event(.runFinished, ["status": RunStatus.failed.rawValue, "message": message])]))
                run.status = .failed
                run.message = message
                return .failed
            }
            return try await rollback(reason: .failure(failure), carry: pending)
        }
        if !gated.isEmpty {
            let message = "waiting for approval of step \(gated.map { "'\($0)'" }.joined(separator: ", ")): run `runbook approve \(run.id) \(gated[0])`"
            var events = pending.events
            for id in gated { events.append(event(.approvalRequested, step: id)) }
            events.append(event(.runStatus, ["status": RunStatus.awaitingApproval.rawValue]))
            try await writer.commit("awaiting approval", RunChanges(runStatus: .awaitingApproval, message: .some(message), steps: pending.steps, events: events))
            run.status = .awaitingApproval
            run.message = message
            return .awaitingApproval
        }
        let unfinished = order.filter { steps[$0]?.status != .succeeded && steps[$0]?.status != .skipped }
        if !unfinished.isEmpty {
            // Nothing can run (e.g. every remaining step depends on a gated one): report, do not loop.
            let message = "no step can run; unfinished: \(unfinished.joined(separator: ", "))"
            try await writer.commit("stuck", RunChanges(runStatus: .interrupted, message: .some(message), steps: pending.steps, events: pending.events))
            run.status = .interrupted
            return .interrupted
        }
        try await writer.commit("finished", RunChanges(
            runStatus: .succeeded, message: .some(nil), finishedAt: now, steps: pending.steps,
            events: pending.events + [event(.runFinished, ["status": RunStatus.succeeded.rawValue])]))
        run.status = .succeeded
        return .succeeded
    }

    private func makeRunner(_ step: StepDefinition, _ record: StepRecord) throws -> StepRunner {
        let inputs = try step.call.renderedInputs(templateContext())
        let base = templateContext()
        let waitCall = step.wait?.call
        return StepRunner(
            context: context, step: step, inputs: inputs,
            renderWaiterInputs: { own in
                var ctx = base
                ctx.ownOutputs = own
                return try waitCall?.renderedInputs(ctx) ?? [:]
            },
            budgetStart: record.attempts)
    }

    /// Refresh the lease until cancelled (the whole time the driver holds it, rollback included); report
    /// cancel requests and a lost lease through the mailbox.
    static func heartbeat(env: EngineEnvironment, lease: Lease, mailbox: Mailbox<DriverMessage>) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: env.heartbeatInterval)
            } catch {
                return
            }
            do {
                if try await env.store.heartbeat(runID: lease.runID, leaseToken: lease.token, now: env.clock.now()) {
                    mailbox.post(.cancelRequested)
                }
            } catch let error as RunStoreError where error.code == .leaseLost {
                mailbox.post(.halted(error))
                return
            } catch {
                // A transient storage error: the next heartbeat tries again; commits check the lease anyway.
            }
        }
    }

    // MARK: - Rollback

    /// Compensate, in reverse order of completion and never before a step's dependents, every step whose
    /// action started (a failed or interrupted step may have done part of its work). Never goes past an
    /// irreversible step that has succeeded.
    func rollback(reason: RollbackReason, carry: RunChanges = RunChanges()) async throws -> RunStatus {
        var pending = carry
        let reasonText: String
        switch reason {
        case .failure(let message): reasonText = message
        case .cancel: reasonText = "cancelled"
        case .requested: reasonText = "rollback requested"
        }
        if run.status != .rollingBack {
            pending.runStatus = .rollingBack
            pending.message = .some("rolling back: \(reasonText)")
            pending.events.append(event(.rollbackStarted, ["reason": reasonText]))
            run.status = .rollingBack
        }

        let pivot = succeededPivot
        let pivotAncestors = pivot.map { ancestors(of: $0.stepID).union([$0.stepID]) } ?? []
        let started: Set<StepStatus> = [.succeeded, .failed, .running, .waiting, .compensating, .compensationFailed]
        var toUndo = Set(order.filter { id in
            guard let record = steps[id], started.contains(record.status) else { return false }
            if pivotAncestors.contains(id) { return false }
            if let pivot, let done = record.completionOrder, let pivotOrder = pivot.completionOrder, done < pivotOrder { return false }
            return true
        })
        var left: [String] = []
        var blocked: Set<String> = []

        while !toUndo.isEmpty {
            // Candidates: no dependent of theirs is still waiting to be undone.
            let candidates = toUndo.filter { id in !(dependents[id] ?? []).contains { toUndo.contains($0) } }
            guard let id = candidates.max(by: { rank($0) < rank($1) }) else { break }
            toUndo.remove(id)
            if blocked.contains(id) {
                left.append(id)
                continue
            }
            guard let step = definition.step(id), var record = steps[id] else { continue }
            let action = env.registry.action(named: step.call.action)
            let hasUndo = step.compensate != nil || (action?.hasUndo ?? false)
            if !hasUndo {
                if record.status == .succeeded || record.status == .compensating || record.status == .compensationFailed {
                    record.status = .compensated
                }
                steps[id] = record
                pending.steps.append(record)
                pending.events.append(event(.compensationNotNeeded, step: id, ["reason": "the step has no compensation: nothing to undo"]))
                continue
            }
            do {
                if Task.isCancelled { throw CancellationError() }
                let ok = try await compensate(step, &record, pending: &pending)
                steps[id] = record
                if !ok {
                    left.append(id)
                    blocked.formUnion(ancestors(of: id))
                }
            } catch is CancellationError {
                try await writer.commit("rollback interrupted", RunChanges(
                    message: .some("interrupted during rollback; run `runbook resume \(run.id)` to continue it"),
                    steps: pending.steps, events: pending.events))
                return .rollingBack
            }
        }

        let now = env.clock.now()
        if left.isEmpty {
            let status: RunStatus = reason == .cancel ? .cancelled : .rolledBack
            let message: String
            switch reason {
            case .failure(let text): message = "\(text); rolled back"
            case .cancel: message = "cancelled and rolled back"
            case .requested: message = pivot.map { "rolled back to irreversible step '\($0.stepID)'" } ?? "rolled back on request"
            }
            pending.runStatus = status
            pending.message = .some(message)
            pending.finishedAt = now
            pending.events.append(event(.runFinished, ["status": status.rawValue, "message": message]))
            try await writer.commit("rolled back", pending)
            run.status = status
            run.message = message
            return status
        }
        let names = left.sorted { (index[$0] ?? 0) < (index[$1] ?? 0) }
        let message = "rollback incomplete: left to undo: \(names.joined(separator: ", ")); fix the cause and run `runbook rollback \(run.id)` to try again"
        pending.runStatus = .rollbackFailed
        pending.message = .some(message)
        pending.finishedAt = now
        pending.events.append(event(.runFinished, ["status": RunStatus.rollbackFailed.rawValue, "message": message]))
        try await writer.commit("rollback failed", pending)
        run.status = .rollbackFailed
        run.message = message
        return .rollbackFailed
    }

    /// Later completions first; steps still in flight count as latest.
    private func rank(_ id: String) -> Int {
        steps[id]?.completionOrder ?? Int.max - (index[id] ?? 0)
    }

    private func ancestors(of id: String) -> Set<String> {
        var seen: Set<String> = []
        var stack = definition.step(id)?.needs ?? []
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: definition.step(next)?.needs ?? []) }
        }
        return seen
    }

    /// Run one step's compensation with its retry policy. Returns false when it failed for good.
    private func compensate(_ step: StepDefinition, _ record: inout StepRecord, pending: inout RunChanges) async throws -> Bool {
        let policy = step.compensateRetry
        let budgetStart = record.compensationAttempts + 1
        let own = record.outputs
        let call = step.compensate
        let action = env.registry.action(named: call?.action ?? step.call.action)
        let inputs: [String: InputValue]
        do {
            inputs = try (call ?? step.call).renderedInputs(templateContext(own: own))
        } catch {
            return try await recordCompensationFailure(step, &record, "cannot render compensation inputs: \(error)", final: true, pending: &pending)
        }
        guard let action else {
            return try await recordCompensationFailure(step, &record, "unknown action '\(call?.action ?? step.call.action)'", final: true, pending: &pending)
        }
        while true {
            record.status = .compensating
            record.compensationAttempts += 1
            let attempt = record.compensationAttempts
            pending.steps.append(record)
            pending.events.append(event(.compensationStarted, step: step.id, attempt: attempt, ["action": action.name]))
            try await writer.commit("compensation \(attempt) of \(step.id) started", pending)
            pending = RunChanges()
            let invocation = context.invocation(step: step.id, attempt: attempt, purpose: .compensation, inputs: inputs, stepOutputs: own)
            try writer.checkpoint(.beforeSideEffect(step: step.id, purpose: .compensation))
            var failure: ActionFailure?
            do {
                let outputs = try await context.withTimeout(step.timeout, what: "compensation of '\(step.id)'") {
                    if call != nil { return try await action.perform(invocation) }
                    return try await action.undo(invocation)
                }
                try writer.checkpoint(.afterSideEffect(step: step.id, purpose: .compensation))
                record.status = .compensated
                pending.steps.append(record)
                pending.events.append(event(.compensationSucceeded, step: step.id, attempt: attempt, context.redactor.redact(outputs)))
                return true
            } catch let halt as EngineHalt {
                throw halt
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as ActionFailure {
                if Task.isCancelled { throw CancellationError() }
                failure = error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                failure = ActionFailure(String(describing: error))
            }
            try writer.checkpoint(.afterSideEffect(step: step.id, purpose: .compensation))
            let failed = failure ?? ActionFailure("unknown failure")
            let canRetry = failed.retryable && attempt - budgetStart + 1 < policy.maxAttempts
            if !canRetry {
                return try await recordCompensationFailure(step, &record, failed.message, final: true, pending: &pending)
            }
            let delay = policy.delay(beforeAttempt: attempt - budgetStart + 2, random: env.random())
            pending.events.append(event(.compensationFailed, step: step.id, attempt: attempt, [
                "error": context.redactor.redact(failed.message), "retry_in": DurationText.format(delay),
            ]))
            try await writer.commit("compensation \(attempt) of \(step.id) failed", pending)
            pending = RunChanges()
            try await env.clock.sleep(for: delay)
        }
    }

    private func recordCompensationFailure(_ step: StepDefinition, _ record: inout StepRecord, _ message: String, final: Bool, pending: inout RunChanges) async throws -> Bool {
        record.status = .compensationFailed
        record.error = context.redactor.redact(message)
        pending.steps.append(record)
        pending.events.append(event(.compensationFailed, step: step.id, attempt: record.compensationAttempts, [
            "error": context.redactor.redact(message), "final": "true",
        ]))
        return false
    }
}
