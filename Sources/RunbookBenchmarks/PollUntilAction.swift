import Foundation
import RunbookEngine

/// A benchmark-only action: outputs `state=pending` until the invocation's attempt number (the poll number
/// when used as a waiter) reaches the `polls` input, then `state=done`.
public struct PollUntilAction: StepAction {
    public static let actionName = "bench-poll"
    public let name = PollUntilAction.actionName
    public let summary = "Benchmark: pending until poll number `polls`, then done"
    public let inputs = [ActionInputSpec("polls", required: true, description: "the poll number that reports done")]

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try invocation.int("polls") ?? 1
        return ["state": invocation.attempt >= target ? "done" : "pending", "poll": String(invocation.attempt)]
    }
}
