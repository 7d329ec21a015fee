import Crypto
import Foundation

/// Checks that what a store keeps beside the audit history — a run's options, status and cancel flag, its
/// chain head and its step rows — agrees with the hash-chained events, so that a row edited behind the
/// engine's back is named by `audit verify` and refused by `resume` instead of steering it.
///
/// Every commit the engine makes stamps each step row it writes onto an event about that step
/// (`NewEvent.state`, a digest of the whole row), and the run's status changes only together with a
/// status event. Runs started before stamping existed (no `state_stamps` in `run_created`) get the checks
/// that their events allow: options as recorded then, a finished status against the last status event.
public enum RunStateAudit {
    /// The `run_created` detail key saying the run's step rows are stamped.
    public static let stampsKey = "state_stamps"
    /// The `run_created` detail key holding the canonical options.
    public static let optionsKey = "run_options"
    /// The `run_created` detail key naming the secret parameters that were given.
    public static let secretsKey = "secrets_given"

    /// A step row's digest: SHA-256 (first 128 bits, hex) of every field that steers a resume or a rollback.
    public static func digest(_ step: StepRecord) -> String {
        var text = "\(step.stepID)|\(step.status.rawValue)|\(step.attempts)|\(step.polls)|\(step.compensationAttempts)"
        text += "|\(step.startedAt.map(String.init) ?? "-")|\(step.finishedAt.map(String.init) ?? "-")"
        text += "|\(step.completionOrder.map(String.init) ?? "-")|\(step.waiterDeadline.map(String.init) ?? "-")"
        text += "|" + AuditChain.jsonString(step.approvedBy ?? "\u{0}") + "|" + AuditChain.jsonString(step.error ?? "\u{0}")
        text += "|" + AuditChain.canonicalParameters(step.outputs)
        return String(AuditChain.sha256Hex(text).prefix(32))
    }

    /// Options as one canonical JSON object, recorded in `run_created`.
    public static func canonicalOptions(_ options: RunOptions) -> String {
        "{\"deadline_at\":\(options.deadlineAt.map(String.init) ?? "null"),\"parallelism\":\(options.parallelism)"
            + (options.reason.map { ",\"reason\":\(AuditChain.jsonString($0))" } ?? "")
            + ",\"working_directory\":\(AuditChain.jsonString(options.workingDirectory)),\"yes\":\(options.autoApprove)}"
    }

    /// The options text runs recorded before `run_options` existed.
    static func legacyOptions(_ options: RunOptions) -> String {
        "parallelism=\(options.parallelism) yes=\(options.autoApprove)" + (options.deadlineAt.map { " deadline=\($0)" } ?? "")
    }

    /// The run's status as its events tell it: the last status event (`run_status`, `run_finished`,
    /// `rollback_started`), or `running` before any.
    static func derivedStatus(_ events: [AuditEvent]) -> (status: RunStatus, event: AuditEvent?) {
        for event in events.reversed() where event.stepID == nil {
            switch event.kind {
            case EventKind.runStatus.rawValue, EventKind.runFinished.rawValue:
                if let status = event.detail["status"].flatMap(RunStatus.init(rawValue:)) { return (status, event) }
            case EventKind.rollbackStarted.rawValue:
                return (.rollingBack, event)
            default:
                continue
            }
        }
        return (.running, nil)
    }

