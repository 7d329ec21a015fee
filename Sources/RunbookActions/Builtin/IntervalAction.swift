import Foundation
import RunbookEngine

/// `interval`: the seconds between two recorded moments (epoch milliseconds, as the actions output them), and
/// that figure less `minus` seconds (e.g. a write outage less the time AWS itself spent promoting).
public struct IntervalAction: StepAction {
    public let name = "interval"
    public let summary = "Seconds between two recorded moments, optionally less a duration spent elsewhere"
    public let inputs = [
        ActionInputSpec("from", required: true, description: "the start, epoch ms"),
        ActionInputSpec("to", description: "the end, epoch ms (default: now)"),
        ActionInputSpec("minus", description: "seconds to take off, e.g. recovery_seconds"),
    ]

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let from = try Self.milliseconds(invocation, "from") ?? 0
        let to = try Self.milliseconds(invocation, "to") ?? invocation.clock.nowMilliseconds
        guard to >= from else { throw ActionFailure("'to' (\(to)) is before 'from' (\(from))", retryable: false) }
        let seconds = Double(to - from) / 1000
        var out = ["seconds": String(format: "%.3f", seconds)]
        if let text = invocation.string("minus"), !text.isEmpty {
            guard let minus = Double(text) else { throw ActionFailure("'minus' must be a number of seconds, got '\(text)'", retryable: false) }
            out["remainder_seconds"] = String(format: "%.3f", max(0, seconds - minus))
        }
        return out
    }

    static func milliseconds(_ invocation: ActionInvocation, _ name: String) throws -> Int64? {
        guard let text = invocation.string(name), !text.isEmpty else { return nil }
        guard let value = Int64(text) else { throw ActionFailure("'\(name)' must be epoch milliseconds, got '\(text)'", retryable: false) }
        return value
    }
}
