import Foundation

/// The scheduling, retry, waiter, approval, pivot, rollback and compensation rules of one run, as a pure,
/// synchronous transition function: `apply(inputs, now:)` takes what happened and returns what to commit and
/// what to start. It performs nothing, sleeps nowhere and writes nothing; `RunDriver` commits its changes
/// (the only writer) and then starts its launches.
struct RunStateMachine {
    let definition: RunbookDefinition
    let context: StepContext
    private let order: [String]
    private let index: [String: Int]
    private let dependents: [String: [String]]

    private(set) var status: RunStatus
    private(set) var message: String?
    /// Every step's record as last decided.
    private(set) var steps: [String: StepRecord]
    private var outputs: [String: [String: String]] = [:]
    private var nextCompletionOrder: Int
    private var phase: Phase = .idle
    /// Steps with an action, poll, compensation or timer outstanding, and which.
    private var inFlight: [String: Activity] = [:]
    /// The first attempt number this driver used, per step: retries count from it.
    private var budgetStart: [String: Int] = [:]
    private var waiters: [String: WaiterProgress] = [:]
    /// The time of the transition being decided: every event and record of it carries this time.
    private var now: Int64 = 0
    /// The records of the steps the last transition starts, as they were before, and every step it launched:
    /// put back when the store refuses the launches.
    private var beforeLaunch: [String: StepRecord] = [:]
    private var launched: [String] = []

    private enum Phase {
        case idle
        case forward(Forward)
        case rollback(Rollback)
        case done
    }

    private enum Activity { case action, retryWait, poll, pollWait, compensation, compensationWait }

    private enum Stop { case interrupt, cancel, deadline }

    private struct Forward {
        var remainingNeeds: [String: Int] = [:]
        var ready: [Int] = []
        var relaunch: [String] = []
        var failure: String?
        var stop: Stop?
        var gated: [String] = []
    }

    private struct Rollback {
        var reason: RollbackReason
        var pivot: StepRecord?
        var toUndo: Set<String>
        var left: [String] = []
        var blocked: Set<String> = []
        var current: Compensation?
        var interrupted = false
    }

    private struct Compensation {
        var stepID: String
        var budgetStart: Int
        var call: StepCall
    }

    /// A waiter between polls: what it polls with and until when.
    private struct WaiterProgress {
        var actionOutputs: [String: String]
        var inputs: [String: InputValue]
        var interval: Duration
        var timeout: Duration
        var deadline: Int64
        var lastState = "unknown"
    }

    init(definition: RunbookDefinition, run: RunRecord, steps records: [StepRecord], context: StepContext) {
        self.definition = definition
        self.context = context
        status = run.status
        message = run.message
        let count = definition.steps.count
        var byID: [String: StepRecord] = [:]
        byID.reserveCapacity(count)
        for step in records { byID[step.stepID] = step }
        for step in definition.steps where byID[step.id] == nil {
            byID[step.id] = StepRecord(runID: run.id, stepID: step.id)
        }
        steps = byID
        order = definition.steps.map(\.id)
        var index: [String: Int] = [:]
        index.reserveCapacity(count)
        var dependents: [String: [String]] = [:]
        for (i, step) in definition.steps.enumerated() {
            index[step.id] = i
            for need in step.needs { dependents[need, default: []].append(step.id) }
        }
        self.index = index
        self.dependents = dependents
        nextCompletionOrder = (records.compactMap(\.completionOrder).max() ?? 0) + 1
        outputs.reserveCapacity(count)
        for step in records where step.status == .succeeded || step.status == .skipped || isTolerated(step) {
            outputs[step.stepID] = step.outputs
        }
    }

    /// A step that failed for good but is marked `on_failure: continue`: done, as far as its dependents go.
    private func isTolerated(_ record: StepRecord) -> Bool {
        record.status == .failed && step(record.stepID)?.continueOnFailure == true
    }

    /// Whether a step's dependents may start after it.
    private func isDone(_ id: String) -> Bool {
        guard let record = steps[id] else { return false }
        return record.status == .succeeded || record.status == .skipped || isTolerated(record)
    }

    /// Records in the definition's order.
    var orderedSteps: [StepRecord] { order.compactMap { steps[$0] } }

    // MARK: - The transition function

    /// Apply everything that has arrived since the last transition (several step completions become one
    /// checkpoint), then schedule what can run next.
    mutating func apply(_ inputs: [RunInput], now: Int64) -> Transition {
        var t = Transition()
        self.now = now
        let previous = beforeLaunch
        beforeLaunch = [:]
        for input in inputs {
            if case .launchesRefused = input { refuseLaunches(previous, &t) } else { handle(input, now, &t) }
        }
        settle(now, &t)
        launched = t.launches.map(\.stepID)
        return t
    }

