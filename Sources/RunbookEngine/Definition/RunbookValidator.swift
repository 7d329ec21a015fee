import Yams

/// The keys a mapping of a YAML node holds, with the nodes for their positions.
struct YAMLFields {
    struct Entry {
        var keyNode: Node
        var value: Node
    }

    /// The mapping node itself.
    var node: Node
    var entries: [String: Entry]

    subscript(key: String) -> Node? { entries[key]?.value }
    func keyNode(_ key: String) -> Node? { entries[key]?.keyNode }
}

/// Walks a composed YAML tree, building the model and collecting diagnostics (phase 1), then checks what
/// needs every step at once: `needs`, cycles and `steps.X.outputs.K` ancestry (phase 2).
struct RunbookValidator {
    /// What `runbook(_:)` builds; assembled into a `RunbookDefinition` by the parser.
    struct Body {
        var name: String
        var description: String
        var parameters: [ParameterSpec]
        var defaults: StepDefaults
        var steps: [StepDefinition]
        var objectives: [RecoveryObjective]
    }

    /// A `${{ steps.X.outputs.K }}` found in step `stepID`, checked once the graph is known.
    struct StepOutputUse {
        var stepID: String
        var reference: TemplateReference
        var target: String
        var location: SourceLocation
        var context: String
    }

    /// A `needs:` entry with its position.
    struct Need {
        var target: String
        var location: SourceLocation
    }

    /// A retry block's keys; nil fields keep the value underneath.
    struct RetryPatch {
        var maxAttempts: Int?
        var backoff: RetryPolicy.Backoff?
        var initialInterval: Duration?
        var maxInterval: Duration?
        var jitter: Bool?

        func applied(to base: RetryPolicy) -> RetryPolicy {
            RetryPolicy(
                maxAttempts: maxAttempts ?? base.maxAttempts, backoff: backoff ?? base.backoff,
                initialInterval: initialInterval ?? base.initialInterval, maxInterval: maxInterval ?? base.maxInterval,
                jitter: jitter ?? base.jitter
            )
        }
    }

    static let topKeys = ["name", "description", "parameters", "defaults", "steps", "objectives"]
    static let objectiveKeys = ["target", "measured", "description", "from"]
    static let parameterKeys = ["type", "required", "secret", "default", "description"]
    static let defaultsKeys = ["retry", "timeout"]
    static let retryKeys = ["max_attempts", "backoff", "initial_interval", "max_interval", "jitter"]
    static let stepKeys = ["id", "description", "needs", "when", "action", "with", "retry", "timeout", "wait", "compensate", "irreversible", "approval", "on_failure"]
    static let waitKeys = ["action", "with", "until", "fail_if", "interval", "timeout"]
    static let matcherKeys = ["output", "equals", "in"]
    static let compensateKeys = ["action", "with", "retry"]
    static let durationForms = "write a number followed by ms, s, m or h, such as 500ms, 10s, 5m or 1h (or combined, such as 1h30m)"
    static let defaultWaitInterval: Duration = .seconds(2)
    static let defaultWaitTimeout: Duration = .seconds(600)

    let file: String
    let registry: ActionRegistry
    private(set) var diagnostics: [Diagnostic] = []
    /// Skip checks that only find errors (templates, graph) for a definition validated before.
    var trusted = false
    var parameterNames: Set<String> = []
    var parameterTypes: [String: ParameterType] = [:]
    var stepOutputUses: [StepOutputUse] = []

    init(file: String, registry: ActionRegistry) {
        self.file = file
        self.registry = registry
    }

    // MARK: - Top level

    mutating func runbook(_ root: Node) -> Body? {
        guard let top = fields(root, context: "", allowed: Self.topKeys, what: "a runbook") else { return nil }

        var name = ""
        if let node = top["name"] {
            name = text(node, context: "", key: "name") ?? ""
            if let expected = RunbookParser.expectedName(forFile: file), name != expected {
                report(node, "", "name '\(name)' must equal the file name without .yaml ('\(expected)')")
            }
        } else {
            report(root, "", "missing key 'name'")
        }
        let description = top["description"].flatMap { text($0, context: "", key: "description") } ?? ""
        var parameters: [ParameterSpec] = []
        if let node = top["parameters"] { parameters = self.parameters(node) }

        var defaults = StepDefaults(retry: RetryPolicy())
        if let node = top["defaults"], let block = fields(node, context: "defaults", allowed: Self.defaultsKeys, what: "defaults") {
            if let retry = block["retry"], let patch = retryPatch(retry, context: "defaults retry") {
                defaults.retry = patch.applied(to: defaults.retry)
            }
            if let timeout = block["timeout"] { defaults.timeout = duration(timeout, context: "defaults", key: "timeout") }
        }

        var steps: [StepDefinition] = []
        if let node = top["steps"] {
            steps = self.steps(node, defaults: defaults)
        } else {
            report(root, "", "missing key 'steps'")
        }
        let objectives = top["objectives"].map { self.objectives($0, steps: steps) } ?? []
        return Body(name: name, description: description, parameters: parameters, defaults: defaults, steps: steps, objectives: objectives)
    }

