import Yams

extension RunbookValidator {
    // MARK: - Steps

    mutating func steps(_ node: Node, defaults: StepDefaults) -> [StepDefinition] {
        guard case .sequence(let sequence) = node else {
            report(node, "", "'steps' must be a list of steps, got \(Self.kind(of: node))")
            return []
        }
        guard !sequence.isEmpty else {
            report(node, "", "'steps' is empty; a runbook needs at least one step")
            return []
        }
        var steps: [StepDefinition] = []
        var firstByID: [String: SourceLocation] = [:]
        var needsByStep: [(id: String, location: SourceLocation, needs: [Need])] = []
        for (index, stepNode) in sequence.enumerated() {
            if let (step, needs) = self.step(stepNode, number: index + 1, defaults: defaults, firstByID: &firstByID) {
                steps.append(step)
                needsByStep.append((step.id, step.location, needs))
            }
        }
        if !trusted { checkGraph(steps: steps, needsByStep: needsByStep) }
        return steps
    }

    /// One step; nil when it has no usable id (other problems are reported but still yield a step).
    mutating func step(
        _ node: Node, number: Int, defaults: StepDefaults, firstByID: inout [String: SourceLocation]
    ) -> (StepDefinition, [Need])? {
        let context = Self.stepContext(node, number: number)
        guard let block = fields(node, context: context, allowed: Self.stepKeys, what: "a step") else { return nil }
        let validID = stepID(block, node, context: context, firstByID: &firstByID)
        let scope = TemplateScope(context: context, stepID: validID, allowsOwnOutputs: false)

        let description = block["description"].flatMap { text($0, context: context, key: "description") } ?? ""
        let needs = block["needs"].map { self.needs($0, context: context) } ?? []
        let when = whenCondition(block, context: context, stepID: validID)
        let call = self.call(block, context: context, scope: scope)

        var retry = defaults.retry
        if let node = block["retry"], let patch = retryPatch(node, context: context + " retry") {
            retry = patch.applied(to: retry)
        }
        var timeout = defaults.timeout
        if let node = block["timeout"] { timeout = duration(node, context: context, key: "timeout") }

        let wait = block["wait"].flatMap { waiter($0, context: context + " wait", stepID: validID) }
        let (compensate, compensateRetry) = compensation(block, context: context, stepID: validID, retry: retry)
        let irreversible = block["irreversible"].flatMap { bool($0, context: context, key: "irreversible") } ?? false
        let approvalRequired = approval(block, context: context)

        var continueOnFailure = false
        if let node = block["on_failure"], let value = text(node, context: context, key: "on_failure") {
            switch value {
            case "continue": continueOnFailure = true
            case "stop": break
            default: report(node, context, "on_failure must be 'stop' (the default) or 'continue', got '\(value)'")
            }
        }

        guard let id = validID else { return nil }
        var step = StepDefinition(
            id: id, description: description, needs: needs.map(\.target), when: when,
            call: call ?? ActionCall(action: "", inputs: [:], location: location(node)),
            retry: retry, timeout: timeout, wait: wait, compensate: compensate, irreversible: irreversible,
            approvalRequired: approvalRequired, location: location(node), compensateRetry: compensateRetry
        )
        step.continueOnFailure = continueOnFailure
        return (step, needs)
    }

    /// How messages name a step: by its id when it has one, else by its number, including messages about its
    /// other keys.
    private static func stepContext(_ node: Node, number: Int) -> String {
        // (Compare key text directly: Yams' Node subscript resolves every key's tag with a regex.)
        if case .mapping(let mapping) = node,
           let entry = mapping.first(where: { if case .scalar(let key) = $0.key { return key.string == "id" }; return false }),
           case .scalar(let id) = entry.value, !isNull(.scalar(id)) {
            return "step '\(id.string)'"
        }
        return "step \(number)"
    }

    /// The step's id when it is valid and not used before; otherwise reports why and returns nil.
    private mutating func stepID(_ block: YAMLFields, _ node: Node, context: String,
                                 firstByID: inout [String: SourceLocation]) -> String? {
        guard let idNode = block["id"] else {
            report(node, context, "missing key 'id'")
            return nil
        }
        guard let id = text(idNode, context: context, key: "id") else { return nil }
        if !Self.isStepID(id) {
            report(idNode, "", "step id '\(id)' is not valid; use lower-case letters, digits and '-', not starting with '-'")
        } else if let first = firstByID[id] {
            report(idNode, "", "duplicate step id '\(id)' (first used at line \(first.line))")
        } else {
            firstByID[id] = location(idNode)
            return id
        }
        return nil
    }