    /// The last transition's launches were not written (a cancel was recorded first): its steps are as they
    /// were, none of its launches runs, and the run is cancelled.
    private mutating func refuseLaunches(_ previous: [String: StepRecord], _ t: inout Transition) {
        for (id, record) in previous { steps[id] = record }
        for id in launched { inFlight[id] = nil }
        stopForward(.cancel, &t)
    }

    private mutating func handle(_ input: RunInput, _ now: Int64, _ t: inout Transition) {
        switch input {
        case .forward: beginForward()
        case .retryForward: resetFailedSteps(now, &t)
        case .rollback(let reason, let retryFailed): beginRollback(reason, retryFailed: retryFailed, now, &t)
        case .actionFinished(let id, let outcome): actionFinished(id, outcome, now, &t)
        case .pollFinished(let id, let outcome): pollFinished(id, outcome, now, &t)
        case .compensationFinished(let id, let outcome): compensationFinished(id, outcome, now, &t)
        case .timerFired(let id): timerFired(id, now, &t)
        case .stopped(let id): stopped(id)
        case .cancelRequested: stopForward(.cancel, &t)
        case .deadlinePassed: stopForward(.deadline, &t)
        case .interrupted: interrupt(&t)
        case .launchesRefused: break
        }
    }

    /// After the inputs: start what can start, or end the phase when nothing is left in flight.
    private mutating func settle(_ now: Int64, _ t: inout Transition) {
        if var forward = takeForward() {
            if forward.failure == nil && forward.stop == nil { schedule(&forward, now, &t) }
            phase = .forward(forward)
            if inFlight.isEmpty { finishForward(forward, now, &t) }
        } else if case .rollback = phase {
            advanceRollback(now, &t)
        }
    }

    /// The forward state, moved out of `phase` (left `.idle` until the caller puts it back) so that changing it
    /// changes it in place: a copy still held by `phase` would make every step copy its tables.
    private mutating func takeForward() -> Forward? {
        guard case .forward(let forward) = phase else { return nil }
        phase = .idle
        return forward
    }

    private func event(_ kind: EventKind, step: String? = nil, attempt: Int? = nil, _ detail: [String: String] = [:]) -> NewEvent {
        context.event(kind, step: step, attempt: attempt, detail, at: now)
    }

    private func templateContext(own: [String: String] = [:]) -> TemplateContext {
        TemplateContext(params: context.parameters, stepOutputs: outputs, ownOutputs: own, runID: context.runID, runbook: definition.name)
    }

    /// The definition's step `id`, by its index (a search of the definition would copy every step before it).
    private func step(_ id: String) -> StepDefinition? {
        index[id].map { definition.steps[$0] }
    }

    private func isGate(_ step: StepDefinition) -> Bool {
        step.approvalRequired || context.registry.action(named: step.call.action)?.isApprovalGate == true
    }

    private var succeededPivot: StepRecord? {
        definition.steps.filter(\.irreversible).compactMap { steps[$0.id] }
            .filter { $0.status == .succeeded }.max { ($0.completionOrder ?? 0) < ($1.completionOrder ?? 0) }
    }

    // MARK: - Forward

    private mutating func beginForward() {
        var forward = Forward()
        for (i, step) in definition.steps.enumerated() {
            guard let record = steps[step.id] else { continue }
            switch record.status {
            case .running, .waiting: forward.relaunch.append(step.id)
            case .failed where step.continueOnFailure: break
            case .failed: forward.failure = forward.failure ?? "step '\(step.id)' failed: \(record.error ?? "no detail")"
            case .pending:
                let open = step.needs.filter { !isDone($0) }.count
                forward.remainingNeeds[step.id] = open
                if open == 0 { forward.ready.append(i) }
            default: break
            }
        }
        if forward.failure != nil { forward.relaunch.removeAll() }
        phase = .forward(forward)
    }

    /// Forward recovery after a pivot: failed steps are pending again, with a fresh retry budget.
    private mutating func resetFailedSteps(_ now: Int64, _ t: inout Transition) {
        for id in order where steps[id]?.status == .failed {
            guard var record = steps[id] else { continue }
            record.status = .pending
            record.error = nil
            record.completionOrder = nil
            record.finishedAt = nil
            record.waiterDeadline = nil
            steps[id] = record
            t.write(record)
            t.record(event(.runStatus, step: id, ["retry_forward": "true"]))
        }
        status = .running
        message = nil
        t.setStatus(.running, message: nil)
        t.record(event(.runStatus, ["status": RunStatus.running.rawValue]))
        t.label = "retry forward"
        beginForward()
    }

