import Foundation
import RunbookAWS
import RunbookEngine

/// The AWS client shared by every AWS action of a process, created from the environment at first use,
/// so runbooks that use no AWS action need no credentials. Whoever makes a provider shuts it down.
public final class AWSClientProvider: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: AWSClient?
    private let environment: [String: String]
    private let clock: any RunClock

    /// A provider reading `environment` (tests point it at the local emulator); the client's retry sleeps
    /// and signing time come from `clock`.
    public init(environment: [String: String], clock: any RunClock = SystemClock()) {
        self.environment = environment
        self.clock = clock
    }

    /// The client, created on first call. Configuration problems become a non-retryable failure naming what to set.
    public func client() throws -> AWSClient {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        do {
            let created = AWSClient(configuration: try AWSConfiguration.resolve(environment: environment), clock: clock)
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

    /// Shuts the client down if it was created; call it before the provider is released or the process exits.
    public func shutdown() async throws {
        let existing = take()
        try await existing?.shutdown()
    }
}

extension AWSClient {
    /// A client whose retry sleeps and request signing time come from `clock`.
    public convenience init(configuration: AWSConfiguration, clock: any RunClock) {
        self.init(configuration: configuration, sleeper: RunClockSleeper(clock: clock), now: { clock.now })
    }
}

/// Sleeps on a run's clock, for the AWS client's retries and waiters.
struct RunClockSleeper: AWSSleeper {
    let clock: any RunClock

    func sleep(for duration: Duration) async throws { try await clock.sleep(for: duration) }
}

/// Who a resource found before creating it belongs to.
enum Ownership: Equatable, Sendable {
    /// Tagged with this run's id: created by this run before a crash (or a race); safe to undo.
    case thisRun
    /// Exists without this run's tag: adopted as pre-existing; a rollback never deletes or changes it.
    case preExisting

    static func of(_ tags: [AWSTag], runID: String) -> Ownership {
        tags.contains { $0.key == AWSTags.runID && $0.value == runID } ? .thisRun : .preExisting
    }

    /// The `result` for a resource found before creating: `recovered` (this run's) or `adopted`.
    var foundResult: CreateResult { self == .thisRun ? .recovered : .adopted }
    /// The `owned` output.
    var owned: String { self == .thisRun ? "true" : "false" }
}

/// The `result` output of a create-or-adopt step.
enum CreateResult: String, Sendable {
    case created, recovered, adopted
}

/// The `result` output of a delete step.
enum DeleteResult: String, Sendable {
    case deleted, absent, kept

    /// `result` and `undo` of the delete actions that report both: `deleted NAME`, or `absent` / `already gone` (nil).
    static func outputs(deleted name: String?) -> [String: String] {
        guard let name else { return [AWSOutput.result: absent.rawValue, AWSOutput.undo: "already gone"] }
        return [AWSOutput.result: deleted.rawValue, AWSOutput.undo: "deleted \(name)"]
    }
}

/// Output names the AWS actions share.
enum AWSOutput {
    static let result = "result"
    static let owned = "owned"
    static let undo = "undo"
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

    /// True when `tags` carry any run's `runbook:run-id`: runbook created the resource.
    static func isRunbookCreated(_ tags: [AWSTag]) -> Bool { tags.contains { $0.key == runID } }
}

/// Helpers shared by the AWS actions.
enum AWSStep {
    /// Common input: the region (else the environment's or profile's).
    static let regionInput = ActionInputSpec("region", description: "the AWS region (default: AWS_REGION / profile)")

    /// The inputs of an action on a resource by `name` in a `region`.
    static let nameInRegionInputs = [ActionInputSpec("name", required: true), regionInput]

    /// True when `error` is an AWS error with one of `codes`.
    static func isError(_ error: any Error, _ codes: String...) -> Bool { isError(error, in: Set(codes)) }

    /// True when `error` is an AWS error with a code in `codes`.
    static func isError(_ error: any Error, in codes: Set<String>) -> Bool {
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

    /// Seconds (one decimal) between `start` (epoch ms) and `now` (epoch ms).
    static func secondsSince(_ start: Int64, now: Int64) -> String {
        String(format: "%.1f", Double(now - start) / 1000)
    }

    /// Common input: how often undo and delete poll AWS while they wait (see ``WaitPacing``).
    static let paceInput = ActionInputSpec("pace", description: "how often undo/delete poll AWS while they wait (default 30s)")

    /// A comma-separated or list input as a list of non-empty strings.
    static func list(_ invocation: ActionInvocation, _ name: String) throws -> [String] {
        try invocation.stringList(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// How an undo or a delete waits for a resource to settle before its next call: an acceptor waiter polled every
/// `pace` (input `pace`, default 30s) for up to `timeout` (input `settle_timeout`, default 60m). Waiters proper are
/// the runbook's `wait:` blocks, paced by their `interval`.
struct WaitPacing: Sendable {
    var pace: Duration
    var timeout: Duration
    /// The run's clock, which the waiter sleeps on between polls.
    var clock: any RunClock

    init(_ invocation: ActionInvocation) throws {
        pace = try invocation.duration("pace") ?? .seconds(30)
        timeout = try invocation.duration("settle_timeout") ?? .seconds(3600)
        clock = invocation.clock
    }

    /// Polls that fit into `timeout` at one every `pace`, the first at once.
    var maxAttempts: Int {
        let cap = 1_000_000
        guard pace > .zero else { return cap }
        return Int(min((timeout / pace).rounded(.down), Double(cap - 1))) + 1
    }

    /// Runs `waiter` until it succeeds. Running out of time is a retryable failure, a failure state a final one,
    /// both naming `what` (e.g. `DB instance db1 in us-east-1 to be deleted`).
    func wait<Output: Sendable>(_ waiter: AWSWaiter<Output>, for what: String) async throws -> WaiterPoll<Output> {
        do {
            return try await waiter.wait(sleeper: RunClockSleeper(clock: clock))
        } catch let stopped as AWSWaiterError where stopped.reason == .maxAttemptsExceeded {
            throw ActionFailure("timed out after \(DurationText.format(timeout)) waiting for \(what)", retryable: true)
        } catch let stopped as AWSWaiterError {
            throw ActionFailure("waiting for \(what): \(stopped)", retryable: false)
        } catch {
            throw AWSStep.failure(error, "waiting for \(what)")
        }
    }
}