    /// The step's `when:` condition, its template checked.
    private mutating func whenCondition(_ block: YAMLFields, context: String, stepID: String?) -> String? {
        guard let node = block["when"], let condition = text(node, context: context, key: "when") else { return nil }
        checkTemplate(condition, at: node, scope: TemplateScope(context: context + " when", stepID: stepID, allowsOwnOutputs: false))
        return condition
    }

    /// The step's `compensate:` call, if any, and the retry policy it runs with (the step's, patched by its own `retry:`).
    private mutating func compensation(_ block: YAMLFields, context: String, stepID: String?,
                                       retry: RetryPolicy) -> (ActionCall?, RetryPolicy) {
        guard let node = block["compensate"],
              let compensation = fields(node, context: context + " compensate", allowed: Self.compensateKeys, what: "a compensation")
        else { return (nil, retry) }
        let scope = TemplateScope(context: context + " compensate", stepID: stepID, allowsOwnOutputs: true)
        let call = self.call(compensation, context: scope.context, scope: scope)
        guard let retryNode = compensation["retry"], let patch = retryPatch(retryNode, context: context + " compensate retry") else {
            return (call, retry)
        }
        return (call, patch.applied(to: retry))
    }

    /// Whether the step has `approval: required`; any other value is reported.
    private mutating func approval(_ block: YAMLFields, context: String) -> Bool {
        guard let node = block["approval"], let value = text(node, context: context, key: "approval") else { return false }
        guard value == "required" else {
            report(node, context, "approval must be 'required' (or left out), got '\(value)'")
            return false
        }
        return true
    }

    mutating func needs(_ node: Node, context: String) -> [Need] {
        let items: [Node]
        switch node {
        case .sequence(let sequence): items = Array(sequence)
        case .scalar: items = Self.isNull(node) ? [] : [node]
        case .mapping:
            report(node, context, "'needs' must be a list of step ids, got a map")
            return []
        }
        var needs: [Need] = []
        var seen = Set<String>()
        for item in items {
            guard let target = text(item, context: context, key: "needs") else { continue }
            guard seen.insert(target).inserted else {
                report(item, context, "needs '\(target)' more than once")
                continue
            }
            needs.append(Need(target: target, location: location(item)))
        }
        return needs
    }

    mutating func waiter(_ node: Node, context: String, stepID: String?) -> WaiterDefinition? {
        guard let block = fields(node, context: context, allowed: Self.waitKeys, what: "a waiter") else { return nil }
        let scope = TemplateScope(context: context, stepID: stepID, allowsOwnOutputs: true)
        let call = self.call(block, context: context, scope: scope)
        var until: OutputMatcher?
        if let node = block["until"] {
            until = matcher(node, context: context + " until")
        } else {
            report(node, context, "missing key 'until' (the condition that ends the wait)")
        }
        let failIf = block["fail_if"].flatMap { matcher($0, context: context + " fail_if") }
        let (interval, intervalTemplate) = waiterDuration(block["interval"], context: context, key: "interval", fallback: Self.defaultWaitInterval)
        let (timeout, timeoutTemplate) = waiterDuration(block["timeout"], context: context, key: "timeout", fallback: Self.defaultWaitTimeout)
        guard let call, let until, let interval, let timeout else { return nil }
        return WaiterDefinition(call: call, until: until, failIf: failIf, interval: interval, timeout: timeout,
                                intervalTemplate: intervalTemplate, timeoutTemplate: timeoutTemplate)
    }