    /// Relaunch steps that were in flight when the previous driver stopped, then start ready steps up to the
    /// run's parallelism, passing approval gates (`--yes`) and evaluating `when:`.
    private mutating func schedule(_ forward: inout Forward, _ now: Int64, _ t: inout Transition) {
        for id in forward.relaunch { relaunch(id, &forward, now, &t) }
        forward.relaunch.removeAll()
        forward.gated.removeAll()
        var position = 0
        while position < forward.ready.count && inFlight.count < max(1, context.options.parallelism) {
            let step = definition.steps[forward.ready[position]]
            guard var record = steps[step.id] else { forward.ready.remove(at: position); continue }
            var approval: [NewEvent] = []
            if isGate(step) && record.approvedBy == nil {
                guard context.options.autoApprove else {
                    forward.gated.append(step.id)
                    position += 1
                    continue
                }
                record.approvedBy = "\(context.actor.user) (--yes)"
                var detail = ["by": context.actor.user, "host": context.actor.host, "via": "--yes"]
                if let arn = context.callerARN { detail["caller_arn"] = arn }
                approval.append(event(.stepApproved, step: step.id, detail))
            }
            forward.ready.remove(at: position)
            switch evaluateWhen(step) {
            case .failure(let error):
                steps[step.id] = record
                t.changes.events += approval
                stepFailed(step.id, error: "when: \(error)", fromWaiter: true, forward: &forward, now, &t)
                return
            case .success(false):
                skip(step, record, approval: approval, &forward, now, &t)
                position = 0
            case .success(true):
                start(step, record, approval: approval, &forward, now, &t)
            }
        }
    }

    /// `when:` is false: the step is skipped (with its `--yes` approval, if any), which may ready its dependents.
    private mutating func skip(_ step: StepDefinition, _ record: StepRecord, approval: [NewEvent], _ forward: inout Forward,
                               _ now: Int64, _ t: inout Transition) {
        var record = record
        record.status = .skipped
        record.finishedAt = now
        steps[step.id] = record
        outputs[step.id] = [:]
        t.write(record)
        t.changes.events += approval
        t.record(event(.stepSkipped, step: step.id, ["when": step.when ?? ""]))
        markDone(step.id, &forward)
    }

    /// Start the step's first attempt (with its `--yes` approval, if any): written only if no cancel is recorded.
    private mutating func start(_ step: StepDefinition, _ record: StepRecord, approval: [NewEvent], _ forward: inout Forward,
                                _ now: Int64, _ t: inout Transition) {
        // What the step goes back to (without the approval) when the store refuses the launch.
        beforeLaunch[step.id] = steps[step.id]
        var record = record
        record.status = .running
        record.attempts += 1
        record.startedAt = record.startedAt ?? now
        steps[step.id] = record
        t.launching.steps.append(record)
        // One event says the step and its attempt started; later attempts get `attempt_started`.
        t.launching.events += approval + [event(.stepStarted, step: step.id, attempt: record.attempts, ["action": step.call.action])]
        budgetStart[step.id] = record.attempts
        launchAction(step, record, &forward, now, &t)
    }

    private func evaluateWhen(_ step: StepDefinition) -> Result<Bool, TemplateError> {
        guard let when = step.when else { return .success(true) }
        do {
            return .success(Template.isTruthy(try Template.render(when, templateContext())))
        } catch {
            return .failure(error)
        }
    }

    /// A step in flight when the previous driver stopped runs again (actions are idempotent); a waiting
    /// step goes on polling with its original deadline.
    private mutating func relaunch(_ id: String, _ forward: inout Forward, _ now: Int64, _ t: inout Transition) {
        guard let step = step(id), var record = steps[id] else { return }
        budgetStart[id] = record.attempts + (record.status == .running ? 1 : 0)
        if record.status == .waiting {
            startWaiter(step, record, &forward, now, &t)
            return
        }
        beforeLaunch[id] = record
        record.attempts += 1
        steps[id] = record
        t.launching.steps.append(record)
        t.launching.events.append(event(.attemptStarted, step: id, attempt: record.attempts, ["resumed": "true"]))
        launchAction(step, record, &forward, now, &t)
    }

    private mutating func launchAction(_ step: StepDefinition, _ record: StepRecord, _ forward: inout Forward, _ now: Int64, _ t: inout Transition) {
        let inputs: [String: InputValue]
        do {
            guard context.registry.action(named: step.call.action) != nil else { throw ActionFailure("unknown action '\(step.call.action)'") }
            inputs = try step.call.renderedInputs(templateContext())
        } catch {
            // Nothing is launched: the start is recorded with the failure, whatever a cancel does.
            t.commitLaunch(of: step.id)
            beforeLaunch[step.id] = nil
            stepFailed(step.id, error: "\(error)", forward: &forward, now, &t)
            return
        }
        inFlight[step.id] = .action
        t.launches.append(.perform(StepCall(
            step: step, actionName: step.call.action, attempt: record.attempts, purpose: .action, inputs: inputs,
            stepOutputs: [:], limit: step.timeout, what: "step '\(step.id)' attempt \(record.attempts)")))
    }