    /// The first disagreement between the stored run (and its step rows, when given) and its events, which
    /// have already been checked against their hashes.
    static func check(run: RunRecord, created: AuditEvent, steps: [StepRecord]?, events: [AuditEvent]) -> AuditProblem? {
        let stamped = created.detail[stampsKey] != nil
        func problem(_ event: AuditEvent?, _ reason: String) -> AuditProblem {
            AuditProblem(runID: run.id, seq: event?.seq ?? 0, kind: event?.kind ?? "none", reason: reason)
        }
        let recordedOptions = created.detail[optionsKey] ?? created.detail["options"]
        let storedOptions = created.detail[optionsKey] != nil ? canonicalOptions(run.options) : legacyOptions(run.options)
        if let recordedOptions, recordedOptions != storedOptions {
            return problem(created, "the run's stored options (approval, parallelism, deadline, working directory) no longer match what its run_created event recorded")
        }
        if let given = created.detail[secretsKey], given != run.providedSecrets.joined(separator: ",") {
            return problem(created, "the run's stored list of secret parameters given no longer matches what its run_created event recorded")
        }
        if let head = run.chainHead ?? (stamped ? ChainHead(seq: 0, hash: "") : nil),
           head.seq != events.last?.seq || head.hash != events.last?.hash {
            return problem(events.last, "the history ends at event #\(events.last?.seq ?? 0) but the run recorded #\(head.seq) as its last event: events were removed from its end, or the run's record was edited")
        }
        let derived = derivedStatus(events)
        if derived.status != run.status && (stamped || run.status.isTerminal) {
            return problem(derived.event ?? events.last, "the run's stored status '\(run.status.rawValue)' does not match its history, which ends '\(derived.status.rawValue)'")
        }
        let cancelled = events.contains { $0.kind == EventKind.cancelRequested.rawValue }
        if cancelled != run.cancelRequested {
            return problem(created, "the run's stored cancel request flag does not match its history")
        }
        guard stamped, let steps else { return nil }
        return checkSteps(run: run, steps: steps, events: events, problem: problem)
    }

    private static func checkSteps(run: RunRecord, steps: [StepRecord], events: [AuditEvent],
                                   problem: (AuditEvent?, String) -> AuditProblem) -> AuditProblem? {
        var lastStamp: [String: AuditEvent] = [:]
        for event in events where event.state != nil {
            if let step = event.stepID { lastStamp[step] = event }
        }
        let rows = Dictionary(steps.map { ($0.stepID, $0) }, uniquingKeysWith: { first, _ in first })
        for step in steps {
            let expected = lastStamp[step.stepID]?.state ?? digest(StepRecord(runID: run.id, stepID: step.stepID))
            if digest(step) != expected {
                return problem(lastStamp[step.stepID], "the stored row of step '\(step.stepID)' (status, attempts, outputs, error or approval) was changed after this event recorded it")
            }
        }
        for (stepID, event) in lastStamp.sorted(by: { $0.key < $1.key }) where rows[stepID] == nil {
            return problem(event, "the stored row of step '\(stepID)' is missing")
        }
        return nil
    }
}

extension RunStatus {
    /// Statuses a run ends in, each recorded by a `run_finished` event.
    var isTerminal: Bool {
        switch self {
        case .succeeded, .rolledBack, .cancelled, .failed, .rollbackFailed, .completedWithExceptions: return true
        default: return false
        }
    }
}

extension RunChanges {
    /// These changes with every written step row's digest stamped on the last event about that step in the
    /// same commit (a `step_state` event when there is none), so that the row can be checked later.
    func stamped(actor: ActorIdentity, at now: Int64) -> RunChanges {
        guard !steps.isEmpty else { return self }
        var latest: [String: StepRecord] = [:]
        var order: [String] = []
        for step in steps {
            if latest.updateValue(step, forKey: step.stepID) == nil { order.append(step.stepID) }
        }
        var out = self
        var stampedSteps: Set<String> = []
        for index in out.events.indices.reversed() {
            guard let stepID = out.events[index].stepID, let row = latest[stepID], !stampedSteps.contains(stepID) else { continue }
            out.events[index].state = RunStateAudit.digest(row)
            stampedSteps.insert(stepID)
        }
        for stepID in order where !stampedSteps.contains(stepID) {
            guard let row = latest[stepID] else { continue }
            out.events.append(NewEvent(stepID: stepID, kind: .stepState, detail: ["status": row.status.rawValue],
                                       at: now, actor: actor, state: RunStateAudit.digest(row)))
        }
        return out
    }
}
