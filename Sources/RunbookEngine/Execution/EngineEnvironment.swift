import Foundation

/// A point between two things the engine does, where a crash may happen. Tests interrupt the engine at each.
public enum Checkpoint: Sendable, Equatable, CustomStringConvertible {
    case beforeCommit(String)
    case afterCommit(String)
    case beforeSideEffect(step: String, purpose: InvocationPurpose)
    case afterSideEffect(step: String, purpose: InvocationPurpose)

    public var description: String {
        switch self {
        case .beforeCommit(let label): return "before commit \(label)"
        case .afterCommit(let label): return "after commit \(label)"
        case .beforeSideEffect(let step, let purpose): return "before \(purpose.rawValue) of \(step)"
        case .afterSideEffect(let step, let purpose): return "after \(purpose.rawValue) of \(step)"
        }
    }
}

/// A durable fact, reported to the user after it has been committed.
public struct ProgressEvent: Sendable {
    public var runID: String
    public var stepID: String?
    public var attempt: Int?
    public var kind: EventKind
    public var detail: [String: String]
    public var at: Int64
}

/// What the engine needs from the outside world.
public struct EngineEnvironment: Sendable {
    public var store: any RunStore
    public var registry: ActionRegistry
    public var actor: ActorIdentity
    /// Every time read and every wait of the run: timestamps, backoff, waiter intervals, time limits, the
    /// deadline, heartbeats.
    public var clock: any RunClock
    /// A number in [0, 1) for retry jitter.
    public var random: @Sendable () -> Double
    /// Called after each commit with the events it made durable; nil when nobody follows the run live.
    public var progress: (@Sendable (ProgressEvent) -> Void)?
    /// Called at every checkpoint boundary; throwing from it simulates a crash at that point (tests only).
    public var checkpointHook: (@Sendable (Checkpoint) throws -> Void)?
    /// A lease whose heartbeat is older than this (ms) may be taken over.
    public var leaseStaleAfter: Int64
    public var heartbeatInterval: Duration
    /// The AWS caller (STS GetCallerIdentity) of whoever drives the run, when known: recorded with the approvals
    /// that `--yes` gives.
    public var callerARN: String?
    /// 15 missed heartbeats of 2 s.
    public static let defaultLeaseStaleAfter: Int64 = 30_000

    public init(
        store: any RunStore, registry: ActionRegistry, actor: ActorIdentity = .current(),
        clock: any RunClock = SystemClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        progress: (@Sendable (ProgressEvent) -> Void)? = nil,
        checkpointHook: (@Sendable (Checkpoint) throws -> Void)? = nil,
        leaseStaleAfter: Int64 = EngineEnvironment.defaultLeaseStaleAfter, heartbeatInterval: Duration = .seconds(2),
        callerARN: String? = nil
    ) {
        self.callerARN = callerARN
        self.store = store
        self.registry = registry
        self.actor = actor
        self.clock = clock
        self.random = random
        self.progress = progress
        self.checkpointHook = checkpointHook
        self.leaseStaleAfter = leaseStaleAfter
        self.heartbeatInterval = heartbeatInterval
    }
}

/// Replaces secret values with `***` wherever they appear, in values and in keys.
public struct Redactor: Sendable {
    public static let mask = "***"
    /// Secrets shorter than this are refused (`ParameterResolver`): a short value would also match the
    /// engine's own words, and masking those would reveal it.
    public static let minimumSecretLength = 8
    private let secrets: [String]

    public init(secrets: [String]) {
        // Longest first so a secret containing another is masked whole.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    public func redact(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: Self.mask)
        }
        return out
    }

    public func redact(_ values: [String: String]) -> [String: String] {
        guard !secrets.isEmpty else { return values }
        var out: [String: String] = [:]
        out.reserveCapacity(values.count)
        for (key, value) in values { out[redact(key)] = redact(value) }
        return out
    }
}

extension RetryPolicy {
    /// How long to wait before attempt `attempt` (2 = the first retry): exponential or constant from
    /// `initialInterval`, capped at `maxInterval`, with full jitter (uniform in [0, delay]) when `jitter`.
    public func delay(beforeAttempt attempt: Int, random: Double) -> Duration {
        let retryIndex = max(0, attempt - 2)
        let initial = Double(DurationText.milliseconds(initialInterval))
        let cap = Double(DurationText.milliseconds(maxInterval))
        var ms: Double
        switch backoff {
        case .constant: ms = initial
        case .exponential: ms = initial * pow(2, Double(min(retryIndex, 40)))
        }
        ms = min(ms, max(cap, initial))
        if jitter { ms *= min(max(random, 0), 1) }
        return .milliseconds(Int64(ms.rounded()))
    }
}