    mutating func parameters(_ node: Node) -> [ParameterSpec] {
        guard let block = orderedMapping(node, context: "parameters", what: "parameters") else { return [] }
        var specs: [ParameterSpec] = []
        for (name, keyNode, value) in block {
            let context = "parameter '\(name)'"
            if !isParameterName(name) {
                report(keyNode, "", "parameter name '\(name)' is not valid; use letters, digits, '_' and '-', starting with a letter or '_'")
            }
            parameterNames.insert(name)
            guard let spec = fields(value, context: context, allowed: Self.parameterKeys, what: "a parameter") else { continue }
            var type = ParameterType.string
            var typeIsValid = true
            if let typeNode = spec["type"], let typeName = text(typeNode, context: context, key: "type") {
                if let parsed = ParameterType(rawValue: typeName) {
                    type = parsed
                } else {
                    typeIsValid = false
                    let names = ParameterType.allCases.map(\.rawValue)
                    report(typeNode, context, "type '\(typeName)' is not one of \(names.joined(separator: ", "))\(Suggestion.didYouMean(typeName, among: names))")
                }
            }
            if typeIsValid { parameterTypes[name] = type }
            let required = spec["required"].flatMap { bool($0, context: context, key: "required") } ?? false
            let secret = spec["secret"].flatMap { bool($0, context: context, key: "secret") } ?? false
            let description = spec["description"].flatMap { text($0, context: context, key: "description") } ?? ""
            var defaultValue: String?
            if let defaultNode = spec["default"], let value = text(defaultNode, context: context, key: "default") {
                defaultValue = value
                if secret, !value.isEmpty, !trusted {
                    // Never echo the value: it is meant to be a secret.
                    report(defaultNode, context, "a secret cannot have a default (the runbook file is stored with each run and shown by history and exports); pass it with --param \(name)=VALUE or \(ParameterResolver.environmentVariable(for: name))")
                } else if typeIsValid, case .failure(let mismatch) = ParameterResolver.checked(value, as: type) {
                    report(defaultNode, context, "default '\(value)' \(mismatch) (the parameter's type is \(type.rawValue))")
                }
            }
            if required, defaultValue != nil, let requiredKey = spec.keyNode("required") {
                report(requiredKey, context, "a parameter cannot be both required and have a default; drop one (a default already makes it optional)")
            }
            specs.append(ParameterSpec(
                name: name, type: type, required: required, secret: secret, defaultValue: defaultValue,
                description: description, location: location(keyNode)
            ))
        }
        return specs
    }

    mutating func retryPatch(_ node: Node, context: String) -> RetryPatch? {
        guard let block = fields(node, context: context, allowed: Self.retryKeys, what: "a retry policy") else { return nil }
        var patch = RetryPatch()
        if let value = block["max_attempts"], let attempts = int(value, context: context, key: "max_attempts") {
            if attempts < 1 {
                report(value, context, "max_attempts must be at least 1, got \(attempts)")
            } else {
                patch.maxAttempts = attempts
            }
        }
        if let value = block["backoff"], let name = text(value, context: context, key: "backoff") {
            if let backoff = RetryPolicy.Backoff(rawValue: name) {
                patch.backoff = backoff
            } else {
                report(value, context, "backoff must be exponential or constant, got '\(name)'")
            }
        }
        if let value = block["initial_interval"] { patch.initialInterval = duration(value, context: context, key: "initial_interval") }
        if let value = block["max_interval"] { patch.maxInterval = duration(value, context: context, key: "max_interval") }
        if let value = block["jitter"] { patch.jitter = bool(value, context: context, key: "jitter") }
        return patch
    }

    // MARK: - Node helpers

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    mutating func report(_ node: Node, _ context: String, _ message: String) {
        report(location(node), context, message)
    }

    mutating func report(_ location: SourceLocation, _ context: String, _ message: String) {
        diagnostics.append(Diagnostic(location: location, message: context.isEmpty ? message : "\(context): \(message)"))
    }

