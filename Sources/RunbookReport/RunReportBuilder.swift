import Foundation
import RunbookEngine

/// Builds a ``RunReportModel`` from what the store holds about a run.
public struct RunReportBuilder: Sendable {
    public var run: RunRecord
    public var steps: [StepRecord]
    public var events: [AuditEvent]
    /// The definition the run started with (parsed from the stored YAML).
    public var definition: RunbookDefinition
    /// SHA-256 of the runbook file of the same name today, when there is one: a difference is a deviation.
    public var currentDefinitionHash: String?
    public var audit: RunReportModel.AuditStatus

    public init(run: RunRecord, steps: [StepRecord], events: [AuditEvent], definition: RunbookDefinition,
                currentDefinitionHash: String?, audit: RunReportModel.AuditStatus) {
        self.run = run
        self.steps = steps
        self.events = events
        self.definition = definition
        self.currentDefinitionHash = currentDefinitionHash
        self.audit = audit
    }

    public func build() -> RunReportModel {
        let objectives = recordedObjectives ?? definition.objectiveResults(parameters: run.parameters, steps: steps)
        return RunReportModel(
            summary: summary, objectives: objectives, timeline: timeline(objectives), decisions: decisions,
            deviations: deviations(objectives), resources: resources, audit: audit)
    }

    var summary: RunReportModel.Summary {
        RunReportModel.Summary(
            runID: run.id, runbook: run.runbook, definitionSHA256: run.definitionHash, origin: run.origin,
            parameters: run.parameters, reason: run.options.reason, startedBy: run.startedBy.description,
            startedAt: run.createdAt, finishedAt: run.finishedAt, status: run.status.rawValue, message: run.message)
    }

    /// The verdicts the run recorded when it last finished (nil before it has finished).
    var recordedObjectives: [ObjectiveResult]? {
        events.last { $0.kind == EventKind.objectivesEvaluated.rawValue }.map { ObjectiveResult.fromEventDetail($0.detail) }
    }

    var end: Int64 { max(run.finishedAt ?? 0, events.last?.at ?? run.createdAt) }

    // MARK: - Decisions

    var decisions: [RunReportModel.Decision] {
        var requested: [String: Int64] = [:]
        var result: [RunReportModel.Decision] = []
        for event in events {
            guard let step = event.stepID else { continue }
            switch event.kind {
            case EventKind.approvalRequested.rawValue:
                requested[step] = event.at
            case EventKind.stepApproved.rawValue, EventKind.stepDeclined.rawValue:
                let declined = event.kind == EventKind.stepDeclined.rawValue
                let d = event.detail
                result.append(RunReportModel.Decision(
                    stepID: step, decision: declined ? "declined" : "approved", by: d["by"] ?? event.actor.user,
                    host: d["host"] ?? event.actor.host, callerARN: d["caller_arn"], via: d["via"], comment: d["comment"],
                    requestedAt: requested.removeValue(forKey: step), at: event.at))
            default:
                continue
            }
        }
        return result
    }
}