    /// A waiter's `interval`/`timeout`: a literal duration, or `${{ params.X }}` naming a `duration` parameter
    /// (so runbooks can poll AWS every 30 s and tests every few milliseconds).
    mutating func waiterDuration(_ node: Node?, context: String, key: String, fallback: Duration) -> (Duration?, String?) {
        guard let node else { return (fallback, nil) }
        guard let value = text(node, context: context, key: key) else { return (nil, nil) }
        guard Template.containsExpression(value) else { return (duration(node, context: context, key: key), nil) }
        let references = Template.references(in: value)
        let valid = !references.isEmpty && references.allSatisfy {
            if case .param = $0 { return true }
            return false
        }
        guard valid, TemplateScanner.segments(of: value).allSatisfy({ if case .unterminated = $0 { return false }; return true }) else {
            report(node, context, "\(key) '\(value)' may only use ${{ params.NAME }} naming a duration parameter")
            return (nil, nil)
        }
        for case .param(let name) in references {
            if !parameterNames.contains(name) {
                report(node, context, "${{ params.\(name) }} names unknown parameter '\(name)'\(Suggestion.didYouMean(name, among: parameterNames.sorted()))")
            } else if let type = parameterTypes[name], type != .duration {
                report(node, context, "\(key) uses parameter '\(name)', which is of type \(type.rawValue); declare it with type: duration")
            }
        }
        return (fallback, value)
    }

    mutating func matcher(_ node: Node, context: String) -> OutputMatcher? {
        guard let block = fields(node, context: context, allowed: Self.matcherKeys, what: "an output condition") else { return nil }
        var output: String?
        if let node = block["output"] {
            output = text(node, context: context, key: "output")
        } else {
            report(node, context, "missing key 'output' (the output the condition reads)")
        }
        var values: [String]?
        switch (block["equals"], block["in"]) {
        case (let equals?, nil):
            values = text(equals, context: context, key: "equals").map { [$0] }
        case (nil, let list?):
            if case .sequence(let sequence) = list, !sequence.isEmpty {
                let items = sequence.compactMap { text($0, context: context, key: "in") }
                values = items.count == sequence.count ? items : nil
            } else {
                report(list, context, "'in' must be a non-empty list of values, got \(Self.kind(of: list))")
            }
        case (_?, _?):
            report(node, context, "use either 'equals' or 'in', not both")
        case (nil, nil):
            report(node, context, "missing key 'equals' or 'in' (the values that satisfy the condition)")
        }
        guard let output, let values else { return nil }
        return OutputMatcher(output: output, values: values)
    }

    // MARK: - Action calls

    /// The `action:`/`with:` pair in `block`, checked against the registry.
    mutating func call(_ block: YAMLFields, context: String, scope: TemplateScope) -> ActionCall? {
        guard let actionNode = block["action"] else {
            report(block.node, context, "missing key 'action'")
            return nil
        }
        guard let name = text(actionNode, context: context, key: "action") else { return nil }
        let action = registry.action(named: name)
        if action == nil {
            let names = registry.names
            let hint = Suggestion.closest(to: name, among: names).map { " (did you mean '\($0)'?)" }
                ?? (names.isEmpty ? "" : " (known actions: \(names.joined(separator: ", ")))")
            report(actionNode, context, "unknown action '\(name)'\(hint)")
        }
        let specs = action?.inputs ?? []
        let acceptsAnyInput = specs.contains { $0.name == ActionInputSpec.anyInputName }
        var inputs: [String: InputValue] = [:]
        if let withNode = block["with"], let entries = orderedMapping(withNode, context: context, what: "'with' inputs") {
            for (key, keyNode, valueNode) in entries {
                let spec = specs.first { $0.name == key }
                if action != nil, spec == nil, !acceptsAnyInput {
                    let known = specs.map(\.name)
                    report(keyNode, context, "action '\(name)' has no input '\(key)'\(Suggestion.didYouMean(key, among: known))")
                }
                inputs[key] = inputValue(valueNode)
                let inputScope = TemplateScope(context: context + " input '\(key)'", stepID: scope.stepID, allowsOwnOutputs: scope.allowsOwnOutputs)
                if let spec { checkKind(valueNode, spec: spec, scope: inputScope) }
                if spec?.literalOnly == true {
                    if containsTemplate(valueNode) {
                        report(valueNode, inputScope.context, "${{ }} is not allowed here; pass values through env: instead")
                    }
                } else {
                    checkTemplates(in: valueNode, scope: inputScope)
                }
            }
        }
        if action != nil {
            for spec in specs where spec.required && inputs[spec.name] == nil {
                report(block["with"] ?? actionNode, context, "action '\(name)' needs input '\(spec.name)'")
            }
        }
        return ActionCall(action: name, inputs: inputs, location: location(actionNode))
    }

