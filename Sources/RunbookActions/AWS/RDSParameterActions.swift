import Foundation
import RunbookAWS
import RunbookEngine

/// `aws.rds.set-db-parameters`: set parameters of an existing DB parameter group (applied immediately), keeping the
/// values they replace; undo puts those back. Reprotect uses it to lift the fence a switchover left in the group
/// the new standby will use (`default_transaction_read_only`), once the fenced instance is gone.
public struct SetDBParametersAction: StepAction {
    public let name = "aws.rds.set-db-parameters"
    public let summary = "Set parameters of an existing DB parameter group (previous values kept); undo restores them"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput,
                         ActionInputSpec("parameters", required: true, kind: .map, description: "parameter name: value (applied immediately)")]
    public var hasUndo: Bool { true }
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let group = try DBParameterGroupResource(provider, invocation)
        let wanted = try invocation.stringMap("parameters")
        let current = try await values(group)
        var out: [String: String] = [:]
        // A re-run after a crash keeps the values recorded the first time.
        for key in wanted.keys.sorted() { out["previous.\(key)"] = invocation.stepOutputs["previous.\(key)"] ?? current[key] ?? "" }
        let differing = try await group.differing(wanted).sorted()
        if !differing.isEmpty {
            try await AWSStep.run("setting \(differing.joined(separator: ", ")) in \(group.description)") {
                try await group.rds.modifyDBParameterGroup(name: group.name, parameters: differing.map { RDS.Parameter(name: $0, value: wanted[$0]) })
            }
        }
        out["changed"] = differing.joined(separator: ",")
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let group = try DBParameterGroupResource(provider, invocation)
        let restore = invocation.stepOutputs.compactMap { key, value -> RDS.Parameter? in
            guard key.hasPrefix("previous."), !value.isEmpty else { return nil }
            return RDS.Parameter(name: String(key.dropFirst("previous.".count)), value: value)
        }.sorted { $0.name < $1.name }
        guard !restore.isEmpty else { return [AWSOutput.undo: "nothing had a value before"] }
        try await AWSStep.run("restoring \(restore.map(\.name).joined(separator: ", ")) in \(group.description)") {
            try await group.rds.modifyDBParameterGroup(name: group.name, parameters: restore)
        }
        return [AWSOutput.undo: "restored \(restore.map { "\($0.name)=\($0.value ?? "")" }.joined(separator: ", "))"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let group = try DBParameterGroupResource(provider, invocation)
        let differing = try await group.differing(try invocation.stringMap("parameters")).sorted()
        return differing.isEmpty ? ActionPlan(.nothing, "\(group.description) already has these values")
            : ActionPlan(.change, "\(group.description): \(differing.joined(separator: ", "))")
    }

    private func values(_ group: DBParameterGroupResource) async throws -> [String: String] {
        let all = try await AWSStep.run("parameters of \(group.description)") { try await group.rds.describeAllDBParameters(name: group.name, source: "user") }
        var values: [String: String] = [:]
        for p in all { if let v = p.value { values[p.name] = v } }
        return values
    }
}
