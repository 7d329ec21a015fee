import Foundation
import RunbookEngine

extension RunReportBuilder {
    /// Outputs that name what an action made or changed, in order of preference.
    static let identityOutputs = ["arn", "identifier", "snapshot_identifier", "record_name", "name", "id"]
    /// Inputs that name it when no output does.
    static let identityInputs = ["identifier", "name", "record_name", "alarm_name", "topic", "role_name", "snapshot_identifier"]
    /// `result` outputs that changed nothing.
    static let unchanged: Set<String> = ["unchanged", "absent"]

    /// Each step that reported a `result` (created, adopted, recovered, deleted, promoted, …) or replaced a value
    /// (`previous_*` outputs): what it touched, where, and what a rollback did with it.
    var resources: [RunReportModel.ResourceChange] {
        let outputs = Dictionary(steps.map { ($0.stepID, $0.outputs) }, uniquingKeysWith: { first, _ in first })
        let undone = Dictionary(events.filter { $0.kind == EventKind.compensationSucceeded.rawValue }.compactMap { event in
            event.stepID.map { ($0, event.detail["undo"] ?? "undone") }
        }, uniquingKeysWith: { _, last in last })
        return definition.steps.compactMap { step in
            guard let out = outputs[step.id] else { return nil }
            let previous = out.keys.filter { $0.hasPrefix("previous_") }.sorted()
            let change = out["result"] ?? (previous.isEmpty ? nil : "modified")
            guard let change, !Self.unchanged.contains(change) || undone[step.id] != nil else { return nil }
            let context = TemplateContext(params: run.parameters, stepOutputs: outputs, runID: run.id, runbook: run.runbook)
            func input(_ key: String) -> String? {
                step.call.inputs[key]?.scalar.flatMap { try? Template.render($0, context) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            let name = Self.identityOutputs.lazy.compactMap { out[$0].flatMap { $0.isEmpty ? nil : $0 } }.first
                ?? Self.identityInputs.lazy.compactMap(input).first ?? step.id
            let beforeAfter = previous.compactMap { key -> String? in
                let field = String(key.dropFirst("previous_".count))
                let before = out[key] ?? "", after = out[field] ?? input(field) ?? ""
                guard before != after else { return nil }
                return "\(field): \(before.isEmpty ? "(none)" : before) → \(after.isEmpty ? "(none)" : after)"
            }
            return RunReportModel.ResourceChange(stepID: step.id, action: step.call.action, region: input("region"),
                                                 resource: name, change: change, beforeAfter: beforeAfter, undone: undone[step.id])
        }
    }
}
