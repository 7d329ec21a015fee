import ArgumentParser
import Foundation
import RunbookEngine

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what each step would do (create, adopt, change, nothing) against the current state, changing nothing.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The runbook's name or path.") var name: String
    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter value (repeatable).", valueName: "name=value")) var params: [String] = []
    @Option(name: .customLong("param-file"), help: ArgumentHelp("A YAML file of parameter values.", valueName: "file")) var paramFile: String?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let definition = try global.loadDefinition(name)
        let resolved = try ParameterInput.resolve(params: params, file: paramFile, definition: definition, environment: global.environment)
        let registry = global.registry
        let secretNames = Set(definition.parameters.filter(\.secret).map(\.name))
        var rows: [(step: String, action: String, plan: ActionPlan)] = []
        var outputs: [String: [String: String]] = [:]
        for id in RunbookGraph(definition: definition).topologicalOrder {
            guard let step = definition.step(id) else { continue }
            guard let action = registry.action(named: step.call.action) else { continue }
            let context = TemplateContext(params: resolved, stepOutputs: outputs, ownOutputs: [:], runID: "plan", runbook: definition.name)
            let plan: ActionPlan
            do {
                let inputs = try step.call.renderedInputs(context)
                let invocation = ActionInvocation(
                    runID: "plan", runbook: definition.name, stepID: id, attempt: 0, purpose: .plan, inputs: inputs,
                    parameters: resolved, secretParameterNames: secretNames,
                    workingDirectory: FileManager.default.currentDirectoryPath, clock: CommandProcess.clock)
                if action is any ReadOnlyAction { outputs[id] = try await action.perform(invocation) }
                plan = try await action.plan(invocation)
            } catch {
                let sources = Self.stepOutputSources(step.call.inputs)
                plan = sources.isEmpty ? ActionPlan(.unknown, "\(error)")
                    : ActionPlan(.unknown, "uses the outputs of \(sources.map { "'\($0)'" }.joined(separator: ", ")): known when the run gets there")
            }
            rows.append((id, step.call.action, plan))
        }
        if json {
            Terminal.out(JSONOutput.render(rows.map { ["step": $0.step, "action": $0.action, "effect": $0.plan.effect.rawValue, "detail": $0.plan.detail] }))
            return
        }
        let width = rows.map(\.step.count).max() ?? 4
        for row in rows {
            Terminal.out("\(row.step.padding(toLength: width, withPad: " ", startingAt: 0))  \(row.plan.effect.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(row.plan.detail)")
        }
    }

    /// The steps whose outputs `inputs` read (`${{ steps.X.outputs.K }}`), in first-use order.
    static func stepOutputSources(_ inputs: [String: InputValue]) -> [String] {
        var found: [String] = []
        func visit(_ value: InputValue) {
            switch value {
            case .scalar(let text):
                for case .stepOutput(let step, _) in Template.references(in: text) where !found.contains(step) { found.append(step) }
            case .list(let items): items.forEach(visit)
            case .map(let map): map.keys.sorted().forEach { visit(map[$0] ?? .scalar("")) }
            }
        }
        inputs.keys.sorted().forEach { visit(inputs[$0] ?? .scalar("")) }
        return found
    }
}
