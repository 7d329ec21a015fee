import Yams

extension RunbookValidator {
    /// `objectives:`: each a `target` (a duration, or `${{ params.X }}` of a duration parameter, known before the
    /// run starts) and what `measured` it (`STEP.OUTPUT`, a number of seconds).
    mutating func objectives(_ node: Node, steps: [StepDefinition]) -> [RecoveryObjective] {
        guard let block = orderedMapping(node, context: "objectives", what: "objectives") else { return [] }
        var objectives: [RecoveryObjective] = []
        for (name, keyNode, value) in block {
            let context = "objective '\(name)'"
            guard isParameterName(name) else {
                report(keyNode, "objectives", "objective name '\(name)' must be letters, digits, '_' or '-', starting with a letter")
                continue
            }
            guard let fields = fields(value, context: context, allowed: Self.objectiveKeys, what: "an objective") else { continue }
            guard let targetNode = fields["target"], let measuredNode = fields["measured"] else {
                report(value, context, "an objective needs target: (a duration such as 5m, or ${{ params.X }}) and measured: (STEP.OUTPUT, in seconds)")
                continue
            }
            let target = text(targetNode, context: context, key: "target")
            let targetIsValid = target.map { checkObjectiveTarget($0, at: targetNode, context: context) } ?? false
            let reference = text(measuredNode, context: context, key: "measured").flatMap {
                measuredReference($0, at: measuredNode, context: context, steps: steps)
            }
            guard let target, targetIsValid, let (step, output) = reference else { continue }
            let description = fields["description"].flatMap { text($0, context: context, key: "description") } ?? ""
            let from = fields["from"].flatMap { windowStart($0, context: context, steps: steps) }
            objectives.append(RecoveryObjective(name: name, target: target, measuredStep: step, measuredOutput: output,
                                                description: description, fromStep: from, location: location(keyNode)))
        }
        return objectives
    }

    /// A literal target must be a duration; a templated one may read only duration parameters.
    private mutating func checkObjectiveTarget(_ target: String, at node: Node, context: String) -> Bool {
        guard Template.containsExpression(target) else {
            if DurationText.parse(target) == nil {
                report(node, context, "target '\(target)' is not a duration; \(Self.durationForms)")
                return false
            }
            return true
        }
        var valid = true
        for case .expression(let raw) in TemplateScanner.segments(of: target) {
            guard case .param(let name)? = TemplateReference(expression: raw) else {
                report(node, context, "target may only read parameters (${{ params.NAME }}): it is fixed before the run starts, got ${{ \(raw.trimmingWhitespace()) }}")
                valid = false
                continue
            }
            if !parameterNames.contains(name) {
                report(node, context, "target ${{ params.\(name) }} names unknown parameter '\(name)'\(Suggestion.didYouMean(name, among: parameterNames.sorted()))")
                valid = false
            } else if parameterTypes[name] != .duration {
                report(node, context, "target ${{ params.\(name) }} must name a parameter of type duration, not \(parameterTypes[name]?.rawValue ?? "unknown")")
                valid = false
            }
        }
        return valid
    }

    /// `from: STEP`: a step of the runbook.
    private mutating func windowStart(_ node: Node, context: String, steps: [StepDefinition]) -> String? {
        guard let id = text(node, context: context, key: "from") else { return nil }
        let ids = steps.map(\.id)
        guard ids.contains(id) else {
            report(node, context, "from '\(id)' names unknown step '\(id)'\(Suggestion.didYouMean(id, among: ids))")
            return nil
        }
        return id
    }

    /// `STEP.OUTPUT`, with STEP one of the runbook's steps.
    private mutating func measuredReference(_ text: String, at node: Node, context: String, steps: [StepDefinition]) -> (String, String)? {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
            report(node, context, "measured '\(text)' must name a step output as STEP.OUTPUT, e.g. report.recovery_seconds")
            return nil
        }
        let ids = steps.map(\.id)
        guard ids.contains(parts[0]) else {
            report(node, context, "measured '\(text)' names unknown step '\(parts[0])'\(Suggestion.didYouMean(parts[0], among: ids))")
            return nil
        }
        return (parts[0], parts[1])
    }
}
