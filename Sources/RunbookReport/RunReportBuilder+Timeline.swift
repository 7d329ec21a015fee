import Foundation
import RunbookEngine

extension RunReportBuilder {
    /// One row per step in the definition's order: its attempts (to the end of its waiter), compensations and
    /// approval wait as spans, its polls as marks; and each objective's window from its `from:` step.
    func timeline(_ objectives: [ObjectiveResult]) -> RunReportModel.Timeline {
        var rows = definition.steps.map { step in
            RunReportModel.Row(stepID: step.id, description: step.description,
                               status: steps.first { $0.stepID == step.id }?.status.rawValue ?? "pending", spans: [], polls: [])
        }
        let index = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1.stepID, $0) })
        var open = SpanTracker()
        for event in events {
            guard let step = event.stepID, let row = index[step] else { continue }
            if event.kind == EventKind.waiterPoll.rawValue { rows[row].polls.append(event.at) }
            if let closed = open.apply(event, step: step) { rows[row].spans.append(closed) }
        }
        for (step, span) in open.remaining(end: end) { if let row = index[step] { rows[row].spans.append(span) } }
        return RunReportModel.Timeline(start: run.createdAt, end: end, rows: rows, windows: windows(objectives))
    }

    private func windows(_ objectives: [ObjectiveResult]) -> [RunReportModel.Window] {
        objectives.compactMap { result in
            guard let from = definition.objectives.first(where: { $0.name == result.name })?.fromStep,
                  let start = events.first(where: { $0.stepID == from && $0.kind == EventKind.stepStarted.rawValue })?.at
            else { return nil }
            return RunReportModel.Window(objective: result.name, start: start, targetSeconds: result.targetSeconds,
                                         measuredSeconds: result.measuredSeconds)
        }
    }
}

/// Pairs the events that open a span (an attempt, a compensation, an approval wait) with the ones that close it.
struct SpanTracker {
    private var openSpans: [String: [RunReportModel.Span.Kind: RunReportModel.Span]] = [:]

    /// The span `event` closes, if any; records the one it opens.
    mutating func apply(_ event: AuditEvent, step: String) -> RunReportModel.Span? {
        switch event.kind {
        case EventKind.stepStarted.rawValue, EventKind.attemptStarted.rawValue:
            if openSpans[step]?[.attempt] == nil { begin(.attempt, step, event) }
        case EventKind.attemptFailed.rawValue:
            return close(.attempt, step, event, outcome: "failed")
        case EventKind.stepSucceeded.rawValue, EventKind.stepFailed.rawValue:
            return close(.attempt, step, event, outcome: event.kind == EventKind.stepSucceeded.rawValue ? "succeeded" : "failed")
        case EventKind.compensationStarted.rawValue:
            if openSpans[step]?[.compensation] == nil { begin(.compensation, step, event) }
        case EventKind.compensationSucceeded.rawValue, EventKind.compensationNotNeeded.rawValue:
            return close(.compensation, step, event, outcome: "compensated")
        case EventKind.compensationFailed.rawValue:
            return close(.compensation, step, event, outcome: "failed")
        case EventKind.approvalRequested.rawValue:
            begin(.approvalWait, step, event)
        case EventKind.stepApproved.rawValue:
            return close(.approvalWait, step, event, outcome: "approved")
        case EventKind.stepDeclined.rawValue:
            return close(.approvalWait, step, event, outcome: "declined")
        default:
            break
        }
        return nil
    }

    /// Spans still open when the history ends (the run stopped or was killed), ended at `end`.
    func remaining(end: Int64) -> [(String, RunReportModel.Span)] {
        openSpans.sorted { $0.key < $1.key }.flatMap { step, spans in
            spans.values.sorted { $0.start < $1.start }.map { span in
                var span = span
                span.end = max(span.start, end)
                span.outcome = span.kind == .approvalWait ? "waiting" : "unfinished"
                return (step, span)
            }
        }
    }

    private mutating func begin(_ kind: RunReportModel.Span.Kind, _ step: String, _ event: AuditEvent) {
        openSpans[step, default: [:]][kind] = RunReportModel.Span(kind: kind, start: event.at, end: event.at, attempt: event.attempt, outcome: "running")
    }

    private mutating func close(_ kind: RunReportModel.Span.Kind, _ step: String, _ event: AuditEvent, outcome: String) -> RunReportModel.Span? {
        guard var span = openSpans[step]?.removeValue(forKey: kind) else { return nil }
        span.end = max(span.start, event.at)
        span.outcome = outcome
        return span
    }
}
