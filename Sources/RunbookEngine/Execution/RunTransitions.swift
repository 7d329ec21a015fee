import Foundation

/// Why a run is being rolled back.
enum RollbackReason: Equatable, Sendable {
    case failure(String)
    case cancel
    case requested

    var text: String {
        switch self {
        case .failure(let message): return message
        case .cancel: return "cancelled"
        case .requested: return "rollback requested"
        }
    }
}

/// What arrives at a run's state machine: the start of a drive, step outcomes, timers, outside signals.
enum RunInput: Sendable {
    /// Schedule the forward path (start or resume).
    case forward
    /// Steps that failed after a pivot run again with a fresh retry budget, then the forward path.
    case retryForward
    /// Undo the run; `retryFailed` retries compensations that failed before (`runbook rollback`).
    case rollback(RollbackReason, retryFailed: Bool)
    case actionFinished(step: String, ActionOutcome)
    case pollFinished(step: String, ActionOutcome)
    case compensationFinished(step: String, ActionOutcome)
    /// A retry backoff or a waiter interval ended.
    case timerFired(step: String)
    /// A launch ended because it was stopped; the step stays as it was and runs again on resume.
    case stopped(step: String)
    case cancelRequested
    case deadlinePassed
    /// Ctrl-C, SIGTERM or another signal: stop scheduling and record the run as interrupted.
    case interrupted
    /// The store found a cancel request when committing the last transition, so its `launching` changes were
    /// not written: nothing it launched starts.
    case launchesRefused
}

/// How an action, a poll or a compensation ended.
enum ActionOutcome: Sendable {
    case succeeded([String: String])
    case failed(ActionFailure)
}

/// A waiter poll classified against the step's `until` and `fail_if` matchers.
enum PollVerdict: Sendable, Equatable {
    /// `until` matched: the step succeeds.
    case satisfied
    /// `fail_if` matched, or the poll failed for good: the step fails.
    case failure
    /// Neither matched: poll again after the interval.
    case pending
    /// The poll itself failed with a retryable error: poll again after the interval.
    case error

    /// The word recorded in a `waiter_poll` event's `result`.
    var recorded: String {
        switch self {
        case .satisfied: return "success"
        case .failure: return "failure"
        case .pending: return "pending"
        case .error: return "error"
        }
    }
}

/// One invocation of a step's action, waiter or compensation, with everything needed to perform it.
struct StepCall: Sendable {
    var step: StepDefinition
    var actionName: String
    /// Attempt number (poll number for a poll, compensation attempt for a compensation).
    var attempt: Int
    var purpose: InvocationPurpose
    var inputs: [String: InputValue]
    var stepOutputs: [String: String]
    /// The time limit of this invocation, if any (a timeout is a retryable failure).
    var limit: Duration?
    /// Names the invocation in a timeout message.
    var what: String
    /// For a compensation: call the action's `undo` rather than an explicit `compensate:` action.
    var undo = false
}

/// Work the shell starts once the transition that asked for it is committed.
enum Launch: Sendable {
    case perform(StepCall)
    case timer(step: String, after: Duration)
}

/// What one transition decided: the changes to commit, then the work to start.
struct Transition: Sendable {
    var label = "checkpoint"
    var changes = RunChanges()
    /// The records and events of the steps this transition starts: written in the same transaction as
    /// `changes` only if no cancel has been requested (see `RunStore.commit(runID:leaseToken:_:launching:)`).
    var launching = RunChanges()
    var launches: [Launch] = []
    /// Stop every launch in flight (a cancel request, the deadline, an interrupt).
    var stopInFlight = false
    /// Set when the drive is over, with the status the run ended in (or is left in).
    var finished: RunStatus?

    mutating func write(_ step: StepRecord) { changes.steps.append(step) }

    /// Move `stepID`'s launch records and events into the unconditional changes.
    mutating func commitLaunch(of stepID: String) {
        changes.steps += launching.steps.filter { $0.stepID == stepID }
        changes.events += launching.events.filter { $0.stepID == stepID }
        launching.steps.removeAll { $0.stepID == stepID }
        launching.events.removeAll { $0.stepID == stepID }
    }
    mutating func record(_ event: NewEvent) { changes.events.append(event) }

    mutating func setStatus(_ status: RunStatus, message: String?, finishedAt: Int64? = nil) {
        changes.runStatus = status
        changes.message = .some(message)
        if let finishedAt { changes.finishedAt = finishedAt }
    }
}
