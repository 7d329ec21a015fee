import Foundation
import RunbookEngine

/// `pass`: does nothing and outputs its `with` map (scalars as written, lists joined with commas).
public struct PassAction: StepAction {
    public let name = "pass"
    public let summary = "Do nothing; output the given values"
    public let inputs = [ActionInputSpec("*", kind: .any, description: "any keys; each becomes an output")]
    public let computesInMemory = true

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        var outputs: [String: String] = [:]
        for (key, value) in invocation.inputs { outputs[key] = Self.flatten(value) }
        return outputs
    }

    static func flatten(_ value: InputValue) -> String {
        switch value {
        case .scalar(let s): return s
        case .list(let items): return items.map(flatten).joined(separator: ",")
        case .map(let map): return map.keys.sorted().map { "\($0)=\(flatten(map[$0] ?? .scalar("")))" }.joined(separator: ",")
        }
    }
}

/// `sleep`: waits for `duration`.
public struct SleepAction: StepAction {
    public let name = "sleep"
    public let summary = "Wait for a duration"
    public let inputs = [ActionInputSpec("duration", required: true, description: "how long, e.g. 500ms, 10s, 5m")]

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let duration = try invocation.duration("duration") ?? .zero
        try await invocation.clock.sleep(for: duration)
        return ["slept": DurationText.format(duration)]
    }
}

/// `fail`: fails with `message`; with `attempts: N` it fails only the first N attempts (for drills and tests).
public struct FailAction: StepAction {
    public let name = "fail"
    public let summary = "Fail with a message (optionally only the first N attempts)"
    public let inputs = [
        ActionInputSpec("message", description: "the failure message"),
        ActionInputSpec("attempts", description: "fail only the first N attempts, then succeed"),
    ]
    public let computesInMemory = true

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let message = invocation.string("message") ?? "failed on purpose"
        if let limit = try invocation.int("attempts") {
            if invocation.attempt > limit { return ["failed_attempts": String(limit)] }
            throw ActionFailure("\(message) (attempt \(invocation.attempt) of the \(limit) set to fail)")
        }
        throw ActionFailure(message)
    }
}

/// `approve`: a gate. The step waits for `runbook approve RUN STEP` (or `--yes`), then succeeds.
public struct ApproveAction: StepAction {
    public let name = "approve"
    public let summary = "A manual gate: wait for `runbook approve` (or --yes)"
    public let inputs = [ActionInputSpec("message", description: "what the approver is asked")]
    public var isApprovalGate: Bool { true }

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        ["approved": "true"]
    }
}

/// The built-in actions.
public enum BuiltinActions {
    public static let all: [any StepAction] = [ShellAction(), PassAction(), SleepAction(), FailAction(), ApproveAction(), IntervalAction()]

    /// A registry holding the built-in actions.
    public static func registry() -> ActionRegistry { ActionRegistry(all) }
}
