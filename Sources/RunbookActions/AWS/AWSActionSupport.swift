import Foundation
import RunbookAWS
import RunbookEngine

/// The AWS client shared by every AWS action of a process, created from the environment at first use,
/// so runbooks that use no AWS action need no credentials.
public final class AWSClientProvider: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: AWSClient?
    private let environment: [String: String]

    /// The process-wide provider, reading `ProcessInfo.processInfo.environment` at first use.
    public static let process = AWSClientProvider(environment: ProcessInfo.processInfo.environment)

    /// A provider reading `environment` (tests point it at the local emulator).
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The client, created on first call. Configuration problems become a non-retryable failure naming what to set.
    public func client() throws -> AWSClient {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        do {
            let created = AWSClient(configuration: try AWSConfiguration.resolve(environment: environment))
            cached = created
            return created
        } catch {
            throw ActionFailure("AWS is not configured: \(error)", retryable: false)
        }
    }

    private func take() -> AWSClient? {
        lock.lock()
        defer { lock.unlock() }
        let existing = cached
        cached = nil
        return existing
    }

    /// Shuts the client down if it was created (tests must call this before releasing the provider).
    public func shutdown() async throws {
        let existing = take()
        try await existing?.shutdown()
    }
}

/// Who a resource found before creating it belongs to.
enum Ownership: Equatable {
    /// Tagged with this run's id: created by this run before a crash (or a race); safe to undo.
    case thisRun
    /// Exists without this run's tag: adopted as pre-existing; a rollback never deletes or changes it.
    case preExisting

    static func of(_ tags: [AWSTag], runID: String) -> Ownership {
        tags.contains { $0.key == AWSTags.runID && $0.value == runID } ? .thisRun : .preExisting
    }

    /// The `result` output for a resource found before creating: `recovered` (this run's) or `adopted`.
    var foundResult: String { self == .thisRun ? "recovered" : "adopted" }
    var owned: String { self == .thisRun ? "true" : "false" }
}

/// The ownership tags every created resource carries.
enum AWSTags {
    static let runID = "runbook:run-id"
    static let step = "runbook:step"
    static let runbook = "runbook:runbook"

    static func ownership(_ invocation: ActionInvocation, name: String? = nil) -> [AWSTag] {
        var tags = [AWSTag(runID, invocation.runID), AWSTag(step, invocation.stepID), AWSTag(runbook, invocation.runbook)]
        if let name { tags.append(AWSTag("Name", name)) }
        return tags
    }
}

/// Helpers shared by the AWS actions.
enum AWSStep {
    /// Common input: the region (else the environment's or profile's).
    static let regionInput = ActionInputSpec("region", description: "the AWS region (default: AWS_REGION / profile)")

    /// True when `error` is an AWS error with one of `codes`.
    static func isError(_ error: any Error, _ codes: String...) -> Bool {
        guard let aws = error as? AWSError else { return false }
        return codes.contains(aws.code)
    }

    /// An `ActionFailure` naming the resource, the operation and the AWS error code.
    static func failure(_ error: any Error, _ what: String) -> ActionFailure {
        switch error {
        case let failure as ActionFailure: return failure
        case let aws as AWSError:
            return ActionFailure("\(what): \(aws.code): \(aws.message) (\(aws.operation), HTTP \(aws.statusCode))", retryable: aws.isRetryable)
        case let transport as AWSTransportError:
            return ActionFailure("\(what): \(transport)", retryable: true)
        case let validation as AWSValidationError:
            return ActionFailure("\(what): \(validation)", retryable: false)
        default:
            return ActionFailure("\(what): \(error)", retryable: false)
        }
    }

    /// Runs `body`, turning any error into a failure that names `what`.
    static func run<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw failure(error, what)
        }
    }

    /// Runs synchronous `body`, turning any error into a failure that names `what`.
    static func sync<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw failure(error, what)
        }
    }

    /// Wall-clock milliseconds since 1970.
    static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// Parses a timestamp input: epoch milliseconds or ISO-8601.
    static func parseTimestamp(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let ms = Int64(trimmed) { return ms }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: trimmed) { return Int64(date.timeIntervalSince1970 * 1000) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: trimmed).map { Int64($0.timeIntervalSince1970 * 1000) }
    }

    /// Seconds (one decimal) between `start` (epoch ms) and now.
    static func secondsSince(_ start: Int64) -> String {
        String(format: "%.1f", Double(nowMilliseconds() - start) / 1000)
    }

    /// How often an action polls AWS itself while it waits inside an undo or a delete (waiters proper are the
    /// runbook's `wait:` blocks, paced by their `interval`).
    static let paceInput = ActionInputSpec("pace", description: "how often undo/delete poll AWS while they wait (default 30s)")

    /// A comma-separated or list input as a list of non-empty strings.
    static func list(_ invocation: ActionInvocation, _ name: String) throws -> [String] {
        try invocation.stringList(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Repeats `probe` every `pace` until it returns a value, up to `timeout`; used by undo and delete
    /// actions that must wait for an instance to settle before the next call.
    static func poll<T: Sendable>(_ what: String, pace: Duration, timeout: Duration, _ probe: () async throws -> T?) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let value = try await probe() { return value }
            if clock.now >= deadline { throw ActionFailure("timed out after \(DurationText.format(timeout)) waiting for \(what)", retryable: true) }
            try await Task.sleep(for: pace)
        }
    }
}
