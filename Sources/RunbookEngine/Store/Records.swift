import Foundation

/// The state of a run.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running
    case awaitingApproval = "awaiting_approval"
    case interrupted
    case succeeded
    case failed
    case rollingBack = "rolling_back"
    case rolledBack = "rolled_back"
    case rollbackFailed = "rollback_failed"
    case cancelled
    /// Every step ran, but one marked `on_failure: continue` did not succeed (e.g. the old primary could not
    /// be fenced): not a plain success; `resume` runs those steps again.
    case completedWithExceptions = "completed_with_exceptions"

    /// True when nothing more happens to the run unless someone asks (rollback of a succeeded run).
    public var isFinished: Bool {
        switch self {
        case .succeeded, .rolledBack, .cancelled: return true
        default: return false
        }
    }

    /// The process exit code that reports this status (see README "Exit codes").
    public var exitCode: Int32 {
        switch self {
        case .succeeded: return ExitCodes.succeeded
        case .awaitingApproval: return ExitCodes.awaitingApproval
        case .interrupted, .running, .rollingBack: return ExitCodes.interrupted
        case .failed, .rolledBack, .rollbackFailed, .cancelled: return ExitCodes.failed
        case .completedWithExceptions: return ExitCodes.completedWithExceptions
        }
    }
}

/// The state of one step in a run.
public enum StepStatus: String, Sendable, Codable, CaseIterable {
    case pending, running, waiting, succeeded, failed, skipped, compensating, compensated
    case compensationFailed = "compensation_failed"
}

/// Who wrote a record: OS user, host and process id.
public struct ActorIdentity: Sendable, Equatable, Codable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var pid: Int32

    public init(user: String, host: String, pid: Int32) {
        self.user = user
        self.host = host
        self.pid = pid
    }

    /// The identity of this process. `RUNBOOK_HOSTNAME` names the host instead of the system's host name (for
    /// containers whose host names are not meaningful, and tests that play operators on two machines).
    public static func current() -> ActorIdentity {
        let env = ProcessInfo.processInfo.environment
        var user = env["USER"] ?? env["LOGNAME"] ?? ""
        if user.isEmpty, let pw = getpwuid(getuid()), let name = pw.pointee.pw_name {
            user = String(cString: name)
        }
        if user.isEmpty { user = "uid-\(getuid())" }
        let host = env["RUNBOOK_HOSTNAME"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.hostName
        return ActorIdentity(user: user, host: host, pid: getpid())
    }

    public var description: String { "\(user)@\(host) pid \(pid)" }
}

/// Options a run was started with; stored with the run and honoured on resume.
public struct RunOptions: Sendable, Equatable, Codable {
    /// `--yes`: approval gates pass without a separate `runbook approve`.
    public var autoApprove: Bool
    /// Maximum steps running at once.
    public var parallelism: Int
    /// Whole-run deadline, wall-clock milliseconds since 1970, if any.
    public var deadlineAt: Int64?
    /// Working directory for shell steps.
    public var workingDirectory: String
    /// `--reason`: why the run was started (e.g. a change or incident ticket), for the record.
    public var reason: String?

    public init(autoApprove: Bool = false, parallelism: Int = 4, deadlineAt: Int64? = nil, workingDirectory: String, reason: String? = nil) {
        self.reason = reason
        self.autoApprove = autoApprove
        self.parallelism = parallelism
        self.deadlineAt = deadlineAt
        self.workingDirectory = workingDirectory
    }
}

/// A run as stored.
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var runbook: String
    /// The exact YAML the run started with.
    public var definition: String
    public var definitionHash: String
    /// Where the definition was read from when the run started.
    public var origin: String
    /// Parameters with secret values replaced by `***`.
    public var parameters: [String: String]
    /// Names of secret parameters that were given a value (they must be given again on resume).
    public var providedSecrets: [String]
    public var options: RunOptions
    public var status: RunStatus
    /// The last plain-sentence explanation of the status (why it failed, what is left to undo…).
    public var message: String?
    public var createdAt: Int64
    public var finishedAt: Int64?
    public var startedBy: ActorIdentity
    public var cancelRequested: Bool
    /// The last event the store appended to the run's chain, recorded beside the run so that removing events
    /// from the end of the history is detected; nil before the run's first event.
    public var chainHead: ChainHead?

    public init(
        id: String, runbook: String, definition: String, definitionHash: String, origin: String,
        parameters: [String: String], providedSecrets: [String], options: RunOptions, status: RunStatus,
        message: String? = nil, createdAt: Int64, finishedAt: Int64? = nil, startedBy: ActorIdentity,
        cancelRequested: Bool = false, chainHead: ChainHead? = nil
    ) {
        self.id = id
        self.runbook = runbook
        self.definition = definition
        self.definitionHash = definitionHash
        self.origin = origin
        self.parameters = parameters
        self.providedSecrets = providedSecrets
        self.options = options
        self.status = status
        self.message = message
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.startedBy = startedBy
        self.cancelRequested = cancelRequested
        self.chainHead = chainHead
    }
}

/// The sequence number and hash of the last event of a run's chain.
public struct ChainHead: Sendable, Equatable {
    public var seq: Int64
    public var hash: String

    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }
}

/// The current state of one step of a run.
public struct StepRecord: Sendable, Equatable {
    public var runID: String
    public var stepID: String
    public var status: StepStatus
    /// Attempts of the action started so far.
    public var attempts: Int
    /// Waiter polls recorded so far.
    public var polls: Int
    /// Compensation attempts started so far.
    public var compensationAttempts: Int
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// Outputs, secrets redacted.
    public var outputs: [String: String]
    public var error: String?
    /// Order in which the step succeeded (monotonic within a run), used for reverse-order rollback.
    public var completionOrder: Int?
    /// The waiter's deadline, wall-clock ms; kept across resumes.
    public var waiterDeadline: Int64?
    /// Who approved the step's gate, if it has one and it was approved.
    public var approvedBy: String?