    private mutating func markDone(_ id: String, _ forward: inout Forward) {
        for dependent in dependents[id] ?? [] {
            guard let open = forward.remainingNeeds[dependent] else { continue }
            forward.remainingNeeds[dependent] = open - 1
            if open - 1 == 0, let i = index[dependent] {
                let position = forward.ready.firstIndex { $0 > i } ?? forward.ready.endIndex
                forward.ready.insert(i, at: position)
            }
        }
    }

    /// End `record` in `status` now, in completion order, and write it with `extra` events.
    private mutating func finish(_ record: inout StepRecord, _ status: StepStatus, error: String?, extra: [NewEvent], _ t: inout Transition) {
        record.status = status
        record.finishedAt = now
        record.error = error
        record.completionOrder = nextCompletionOrder
        nextCompletionOrder += 1
        steps[record.stepID] = record
        t.write(record)
        t.changes.events.append(contentsOf: extra)
    }

    private mutating func stepSucceeded(_ id: String, _ record: StepRecord, extra: [NewEvent] = [], _ now: Int64, _ t: inout Transition) {
        var record = record
        finish(&record, .succeeded, error: nil, extra: extra, &t)
        outputs[id] = record.outputs
        // Carries the attempt that succeeded and the step's outputs.
        t.record(event(.stepSucceeded, step: id, attempt: record.attempts, record.outputs))
        t.label = "checkpoint"
        if var forward = takeForward() {
            markDone(id, &forward)
            phase = .forward(forward)
        }
    }

    /// A step failed for good: record it, and no new step starts (running ones finish).
    private mutating func stepFailed(_ id: String, error: String, fromWaiter: Bool = false, extra: [NewEvent] = [],
                                     forward: inout Forward, _ now: Int64, _ t: inout Transition) {
        guard var record = steps[id] else { return }
        finish(&record, .failed, error: error, extra: extra, &t)
        if !fromWaiter {
            var detail = record.outputs
            detail["error"] = error
            t.record(event(.attemptFailed, step: id, attempt: record.attempts, detail))
        }
        t.record(event(.stepFailed, step: id, attempt: record.attempts, ["error": error]))
        if step(id)?.continueOnFailure == true {
            outputs[id] = record.outputs
            markDone(id, &forward)
        } else {
            forward.failure = forward.failure ?? "step '\(id)' failed: \(error)"
        }
    }

    /// `stepFailed` from a handler outside `schedule`, where the forward state is in `phase`.
    private mutating func failStep(_ id: String, error: String, fromWaiter: Bool = false, extra: [NewEvent] = [], _ now: Int64, _ t: inout Transition) {
        guard var forward = takeForward() else { return }
        stepFailed(id, error: error, fromWaiter: fromWaiter, extra: extra, forward: &forward, now, &t)
        phase = .forward(forward)
    }

    private mutating func actionFinished(_ id: String, _ outcome: ActionOutcome, _ now: Int64, _ t: inout Transition) {
        inFlight[id] = nil
        guard let step = step(id), var record = steps[id] else { return }
        switch outcome {
        case .succeeded(let raw):
            record.outputs = context.redactor.redact(raw)
            record.error = nil
            steps[id] = record
            guard step.wait != nil else {
                // `step_succeeded` records the attempt and its outputs; a separate `attempt_succeeded` would repeat it.
                stepSucceeded(id, record, now, &t)
                return
            }
            guard var forward = takeForward() else { return }
            startWaiter(step, record, &forward, now, &t)
            phase = .forward(forward)
        case .failed(let failure):
            let error = context.redactor.redact(failure.message)
            let budget = budgetStart[id] ?? record.attempts
            var detail = context.redactor.redact(failure.outputs)
            detail["error"] = error
            guard failure.retryable && record.attempts - budget + 1 < step.retry.maxAttempts else {
                record.outputs = context.redactor.redact(failure.outputs)
                steps[id] = record
                failStep(id, error: error, fromWaiter: record.waiterDeadline != nil, now, &t)
                return
            }
            let delay = step.retry.delay(beforeAttempt: record.attempts - budget + 2, random: context.random())
            detail["retry_in"] = DurationText.format(delay)
            record.error = error
            steps[id] = record
            t.write(record)
            t.record(event(.attemptFailed, step: id, attempt: record.attempts, detail))
            t.label = "attempt \(record.attempts) of \(id) failed"
            inFlight[id] = .retryWait
            t.launches.append(.timer(step: id, after: delay))
        }
    }

