import Foundation

/// The engine crashed on purpose at a checkpoint (tests), or lost its lease: stop without another write.
struct EngineHalt: Error {
    var underlying: any Error
}

/// Commits checkpoints for one run under its lease, calling the checkpoint hook around each and reporting
/// the committed events as progress.
struct RunWriter: Sendable {
    let store: any RunStore
    let runID: String
    let leaseToken: String
    let hook: (@Sendable (Checkpoint) throws -> Void)?
    let progress: @Sendable (ProgressEvent) -> Void

    func checkpoint(_ point: Checkpoint) throws {
        guard let hook else { return }
        do { try hook(point) } catch { throw EngineHalt(underlying: error) }
    }

    func commit(_ label: String, _ changes: RunChanges) async throws {
        guard !changes.isEmpty else { return }
        try checkpoint(.beforeCommit(label))
        do {
            try await store.commit(runID: runID, leaseToken: leaseToken, changes)
        } catch let error as RunStoreError where error.code == .leaseLost {
            throw EngineHalt(underlying: error)
        }
        try checkpoint(.afterCommit(label))
        report(changes.events)
    }

    /// Commit `changes` and, unless a cancel has been requested, `launches` (see `RunStore`); returns
    /// whether a cancel has been requested.
    func commit(_ label: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool {
        guard !changes.isEmpty || !launches.isEmpty else { return false }
        try checkpoint(.beforeCommit(label))
        let cancelRequested: Bool
        do {
            cancelRequested = try await store.commit(runID: runID, leaseToken: leaseToken, changes, launching: launches)
        } catch let error as RunStoreError where error.code == .leaseLost {
            throw EngineHalt(underlying: error)
        }
        try checkpoint(.afterCommit(label))
        report(changes.events + (cancelRequested ? [] : launches.events))
        return cancelRequested
    }

    private func report(_ events: [NewEvent]) {
        for event in events {
            progress(ProgressEvent(runID: runID, stepID: event.stepID, attempt: event.attempt, kind: event.kind, detail: event.detail, at: event.at))
        }
    }
}

/// How a step's execution ended, reported to the coordinator.
enum StepOutcome: Sendable {
    /// The action (and its waiter) succeeded; `record` carries the outputs, not yet marked succeeded;
    /// `events` (the last poll) are committed together with the step's success.
    case succeeded(StepRecord, events: [NewEvent])
    /// Failed for good; `record` carries the error.
    case failed(StepRecord, String)
    /// Stopped by cancellation (Ctrl-C, cancel request, deadline); the step stays running and is re-run on resume.
    case stopped(StepRecord)
    /// Crash or lost lease: stop everything without another write.
    case halted(any Error)
}

/// Shared, read-only context for running steps of one run.
struct StepContext: Sendable {
    let runID: String
    let runbook: String
    let parameters: [String: String]
    let secretNames: Set<String>
    let workingDirectory: String
    let registry: ActionRegistry
    let clock: any EngineClock
    let random: @Sendable () -> Double
    let actor: ActorIdentity
    let redactor: Redactor
    let writer: RunWriter

    func event(_ kind: EventKind, step: String?, attempt: Int? = nil, _ detail: [String: String] = [:]) -> NewEvent {
        NewEvent(stepID: step, attempt: attempt, kind: kind, detail: redactor.redact(detail), at: clock.now(), actor: actor)
    }

    func invocation(step: String, attempt: Int, purpose: InvocationPurpose, inputs: [String: InputValue], stepOutputs: [String: String]) -> ActionInvocation {
        ActionInvocation(
            runID: runID, runbook: runbook, stepID: step, attempt: attempt, purpose: purpose, inputs: inputs,
            parameters: parameters, secretParameterNames: secretNames, workingDirectory: workingDirectory,
            stepOutputs: stepOutputs, recordProcess: { process in
                var detail = process.detail
                detail["purpose"] = purpose.rawValue
                try await writer.commit("process of \(step) started", RunChanges(
                    events: [event(.processStarted, step: step, attempt: attempt, detail)]))
            })
    }

    /// Run `body` with an optional time limit; a timeout is a retryable failure.
    func withTimeout<T: Sendable>(_ limit: Duration?, what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let limit else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            if let value = first { return value }
            throw ActionFailure("\(what) timed out after \(DurationText.format(limit))", retryable: true)
        }
    }
}