    public init(
        runID: String, stepID: String, status: StepStatus = .pending, attempts: Int = 0, polls: Int = 0,
        compensationAttempts: Int = 0, startedAt: Int64? = nil, finishedAt: Int64? = nil,
        outputs: [String: String] = [:], error: String? = nil, completionOrder: Int? = nil,
        waiterDeadline: Int64? = nil, approvedBy: String? = nil
    ) {
        self.runID = runID
        self.stepID = stepID
        self.status = status
        self.attempts = attempts
        self.polls = polls
        self.compensationAttempts = compensationAttempts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outputs = outputs
        self.error = error
        self.completionOrder = completionOrder
        self.waiterDeadline = waiterDeadline
        self.approvedBy = approvedBy
    }
}

/// What happened, for the audit history.
public enum EventKind: String, Sendable, Codable, CaseIterable {
    case runCreated = "run_created"
    case runResumed = "run_resumed"
    case runStatus = "run_status"
    case runFinished = "run_finished"
    /// The recovery objectives' targets, measurements and verdicts, recorded as the run finishes.
    case objectivesEvaluated = "objectives_evaluated"
    case stepStarted = "step_started"
    case attemptStarted = "attempt_started"
    case attemptFailed = "attempt_failed"
    case attemptSucceeded = "attempt_succeeded"
    case waiterStarted = "waiter_started"
    case waiterPoll = "waiter_poll"
    case stepSucceeded = "step_succeeded"
    case stepFailed = "step_failed"
    case stepSkipped = "step_skipped"
    case approvalRequested = "approval_requested"
    case stepApproved = "step_approved"
    /// An approval gate was declined (`runbook decline`); the run rolls back.
    case stepDeclined = "step_declined"
    case rollbackStarted = "rollback_started"
    case compensationStarted = "compensation_started"
    case compensationFailed = "compensation_failed"
    case compensationSucceeded = "compensation_succeeded"
    case compensationNotNeeded = "compensation_not_needed"
    case cancelRequested = "cancel_requested"
    case leaseTaken = "lease_taken"
    /// A step's row changed without another event about it (its digest is the event's `state`).
    case stepState = "step_state"
    /// An action started a process group (recorded before the command runs; see `StepProcess`).
    case processStarted = "process_started"
    /// A driver taking a run over killed a process group the previous driver had left running.
    case processStopped = "process_stopped"
    /// An Ed25519 signature over the chain head, made when the run stopped or a gate was approved (`AuditSignatures`).
    case chainSigned = "chain_signed"
}

/// An event about to be appended; the store assigns its sequence number and hashes.
public struct NewEvent: Sendable, Equatable {
    public var stepID: String?
    public var attempt: Int?
    public var kind: EventKind
    /// Plain details (error text, outputs, poll state…), secrets already redacted.
    public var detail: [String: String]
    /// Wall-clock ms.
    public var at: Int64
    public var actor: ActorIdentity
    /// The digest of the step's stored row after the commit that appends this event (`StepState.digest`), so
    /// that the row can be checked against the hash-chained history; set by the engine's writer.
    public var state: String?

    public init(stepID: String? = nil, attempt: Int? = nil, kind: EventKind, detail: [String: String] = [:], at: Int64, actor: ActorIdentity, state: String? = nil) {
        self.stepID = stepID
        self.attempt = attempt
        self.kind = kind
        self.detail = detail
        self.at = at
        self.actor = actor
        self.state = state
    }
}

/// A stored audit event, hash-chained to its predecessor in the same run.
public struct AuditEvent: Sendable, Equatable {
    public var seq: Int64
    public var runID: String
    public var stepID: String?
    public var attempt: Int?
    public var kind: String
    public var detail: [String: String]
    public var at: Int64
    public var actor: ActorIdentity
    /// The digest of the step's row when this event was appended (see `NewEvent.state`).
    public var state: String?
    public var previousHash: String
    public var hash: String

    public init(
        seq: Int64, runID: String, stepID: String?, attempt: Int?, kind: String, detail: [String: String],
        at: Int64, actor: ActorIdentity, state: String? = nil, previousHash: String, hash: String
    ) {
        self.seq = seq
        self.runID = runID
        self.stepID = stepID
        self.attempt = attempt
        self.kind = kind
        self.detail = detail
        self.at = at
        self.actor = actor
        self.state = state
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// One atomic checkpoint: a run status change, step rows and events, committed together and durably.
public struct RunChanges: Sendable {
    public var runStatus: RunStatus?
    public var message: String??
    public var finishedAt: Int64?
    public var steps: [StepRecord]
    public var events: [NewEvent]

    public init(runStatus: RunStatus? = nil, message: String?? = nil, finishedAt: Int64? = nil, steps: [StepRecord] = [], events: [NewEvent] = []) {
        self.runStatus = runStatus
        self.message = message
        self.finishedAt = finishedAt
        self.steps = steps
        self.events = events
    }

    public var isEmpty: Bool { runStatus == nil && message == nil && finishedAt == nil && steps.isEmpty && events.isEmpty }
}

/// A claim on the right to drive a run.
public struct Lease: Sendable, Equatable {
    public var runID: String
    /// Random per claim; every write checks it (fencing).
    public var token: String
    public var holder: ActorIdentity
    public var heartbeatAt: Int64

    public init(runID: String, token: String, holder: ActorIdentity, heartbeatAt: Int64) {
        self.runID = runID
        self.token = token
        self.holder = holder
        self.heartbeatAt = heartbeatAt
    }
}