    mutating func checkKind(_ node: Node, spec: ActionInputSpec, scope: TemplateScope) {
        let matches: Bool
        switch (spec.kind, node) {
        case (.any, _), (.scalar, .scalar), (.list, .sequence), (.map, .mapping): matches = true
        case (.list, .scalar): matches = true // a single value is a one-element list
        default: matches = false
        }
        if !matches {
            let expected = switch spec.kind {
            case .scalar: "a single value"
            case .list: "a list"
            case .map: "a map"
            case .any: "a value"
            }
            report(node, scope.context, "must be \(expected), got \(Self.kind(of: node))")
        }
    }

    func inputValue(_ node: Node) -> InputValue {
        switch node {
        case .scalar(let scalar): return .scalar(Self.isNull(node) ? "" : scalar.string)
        case .sequence(let sequence): return .list(sequence.map(inputValue))
        case .mapping(let mapping):
            var map: [String: InputValue] = [:]
            for (key, value) in mapping {
                if case .scalar(let keyScalar) = key { map[keyScalar.string] = inputValue(value) }
            }
            return .map(map)
        }
    }

    func containsTemplate(_ node: Node) -> Bool {
        switch node {
        case .scalar(let scalar): Template.containsExpression(scalar.string)
        case .sequence(let sequence): sequence.contains(where: containsTemplate)
        case .mapping(let mapping): mapping.contains { containsTemplate($0.value) }
        }
    }

    mutating func checkTemplates(in node: Node, scope: TemplateScope) {
        switch node {
        case .scalar(let scalar): checkTemplate(scalar.string, at: node, scope: scope)
        case .sequence(let sequence): for item in sequence { checkTemplates(in: item, scope: scope) }
        case .mapping(let mapping): for (_, value) in mapping { checkTemplates(in: value, scope: scope) }
        }
    }

    // MARK: - Phase 2: the graph

    /// Unknown needs, cycles, and `steps.X.outputs.K` naming a step that is not a transitive ancestor.
    mutating func checkGraph(steps: [StepDefinition], needsByStep: [(id: String, location: SourceLocation, needs: [Need])]) {
        let ids = Set(steps.map(\.id))
        let orderedIDs = steps.map(\.id)
        for entry in needsByStep {
            for need in entry.needs where !ids.contains(need.target) {
                report(need.location, "step '\(entry.id)'", "needs unknown step '\(need.target)'\(Suggestion.didYouMean(need.target, among: orderedIDs))")
            }
        }
        let graph = RunbookGraph(nodes: steps.map(RunbookGraph.Node.init))
        let cycles = graph.cycles
        for cycle in cycles {
            // Report at the `needs:` entry of the cycle's first step that names the second.
            let first = cycle[0], second = cycle.count > 1 ? cycle[1] : first
            let location = needsByStep.first { $0.id == first }.flatMap { entry in
                entry.needs.first { $0.target == second }?.location ?? entry.location
            } ?? SourceLocation(file: file, line: 1, column: 1)
            report(location, "", "cycle: \(cycle.joined(separator: " -> "))")
        }
        let ancestry = cycles.isEmpty && !stepOutputUses.isEmpty ? AncestorMatrix(graph) : nil
        for use in stepOutputUses {
            guard let target = graph.indexByID[use.target] else {
                report(use.location, use.context, "${{ \(use.reference) }} names unknown step '\(use.target)'\(Suggestion.didYouMean(use.target, among: orderedIDs))")
                continue
            }
            guard let ancestry, let step = graph.indexByID[use.stepID] else { continue }
            if target == step {
                report(use.location, use.context, "${{ \(use.reference) }} refers to the step itself; use ${{ outputs.KEY }} in wait: or compensate: to read its own outputs")
            } else if !ancestry.isAncestor(target, of: step) {
                report(use.location, use.context, "${{ \(use.reference) }} refers to step '\(use.target)', which step '\(use.stepID)' does not need (directly or through other steps); add '\(use.target)' to its needs:")
            }
        }
    }
}