    private mutating func timerFired(_ id: String, _ now: Int64, _ t: inout Transition) {
        let activity = inFlight[id]
        inFlight[id] = nil
        switch activity {
        case .retryWait:
            guard let step = step(id), var record = steps[id], var forward = takeForward() else { return }
            record.attempts += 1
            steps[id] = record
            t.write(record)
            t.record(event(.attemptStarted, step: id, attempt: record.attempts))
            t.label = "attempt \(record.attempts) of \(id) started"
            launchAction(step, record, &forward, now, &t)
            phase = .forward(forward)
        case .pollWait:
            launchPoll(id, now, &t)
        case .compensationWait:
            restartCompensation(now, &t)
        default:
            break
        }
    }

    private mutating func stopped(_ id: String) {
        inFlight[id] = nil
        if case .rollback(var rollback) = phase, rollback.current?.stepID == id {
            rollback.current = nil
            rollback.interrupted = true
            phase = .rollback(rollback)
        }
    }

    private mutating func stopForward(_ stop: Stop, _ t: inout Transition) {
        guard case .forward(var forward) = phase, forward.stop == nil else { return }
        forward.stop = stop
        if stop == .deadline { forward.failure = forward.failure ?? "the run's deadline passed" }
        phase = .forward(forward)
        t.stopInFlight = true
    }

    private mutating func interrupt(_ t: inout Transition) {
        switch phase {
        case .forward:
            stopForward(.interrupt, &t)
        case .rollback(var rollback):
            rollback.interrupted = true
            phase = .rollback(rollback)
            t.stopInFlight = true
        case .idle, .done:
            break
        }
    }

    /// Nothing is in flight any more: the run succeeds, pauses, stops, fails after its pivot or rolls back.
    private mutating func finishForward(_ forward: Forward, _ now: Int64, _ t: inout Transition) {
        switch forward.stop {
        case .interrupt:
            // Ctrl-C / SIGTERM: `resume` continues.
            t.label = "interrupted"
            finish(.interrupted, "interrupted; run `runbook resume \(context.runID)` to continue", event: .runStatus, &t)
            return
        case .cancel:
            beginRollback(.cancel, retryFailed: false, now, &t)
            advanceRollback(now, &t)
            return
        case .deadline, nil:
            break
        }
        if let failure = forward.failure {
            if let pivot = succeededPivot {
                t.label = "failed after pivot"
                finish(.failed, "\(failure). Not rolling back past irreversible step '\(pivot.stepID)', which has succeeded; fix the cause and run `runbook resume \(context.runID)` to retry forward",
                       event: .runFinished, finishedAt: now, &t)
                return
            }
            beginRollback(.failure(failure), retryFailed: false, now, &t)
            advanceRollback(now, &t)
            return
        }
        if !forward.gated.isEmpty {
            for id in forward.gated { t.record(event(.approvalRequested, step: id)) }
            t.label = "awaiting approval"
            finish(.awaitingApproval, "waiting for approval of step \(forward.gated.map { "'\($0)'" }.joined(separator: ", ")): run `runbook approve \(context.runID) \(forward.gated[0])`",
                   event: .runStatus, &t)
            return
        }
        let unfinished = order.filter { !isDone($0) }
        if !unfinished.isEmpty {
            // Nothing can run (e.g. every remaining step depends on a gated one): report, do not loop.
            t.label = "stuck"
            finish(.interrupted, "no step can run; unfinished: \(unfinished.joined(separator: ", "))", event: .runStatus, &t)
            return
        }
        let exceptions = order.compactMap { steps[$0] }.filter(isTolerated)
        if !exceptions.isEmpty {
            t.label = "completed with exceptions"
            let what = exceptions.map { "step '\($0.stepID)' did not succeed (\($0.error ?? "no detail"))" }.joined(separator: "; ")
            finish(.completedWithExceptions, "\(what); every other step completed: fix the cause and run `runbook resume \(context.runID)` to run it again",
                   event: .runFinished, finishedAt: now, &t)
            return
        }
        t.label = "finished"
        finish(.succeeded, nil, event: .runFinished, finishedAt: now, &t)
    }

    /// End the drive in `status`, recorded by a `run_status` or `run_finished` event.
    private mutating func finish(_ status: RunStatus, _ message: String?, event kind: EventKind, finishedAt: Int64? = nil, _ t: inout Transition) {
        var detail = ["status": status.rawValue]
        if kind == .runFinished, let message { detail["message"] = message }
        if kind == .runFinished, !definition.objectives.isEmpty {
            // Only steps that stand at the end count: a compensated step's figures measured something undone.
            let standing = outputs.filter { isDone($0.key) }
            let results = definition.objectives.map { $0.evaluate(parameters: context.parameters, outputs: standing) }
            t.record(event(.objectivesEvaluated, ObjectiveResult.eventDetail(results)))
        }
        t.setStatus(status, message: message, finishedAt: finishedAt)
        t.record(event(kind, detail))
        self.status = status
        self.message = message
        phase = .done
        t.finished = status
    }
}