/// Runs one step: its attempts with retries and timeouts, then its waiter, recording each attempt and poll.
struct StepRunner: Sendable {
    let context: StepContext
    let step: StepDefinition
    /// Rendered action inputs.
    let inputs: [String: InputValue]
    /// The waiter's inputs are rendered after the action, with the action's outputs.
    let renderWaiterInputs: @Sendable ([String: String]) throws -> [String: InputValue]
    /// The first attempt number this driver may use; attempts before it belong to earlier processes.
    let budgetStart: Int

    func run(_ start: StepRecord) async -> StepOutcome {
        do {
            var record = start
            if record.status != .waiting {
                record = try await runAttempts(record)
                if record.status == .failed { return .failed(record, record.error ?? "failed") }
            }
            if let wait = step.wait {
                return try await runWaiter(wait, record)
            }
            // `step_succeeded` records the attempt and its outputs; a separate `attempt_succeeded` would repeat it.
            return .succeeded(record, events: [])
        } catch let halt as EngineHalt {
            return .halted(halt.underlying)
        } catch is CancellationError {
            return .stopped(start)
        } catch {
            return .halted(error)
        }
    }

    /// Runs attempts until one succeeds or the policy gives up. The current attempt (record.attempts) has
    /// already been recorded as started.
    private func runAttempts(_ start: StepRecord) async throws -> StepRecord {
        var record = start
        guard let action = context.registry.action(named: step.call.action) else {
            record.status = .failed
            record.error = "unknown action '\(step.call.action)'"
            return record
        }
        while true {
            let attempt = record.attempts
            let invocation = context.invocation(step: step.id, attempt: attempt, purpose: .action, inputs: inputs, stepOutputs: [:])
            try context.writer.checkpoint(.beforeSideEffect(step: step.id, purpose: .action))
            let failure: ActionFailure
            do {
                let outputs = try await context.withTimeout(step.timeout, what: "step '\(step.id)' attempt \(attempt)") {
                    try await action.perform(invocation)
                }
                try context.writer.checkpoint(.afterSideEffect(step: step.id, purpose: .action))
                record.outputs = context.redactor.redact(outputs)
                record.error = nil
                return record
            } catch let error as EngineHalt {
                throw error
            } catch let error as ActionFailure {
                if Task.isCancelled { throw CancellationError() }
                failure = error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                failure = ActionFailure(String(describing: error), retryable: true)
            }
            try context.writer.checkpoint(.afterSideEffect(step: step.id, purpose: .action))
            let message = context.redactor.redact(failure.message)
            let attemptsLeft = failure.retryable && attempt - budgetStart + 1 < step.retry.maxAttempts
            var detail = context.redactor.redact(failure.outputs)
            detail["error"] = message
            if attemptsLeft {
                let delay = step.retry.delay(beforeAttempt: attempt - budgetStart + 2, random: context.random())
                detail["retry_in"] = DurationText.format(delay)
                record.error = message
                try await context.writer.commit("attempt \(attempt) of \(step.id) failed", RunChanges(
                    steps: [record], events: [context.event(.attemptFailed, step: step.id, attempt: attempt, detail)]))
                try await context.clock.sleep(for: delay)
                record.attempts += 1
                try await context.writer.commit("attempt \(record.attempts) of \(step.id) started", RunChanges(
                    steps: [record], events: [context.event(.attemptStarted, step: step.id, attempt: record.attempts)]))
            } else {
                if !failure.retryable { detail["retryable"] = "false" }
                record.status = .failed
                record.error = message
                record.outputs = context.redactor.redact(failure.outputs)
                return record
            }
        }
    }