    /// What a node is, for "expected X, got Y" messages.
    static func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a map"
        case .sequence: "a list"
        }
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// A mapping's entries in file order; reports non-text and duplicate keys.
    mutating func orderedMapping(_ node: Node, context: String, what: String) -> [(String, Node, Node)]? {
        guard case .mapping(let mapping) = node else {
            if Self.isNull(node) { return [] }
            report(node, context, "expected \(what) (a map of keys), got \(Self.kind(of: node))")
            return nil
        }
        // (Positions, not nodes, in the lookup table: copying a Yams node is costly on a 10,000-step file.)
        var seen: [String: Int] = [:]
        var entries: [(String, Node, Node)] = []
        entries.reserveCapacity(mapping.count)
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, context, "keys must be plain text, got \(Self.kind(of: keyNode))")
                continue
            }
            if let first = seen[key.string] {
                report(keyNode, context, "duplicate key '\(key.string)' (first at line \(location(entries[first].1).line))")
                continue
            }
            seen[key.string] = entries.count
            entries.append((key.string, keyNode, value))
        }
        return entries
    }

    /// A mapping's keys, reporting duplicates and any key not in `allowed` (with a suggestion).
    mutating func fields(_ node: Node, context: String, allowed: [String], what: String) -> YAMLFields? {
        guard case .mapping(let mapping) = node else {
            return orderedMapping(node, context: context, what: what).map { _ in YAMLFields(node: node, entries: [:]) }
        }
        var result = YAMLFields(node: node, entries: [:])
        result.entries.reserveCapacity(mapping.count)
        var unknown: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                report(keyNode, context, "keys must be plain text, got \(Self.kind(of: keyNode))")
                continue
            }
            let key = scalar.string
            if let first = result.entries[key]?.keyNode ?? unknown[key] {
                report(keyNode, context, "duplicate key '\(key)' (first at line \(location(first).line))")
                continue
            }
            guard allowed.contains(key) else {
                unknown[key] = keyNode
                report(keyNode, context, "unknown key '\(key)'\(Suggestion.didYouMean(key, among: allowed))")
                continue
            }
            result.entries[key] = YAMLFields.Entry(keyNode: keyNode, value: value)
        }
        return result
    }

    mutating func text(_ node: Node, context: String, key: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node, context, "'\(key)' must be a single value, got \(Self.kind(of: node))")
            return nil
        }
        return Self.isNull(node) ? "" : scalar.string
    }

    mutating func bool(_ node: Node, context: String, key: String) -> Bool? {
        guard let value = text(node, context: context, key: key) else { return nil }
        guard !value.isEmpty, let flag = BooleanText.parse(value) else {
            report(node, context, "'\(key)' must be true or false, got '\(value)'")
            return nil
        }
        return flag
    }

    mutating func int(_ node: Node, context: String, key: String) -> Int? {
        guard let value = text(node, context: context, key: key) else { return nil }
        guard let number = Int(value) else {
            report(node, context, "'\(key)' must be an integer, got '\(value)'")
            return nil
        }
        return number
    }

    mutating func duration(_ node: Node, context: String, key: String) -> Duration? {
        guard let value = text(node, context: context, key: key) else { return nil }
        guard let parsed = DurationText.parse(value) else {
            report(node, context, "\(key) '\(value)' is not a duration; \(Self.durationForms)")
            return nil
        }
        return parsed
    }

    func isParameterName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
    }

    static func isStepID(_ id: String) -> Bool {
        let scalars = id.unicodeScalars
        guard let first = scalars.first, first != "-" else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    // MARK: - Templates

    /// Where a template sits, which decides what it may read.
    struct TemplateScope {
        var context: String
        /// The step the template belongs to, when its id is valid.
        var stepID: String?
        /// True in waiter and compensation inputs, where `outputs.KEY` reads the step's own action outputs.
        var allowsOwnOutputs: Bool
    }

    /// Checks every `${{ }}` in `text`; step-output references are kept for phase 2.
    mutating func checkTemplate(_ text: String, at node: Node, scope: TemplateScope) {
        guard !trusted, Template.containsExpression(text) else { return }
        for segment in TemplateScanner.segments(of: text) {
            switch segment {
            case .literal: continue
            case .unterminated:
                report(node, scope.context, TemplateScanner.unterminatedMessage + " in '\(text)'")
            case .expression(let raw):
                guard let reference = TemplateReference(expression: raw) else {
                    report(node, scope.context, TemplateScanner.unknownExpressionMessage(raw))
                    continue
                }
                switch reference {
                case .param(let name) where !parameterNames.contains(name):
                    report(node, scope.context, "${{ \(reference) }} names unknown parameter '\(name)'\(Suggestion.didYouMean(name, among: parameterNames.sorted()))")
                case .ownOutput where !scope.allowsOwnOutputs:
                    report(node, scope.context, "${{ \(reference) }} is only available in wait: and compensate: inputs (it reads the outputs of the step's own action)")
                case .stepOutput(let target, _):
                    if let stepID = scope.stepID {
                        stepOutputUses.append(StepOutputUse(stepID: stepID, reference: reference, target: target, location: location(node), context: scope.context))
                    }
                default:
                    continue
                }
            }
        }
    }
}