// MARK: - Waiters

extension RunStateMachine {
    /// The action succeeded (or a resumed step was waiting): record the waiter's start once, then poll.
    private mutating func startWaiter(_ step: StepDefinition, _ record: StepRecord, _ forward: inout Forward, _ now: Int64, _ t: inout Transition) {
        guard let wait = step.wait else { return }
        var record = record
        let fromWaiter = record.status == .waiting
        guard context.registry.action(named: wait.call.action) != nil else {
            stepFailed(step.id, error: "unknown waiter action '\(wait.call.action)'", fromWaiter: fromWaiter, forward: &forward, now, &t)
            return
        }
        let interval: Duration, timeout: Duration
        do {
            (interval, timeout) = try wait.durations(parameters: context.parameters)
        } catch {
            stepFailed(step.id, error: "step '\(step.id)': \(error)", fromWaiter: fromWaiter, forward: &forward, now, &t)
            return
        }
        if record.status != .waiting {
            record.status = .waiting
            record.waiterDeadline = now + DurationText.milliseconds(timeout)
            steps[step.id] = record
            t.write(record)
            t.record(event(.attemptSucceeded, step: step.id, attempt: record.attempts, record.outputs))
            t.record(event(.waiterStarted, step: step.id, attempt: record.attempts, [
                "until": "\(wait.until.output) in [\(wait.until.values.joined(separator: ", "))]",
                "timeout": DurationText.format(timeout), "interval": DurationText.format(interval),
            ]))
            t.label = "waiter of \(step.id) started"
        }
        let inputs: [String: InputValue]
        do {
            inputs = try wait.call.renderedInputs(templateContext(own: record.outputs))
        } catch {
            stepFailed(step.id, error: "waiter of step '\(step.id)': \(error)", fromWaiter: true, forward: &forward, now, &t)
            return
        }
        waiters[step.id] = WaiterProgress(actionOutputs: record.outputs, inputs: inputs, interval: interval, timeout: timeout,
                                          deadline: record.waiterDeadline ?? (now + DurationText.milliseconds(timeout)))
        launchPoll(step.id, now, &t)
    }

    private mutating func launchPoll(_ id: String, _ now: Int64, _ t: inout Transition) {
        guard let step = step(id), let wait = step.wait, let waiter = waiters[id], let record = steps[id] else { return }
        let poll = record.polls + 1
        let remaining = Duration.milliseconds(max(Int64(1), waiter.deadline - now))
        inFlight[id] = .poll
        t.launches.append(.perform(StepCall(
            step: step, actionName: wait.call.action, attempt: poll, purpose: .poll, inputs: waiter.inputs,
            stepOutputs: waiter.actionOutputs, limit: min(step.timeout ?? remaining, remaining), what: "waiter poll \(poll) of '\(id)'")))
    }

    /// Classify a poll, record it, and succeed, fail, time out or poll again after the interval.
    private mutating func pollFinished(_ id: String, _ outcome: ActionOutcome, _ now: Int64, _ t: inout Transition) {
        inFlight[id] = nil
        guard let wait = step(id)?.wait, var waiter = waiters[id], var record = steps[id] else { return }
        let poll = record.polls + 1
        let (verdict, pollOutputs, detail) = classify(outcome, wait, &waiter)
        var recorded = detail
        recorded["result"] = verdict.recorded
        recorded["state"] = waiter.lastState
        record.polls = poll
        waiters[id] = waiter
        let pollEvent = event(.waiterPoll, step: id, attempt: poll, recorded)
        switch verdict {
        case .satisfied:
            record.outputs = waiter.actionOutputs.merging(pollOutputs) { _, new in new }
            record.status = .running
            record.error = nil
            steps[id] = record
            // The poll event is committed together with the step's success.
            stepSucceeded(id, record, extra: [pollEvent], now, &t)
        case .failure:
            steps[id] = record
            failStep(id, error: "waiter of step '\(id)' saw failure state '\(waiter.lastState)' on poll \(poll)", fromWaiter: true, extra: [pollEvent], now, &t)
        case .pending, .error:
            steps[id] = record
            if now >= waiter.deadline {
                failStep(id, error: "waiter of step '\(id)' timed out after \(DurationText.format(waiter.timeout)) (\(poll) polls, last state '\(waiter.lastState)')",
                         fromWaiter: true, extra: [pollEvent], now, &t)
                return
            }
            t.write(record)
            t.record(pollEvent)
            t.label = "poll \(poll) of \(id)"
            inFlight[id] = .pollWait
            let wake = min(DurationText.milliseconds(waiter.interval), max(0, waiter.deadline - now))
            t.launches.append(.timer(step: id, after: .milliseconds(wake)))
        }
    }