    private func runWaiter(_ wait: WaiterDefinition, _ start: StepRecord) async throws -> StepOutcome {
        var record = start
        guard let action = context.registry.action(named: wait.call.action) else {
            record.status = .failed
            record.error = "unknown waiter action '\(wait.call.action)'"
            return .failed(record, record.error ?? "")
        }
        let interval: Duration, timeout: Duration
        do {
            (interval, timeout) = try wait.durations(parameters: context.parameters)
        } catch {
            record.status = .failed
            record.error = "step '\(step.id)': \(error)"
            return .failed(record, record.error ?? "")
        }
        if record.status != .waiting {
            record.status = .waiting
            record.waiterDeadline = context.clock.now() + DurationText.milliseconds(timeout)
            try await context.writer.commit("waiter of \(step.id) started", RunChanges(steps: [record], events: [
                context.event(.attemptSucceeded, step: step.id, attempt: record.attempts, record.outputs),
                context.event(.waiterStarted, step: step.id, attempt: record.attempts, [
                    "until": "\(wait.until.output) in [\(wait.until.values.joined(separator: ", "))]",
                    "timeout": DurationText.format(timeout), "interval": DurationText.format(interval),
                ]),
            ]))
        }
        let actionOutputs = record.outputs
        let pollInputs: [String: InputValue]
        do {
            pollInputs = try renderWaiterInputs(actionOutputs)
        } catch {
            record.status = .failed
            record.error = "waiter of step '\(step.id)': \(error)"
            return .failed(record, record.error ?? "")
        }
        let deadline = record.waiterDeadline ?? (context.clock.now() + DurationText.milliseconds(timeout))
        var lastState = "unknown"
        while true {
            let poll = record.polls + 1
            let invocation = context.invocation(step: step.id, attempt: poll, purpose: .poll, inputs: pollInputs, stepOutputs: actionOutputs)
            var detail: [String: String]
            var outcome: String
            var pollOutputs: [String: String] = [:]
            try context.writer.checkpoint(.beforeSideEffect(step: step.id, purpose: .poll))
            do {
                let remaining = max(Int64(1), deadline - context.clock.now())
                let limit: Duration = min(step.timeout ?? .milliseconds(remaining), .milliseconds(remaining))
                pollOutputs = context.redactor.redact(try await context.withTimeout(limit, what: "waiter poll \(poll) of '\(step.id)'") {
                    try await action.perform(invocation)
                })
                lastState = pollOutputs[wait.until.output] ?? "(no \(wait.until.output))"
                if wait.until.matches(pollOutputs) {
                    outcome = "success"
                } else if let failIf = wait.failIf, failIf.matches(pollOutputs) {
                    outcome = "failure"
                    lastState = pollOutputs[failIf.output] ?? lastState
                } else {
                    outcome = "pending"
                }
                detail = pollOutputs
            } catch let error as EngineHalt {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let failure = (error as? ActionFailure) ?? ActionFailure(String(describing: error))
                outcome = failure.retryable ? "error" : "failure"
                lastState = "error: \(context.redactor.redact(failure.message))"
                detail = ["error": failure.message]
            }
            try context.writer.checkpoint(.afterSideEffect(step: step.id, purpose: .poll))
            detail["result"] = outcome
            detail["state"] = lastState
            record.polls = poll
            let now = context.clock.now()
            switch outcome {
            case "success":
                record.outputs = actionOutputs.merging(pollOutputs) { _, new in new }
                record.status = .running
                record.error = nil
                // The poll event is committed together with the step's success by the coordinator.
                return .succeeded(record, events: [context.event(.waiterPoll, step: step.id, attempt: poll, detail)])
            case "failure":
                record.status = .failed
                record.error = "waiter of step '\(step.id)' saw failure state '\(lastState)' on poll \(poll)"
                try await context.writer.commit("poll \(poll) of \(step.id)", RunChanges(
                    steps: [record], events: [context.event(.waiterPoll, step: step.id, attempt: poll, detail)]))
                return .failed(record, record.error ?? "")
            default:
                if now >= deadline {
                    record.status = .failed
                    record.error = "waiter of step '\(step.id)' timed out after \(DurationText.format(timeout)) (\(poll) polls, last state '\(lastState)')"
                    try await context.writer.commit("poll \(poll) of \(step.id)", RunChanges(
                        steps: [record], events: [context.event(.waiterPoll, step: step.id, attempt: poll, detail)]))
                    return .failed(record, record.error ?? "")
                }
                try await context.writer.commit("poll \(poll) of \(step.id)", RunChanges(
                    steps: [record], events: [context.event(.waiterPoll, step: step.id, attempt: poll, detail)]))
                let wake = min(DurationText.milliseconds(interval), max(0, deadline - context.clock.now()))
                try await context.clock.sleep(for: .milliseconds(wake))
            }
        }
    }
}
