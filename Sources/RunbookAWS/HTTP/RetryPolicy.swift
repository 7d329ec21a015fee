import Foundation

/// The SDKs' "standard" retry mode: bounded attempts, capped exponential backoff with full
/// jitter, and a shared retry token bucket so an outage does not turn into a retry storm.
public struct AWSRetryPolicy: Sendable {
    /// Total attempts including the first (default 3).
    public var maxAttempts: Int
    /// Backoff for retry n (1-based) is `random(0,1) * min(baseDelay * 2^(n-1), maxBackoff)`.
    public var baseDelay: Duration
    public var maxBackoff: Duration
    /// Token bucket capacity (500), cost of a retry (5) and of a retry after a timeout (10).
    public var bucketCapacity: Int
    public var retryCost: Int
    public var timeoutRetryCost: Int
    /// Returns a uniform random number in [0, 1); injectable for tests.
    public var random: @Sendable () -> Double

    public init(maxAttempts: Int = 3, baseDelay: Duration = .seconds(1), maxBackoff: Duration = .seconds(20),
                bucketCapacity: Int = 500, retryCost: Int = 5, timeoutRetryCost: Int = 10,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxBackoff = maxBackoff
        self.bucketCapacity = bucketCapacity
        self.retryCost = retryCost
        self.timeoutRetryCost = timeoutRetryCost
        self.random = random
    }

    /// AWS's standard mode defaults.
    public static var standard: AWSRetryPolicy { AWSRetryPolicy() }

    /// The delay before retry number `retry` (1 for the first retry).
    public func backoff(retry: Int) -> Duration {
        let exponent = min(max(retry - 1, 0), 30)
        let ceiling = min(baseDelay.seconds * pow(2.0, Double(exponent)), maxBackoff.seconds)
        return .nanoseconds(Int64(random() * ceiling * 1e9))
    }

    /// Why a failure may be retried, or nil if it must not be.
    ///
    /// Throttling, transient error codes and 5xx are retried; connection failures before the
    /// request was sent are retried; timeouts and dropped connections (outcome unknown) are
    /// retried only when the operation is idempotent.
    public func retryReason(for error: any Error, idempotent: Bool) -> RetryReason? {
        if let e = error as? AWSError {
            if e.isThrottling { return .throttled }
            return e.isRetryable ? .serverError : nil
        }
        if let t = error as? AWSTransportError {
            if !t.outcomeUnknown { return .connectFailed }
            guard idempotent else { return nil }
            return t.kind == .timedOut ? .timedOut : .connectionLost
        }
        return nil
    }

    /// The classified cause of a retry; timeouts cost more tokens.
    public enum RetryReason: Sendable, Equatable {
        case throttled, serverError, connectFailed, timedOut, connectionLost
    }

    func cost(of reason: RetryReason) -> Int {
        reason == .timedOut ? timeoutRetryCost : retryCost
    }
}

/// The retry quota shared by all calls of one client: each retry takes tokens, each success
/// gives back the cost of its last retry (or one token when it needed none). When empty, failures
/// are returned to the caller at once instead of being retried.
public actor RetryTokenBucket {
    public let capacity: Int
    public private(set) var available: Int

    public init(capacity: Int) {
        self.capacity = capacity
        self.available = capacity
    }

    /// Takes `cost` tokens if there are enough.
    public func acquire(_ cost: Int) -> Bool {
        guard available >= cost else { return false }
        available -= cost
        return true
    }

    /// Returns tokens after a success, never above capacity.
    public func release(_ amount: Int) {
        available = min(capacity, available + amount)
    }
}

/// Sleeps between retries and waiter polls; tests inject one that returns at once and records.
public protocol AWSSleeper: Sendable {
    func sleep(for duration: Duration) async throws
}

/// Sleeps with `Task.sleep` (cancellable).
public struct TaskSleeper: AWSSleeper {
    public init() {}
    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