    /// The poll's verdict, its redacted outputs, and the detail its event records; updates the last state seen.
    private func classify(_ outcome: ActionOutcome, _ wait: WaiterDefinition, _ waiter: inout WaiterProgress)
        -> (PollVerdict, [String: String], [String: String]) {
        switch outcome {
        case .succeeded(let raw):
            let pollOutputs = context.redactor.redact(raw)
            waiter.lastState = pollOutputs[wait.until.output] ?? "(no \(wait.until.output))"
            if wait.until.matches(pollOutputs) { return (.satisfied, pollOutputs, pollOutputs) }
            if let failIf = wait.failIf, failIf.matches(pollOutputs) {
                waiter.lastState = pollOutputs[failIf.output] ?? waiter.lastState
                return (.failure, pollOutputs, pollOutputs)
            }
            return (.pending, pollOutputs, pollOutputs)
        case .failed(let failure):
            waiter.lastState = "error: \(context.redactor.redact(failure.message))"
            return (failure.retryable ? .error : .failure, [:], ["error": failure.message])
        }
    }
}

// MARK: - Rollback

extension RunStateMachine {
    /// Compensate, in reverse order of completion and never before a step's dependents, every step whose
    /// action started (a failed or interrupted step may have done part of its work), never past an
    /// irreversible step that has succeeded.
    private mutating func beginRollback(_ reason: RollbackReason, retryFailed: Bool, _ now: Int64, _ t: inout Transition) {
        if retryFailed {
            for id in order where steps[id]?.status == .compensationFailed { steps[id]?.status = .compensating }
            if status == .rollbackFailed { status = .running }
        }
        if status != .rollingBack {
            t.setStatus(.rollingBack, message: "rolling back: \(reason.text)")
            t.record(event(.rollbackStarted, ["reason": reason.text]))
            status = .rollingBack
        }
        let pivot = succeededPivot
        let pivotAncestors = pivot.map { ancestors(of: $0.stepID).union([$0.stepID]) } ?? []
        let started: Set<StepStatus> = [.succeeded, .failed, .running, .waiting, .compensating, .compensationFailed]
        let toUndo = Set(order.filter { id in
            guard let record = steps[id], started.contains(record.status) else { return false }
            if pivotAncestors.contains(id) { return false }
            if let pivot, let done = record.completionOrder, let pivotOrder = pivot.completionOrder, done < pivotOrder { return false }
            return true
        })
        phase = .rollback(Rollback(reason: reason, pivot: pivot, toUndo: toUndo))
    }

    /// Take the next step to undo (none while a compensation is in flight), or end the rollback.
    private mutating func advanceRollback(_ now: Int64, _ t: inout Transition) {
        guard case .rollback(var rollback) = phase, rollback.current == nil, inFlight.isEmpty else { return }
        defer { if case .rollback = phase { phase = .rollback(rollback) } }
        if rollback.interrupted {
            t.changes.message = .some("interrupted during rollback; run `runbook resume \(context.runID)` to continue it")
            t.label = "rollback interrupted"
            phase = .done
            t.finished = .rollingBack
            return
        }
        while !rollback.toUndo.isEmpty {
            // Candidates: no dependent of theirs is still waiting to be undone.
            let candidates = rollback.toUndo.filter { id in !(dependents[id] ?? []).contains { rollback.toUndo.contains($0) } }
            guard let id = candidates.max(by: { rank($0) < rank($1) }) else { break }
            rollback.toUndo.remove(id)
            if rollback.blocked.contains(id) {
                rollback.left.append(id)
                continue
            }
            guard let step = step(id), var record = steps[id] else { continue }
            let action = context.registry.action(named: step.call.action)
            guard step.compensate != nil || (action?.hasUndo ?? false) else {
                if [.succeeded, .compensating, .compensationFailed].contains(record.status) { record.status = .compensated }
                steps[id] = record
                t.write(record)
                t.record(event(.compensationNotNeeded, step: id, ["reason": "the step has no compensation: nothing to undo"]))
                continue
            }
            switch compensationCall(step, record) {
            case .success(let call):
                rollback.current = Compensation(stepID: id, budgetStart: record.compensationAttempts + 1, call: call)
                phase = .rollback(rollback)
                startCompensation(&rollback, &t)
                return
            case .failure(let error):
                compensationFailedForGood(id, error.message, &rollback, &t)
            }
        }
        finishRollback(rollback, now, &t)
    }

    private func compensationCall(_ step: StepDefinition, _ record: StepRecord) -> Result<StepCall, ActionFailure> {
        let call = step.compensate
        let name = call?.action ?? step.call.action
        guard context.registry.action(named: name) != nil else { return .failure(ActionFailure("unknown action '\(name)'")) }
        do {
            let inputs = try (call ?? step.call).renderedInputs(templateContext(own: record.outputs))
            return .success(StepCall(step: step, actionName: name, attempt: 0, purpose: .compensation, inputs: inputs,
                                     stepOutputs: record.outputs, limit: step.timeout, what: "compensation of '\(step.id)'", undo: call == nil))
        } catch {
            return .failure(ActionFailure("cannot render compensation inputs: \(error)"))
        }
    }

