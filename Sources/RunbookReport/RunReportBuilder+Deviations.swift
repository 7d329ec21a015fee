import Foundation
import RunbookEngine

extension RunReportBuilder {
    /// Parameters that accept a risk when true (a gate overridden, a check skipped): `force`, `force_*`, `skip_*`,
    /// `allow_*` booleans.
    static func acceptsRisk(_ parameter: ParameterSpec) -> Bool {
        let name = parameter.name
        return parameter.type == .bool && (name == "force" || ["force_", "skip_", "allow_"].contains { name.hasPrefix($0) })
    }

    /// What departed from the runbook's plain path, oldest first: risks accepted, a changed definition, then
    /// retries, failures, rollbacks, compensations, declines, cancels, takeovers, resumes and missed objectives.
    func deviations(_ objectives: [ObjectiveResult]) -> [RunReportModel.Deviation] {
        var result: [RunReportModel.Deviation] = []
        for parameter in definition.parameters where Self.acceptsRisk(parameter) {
            if let value = run.parameters[parameter.name], BooleanText.parse(value) == true {
                result.append(.init(kind: "risk_accepted", stepID: nil, at: run.createdAt,
                                    text: "parameter \(parameter.name)=\(value): \(parameter.description.isEmpty ? "a safety check was overridden" : parameter.description)"))
            }
        }
        if let current = currentDefinitionHash, current != run.definitionHash {
            result.append(.init(kind: "definition_changed", stepID: nil, at: nil,
                                text: "the runbook file \(run.runbook) has changed since this run started (run: sha256 \(run.definitionHash.prefix(12)), file today: sha256 \(current.prefix(12))); the run used the definition stored with it"))
        }
        result += events.compactMap(deviation)
        for objective in objectives where objective.verdict != .met {
            result.append(.init(kind: "objective_\(objective.verdict.rawValue)", stepID: nil, at: run.finishedAt, text: "objective \(objective.summary)"))
        }
        return result
    }

    /// The deviation one event records, if it is one.
    private func deviation(_ event: AuditEvent) -> RunReportModel.Deviation? {
        let d = event.detail
        let step = event.stepID.map { "step \($0)" } ?? "the run"
        func make(_ kind: String, _ text: String) -> RunReportModel.Deviation {
            RunReportModel.Deviation(kind: kind, stepID: event.stepID, at: event.at, text: text)
        }
        switch event.kind {
        case EventKind.attemptFailed.rawValue:
            let retry = d["retry_in"].map { "; retried after \($0)" } ?? ""
            return make("retry", "\(step) attempt \(event.attempt ?? 0) failed: \(d["error"] ?? "no detail")\(retry)")
        case EventKind.stepFailed.rawValue:
            return make("failure", "\(step) failed: \(d["error"] ?? "no detail")")
        case EventKind.rollbackStarted.rawValue:
            return make("rollback", "rollback started: \(d["reason"] ?? "no reason recorded")")
        case EventKind.compensationSucceeded.rawValue:
            return make("compensation", "\(step) undone" + (d["undo"].map { ": \($0)" } ?? ""))
        case EventKind.compensationFailed.rawValue:
            return make("compensation_failed", "\(step) could not be undone (attempt \(event.attempt ?? 0)): \(d["error"] ?? "no detail")")
        case EventKind.stepDeclined.rawValue:
            return make("declined", "\(step) declined by \(d["by"] ?? event.actor.user)" + (d["comment"].map { ": \($0)" } ?? ""))
        case EventKind.cancelRequested.rawValue:
            return make("cancel", "cancel requested by \(d["by"] ?? event.actor.user)")
        case EventKind.leaseTaken.rawValue:
            guard let previous = d["previous_holder"] else { return nil }
            return make("lease_takeover", "\(event.actor) took the run over from \(previous)")
        case EventKind.runResumed.rawValue:
            let before = d["status_before"] ?? "?"
            let crashed = before == RunStatus.running.rawValue || before == RunStatus.rollingBack.rawValue
            return make(crashed ? "resumed_after_crash" : "resumed",
                        "\(d["action"] ?? "resume") by \(event.actor) (the run was \(before)\(crashed ? ": its last driver stopped without finishing" : ""))")
        case EventKind.processStopped.rawValue:
            return make("process_killed", "\(step): killed process group \(d["process_group"] ?? "?") (\(d["reason"] ?? "left running"))")
        default:
            return nil
        }
    }
}