    /// Record the compensation's next attempt as started; its action runs once that is committed.
    private mutating func startCompensation(_ rollback: inout Rollback, _ t: inout Transition) {
        guard var current = rollback.current, var record = steps[current.stepID] else { return }
        record.status = .compensating
        record.compensationAttempts += 1
        steps[current.stepID] = record
        current.call.attempt = record.compensationAttempts
        rollback.current = current
        t.write(record)
        t.record(event(.compensationStarted, step: current.stepID, attempt: record.compensationAttempts, ["action": current.call.actionName]))
        t.label = "compensation \(record.compensationAttempts) of \(current.stepID) started"
        inFlight[current.stepID] = .compensation
        t.launches.append(.perform(current.call))
    }

    private mutating func restartCompensation(_ now: Int64, _ t: inout Transition) {
        guard case .rollback(var rollback) = phase else { return }
        startCompensation(&rollback, &t)
        phase = .rollback(rollback)
    }

    private mutating func compensationFinished(_ id: String, _ outcome: ActionOutcome, _ now: Int64, _ t: inout Transition) {
        inFlight[id] = nil
        guard case .rollback(var rollback) = phase, let current = rollback.current, current.stepID == id,
              var record = steps[id], let step = step(id) else { return }
        switch outcome {
        case .succeeded(let raw):
            record.status = .compensated
            steps[id] = record
            t.write(record)
            t.record(event(.compensationSucceeded, step: id, attempt: record.compensationAttempts, context.redactor.redact(raw)))
            rollback.current = nil
        case .failed(let failure):
            let attempt = record.compensationAttempts
            guard failure.retryable && attempt - current.budgetStart + 1 < step.compensateRetry.maxAttempts else {
                rollback.current = nil
                compensationFailedForGood(id, failure.message, &rollback, &t)
                break
            }
            let delay = step.compensateRetry.delay(beforeAttempt: attempt - current.budgetStart + 2, random: context.random())
            t.record(event(.compensationFailed, step: id, attempt: attempt, [
                "error": context.redactor.redact(failure.message), "retry_in": DurationText.format(delay),
            ]))
            t.label = "compensation \(attempt) of \(id) failed"
            inFlight[id] = .compensationWait
            t.launches.append(.timer(step: id, after: delay))
        }
        phase = .rollback(rollback)
    }

    private mutating func compensationFailedForGood(_ id: String, _ message: String, _ rollback: inout Rollback, _ t: inout Transition) {
        guard var record = steps[id] else { return }
        record.status = .compensationFailed
        record.error = context.redactor.redact(message)
        steps[id] = record
        t.write(record)
        t.record(event(.compensationFailed, step: id, attempt: record.compensationAttempts, [
            "error": context.redactor.redact(message), "final": "true",
        ]))
        rollback.left.append(id)
        rollback.blocked.formUnion(ancestors(of: id))
    }

    private mutating func finishRollback(_ rollback: Rollback, _ now: Int64, _ t: inout Transition) {
        guard rollback.left.isEmpty else {
            let names = rollback.left.sorted { (index[$0] ?? 0) < (index[$1] ?? 0) }
            t.label = "rollback failed"
            finish(.rollbackFailed, "rollback incomplete: left to undo: \(names.joined(separator: ", ")); fix the cause and run `runbook rollback \(context.runID)` to try again",
                   event: .runFinished, finishedAt: now, &t)
            return
        }
        let message: String
        switch rollback.reason {
        case .failure(let text): message = "\(text); rolled back"
        case .cancel: message = "cancelled and rolled back"
        case .requested: message = rollback.pivot.map { "rolled back to irreversible step '\($0.stepID)'" } ?? "rolled back on request"
        }
        t.label = "rolled back"
        finish(rollback.reason == .cancel ? .cancelled : .rolledBack, message, event: .runFinished, finishedAt: now, &t)
    }

    /// Later completions first; steps still in flight count as latest.
    private func rank(_ id: String) -> Int {
        steps[id]?.completionOrder ?? Int.max - (index[id] ?? 0)
    }

    private func ancestors(of id: String) -> Set<String> {
        var seen: Set<String> = []
        var stack = step(id)?.needs ?? []
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack.append(contentsOf: step(next)?.needs ?? []) }
        }
        return seen
    }
}

extension Launch {
    /// The step this launch belongs to.
    var stepID: String {
        switch self {
        case .perform(let call): return call.step.id
        case .timer(let step, _): return step
        }
    }
}
