import Foundation

/// The outcome of one waiter poll, as AWS waiters define it.
public enum WaiterState: String, Sendable {
    case success, retry, failure
}

/// An acceptor: when its matcher matches the response (or error), the waiter enters `state`.
public struct WaiterAcceptor<Output: Sendable>: Sendable {
    public enum Matcher: Sendable {
        /// The value at the path equals `expected`.
        case path(String, @Sendable (Output) -> String?)
        /// Every value at the path equals `expected` (and there is at least one).
        case pathAll(String, @Sendable (Output) -> [String])
        /// At least one value at the path equals `expected`.
        case pathAny(String, @Sendable (Output) -> [String])
        /// The operation failed with this error code.
        case error
    }

    public var state: WaiterState
    public var matcher: Matcher
    public var expected: String

    public init(_ state: WaiterState, _ matcher: Matcher, expected: String) {
        self.state = state
        self.matcher = matcher
        self.expected = expected
    }

    /// A readable form, e.g. `pathAny DBInstances[].DBInstanceStatus == deleting -> failure`.
    public var summary: String {
        switch matcher {
        case let .path(p, _): return "path \(p) == \(expected) -> \(state.rawValue)"
        case let .pathAll(p, _): return "pathAll \(p) == \(expected) -> \(state.rawValue)"
        case let .pathAny(p, _): return "pathAny \(p) == \(expected) -> \(state.rawValue)"
        case .error: return "error \(expected) -> \(state.rawValue)"
        }
    }

    func matches(output: Output) -> Bool {
        switch matcher {
        case let .path(_, f): return f(output) == expected
        case let .pathAll(_, f):
            let values = f(output)
            return !values.isEmpty && values.allSatisfy { $0 == expected }
        case let .pathAny(_, f): return f(output).contains(expected)
        case .error: return false
        }
    }

    func matches(error: AWSError) -> Bool {
        if case .error = matcher { return error.code == expected }
        return false
    }
}

/// What one poll saw and how it was classified, for the engine to record.
public struct WaiterPoll<Output: Sendable>: Sendable {
    public var state: WaiterState
    /// The response, when the operation succeeded.
    public var output: Output?
    /// The service error, when the operation failed with one an acceptor matched.
    public var error: AWSError?
    /// The acceptor that matched (nil when none did: the waiter retries).
    public var matchedAcceptor: String?
    /// A short description of the observed state, e.g. `DBInstanceStatus=modifying`.
    public var observed: String
}

/// Why waiting ended without success.
public struct AWSWaiterError: Error, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// A failure acceptor matched.
        case failureState
        /// `maxAttempts` polls without success.
        case maxAttemptsExceeded
    }
    public let waiter: String
    public let reason: Reason
    public let attempts: Int
    public let lastObserved: String

    public var description: String {
        switch reason {
        case .failureState: return "waiter \(waiter) reached a failure state after \(attempts) poll(s): \(lastObserved)"
        case .maxAttemptsExceeded: return "waiter \(waiter) gave up after \(attempts) poll(s); last seen: \(lastObserved)"
        }
    }
}

/// An AWS waiter: an operation polled every `delay` up to `maxAttempts` times, classified by acceptors.
public struct AWSWaiter<Output: Sendable>: Sendable {
    public var name: String
    public var delay: Duration
    public var maxAttempts: Int
    public var acceptors: [WaiterAcceptor<Output>]
    let operation: @Sendable () async throws -> Output
    let observe: @Sendable (Output) -> String

    public init(name: String, delay: Duration, maxAttempts: Int, acceptors: [WaiterAcceptor<Output>],
                operation: @escaping @Sendable () async throws -> Output, observe: @escaping @Sendable (Output) -> String) {
        self.name = name
        self.delay = delay
        self.maxAttempts = maxAttempts
        self.acceptors = acceptors
        self.operation = operation
        self.observe = observe
    }

    /// Calls the operation once and classifies the result. A service error that no acceptor
    /// matches is thrown, as are transport errors.
    public func pollOnce() async throws -> WaiterPoll<Output> {
        let output: Output
        do {
            output = try await operation()
        } catch let error as AWSError {
            if let acceptor = acceptors.first(where: { $0.matches(error: error) }) {
                return WaiterPoll(state: acceptor.state, output: nil, error: error, matchedAcceptor: acceptor.summary, observed: "error \(error.code)")
            }
            throw error
        }
        let observed = observe(output)
        if let acceptor = acceptors.first(where: { $0.matches(output: output) }) {
            return WaiterPoll(state: acceptor.state, output: output, error: nil, matchedAcceptor: acceptor.summary, observed: observed)
        }
        return WaiterPoll(state: .retry, output: output, error: nil, matchedAcceptor: nil, observed: observed)
    }

    /// Polls until success (returns the last poll), a failure state or `maxAttempts` (throws ``AWSWaiterError``).
    /// `onPoll` sees every poll (e.g. to log or record it).
    @discardableResult
    public func wait(sleeper: any AWSSleeper = TaskSleeper(), onPoll: @Sendable (Int, WaiterPoll<Output>) async -> Void = { _, _ in }) async throws -> WaiterPoll<Output> {
        var attempt = 0
        while true {
            attempt += 1
            let poll = try await pollOnce()
            await onPoll(attempt, poll)
            switch poll.state {
            case .success: return poll
            case .failure: throw AWSWaiterError(waiter: name, reason: .failureState, attempts: attempt, lastObserved: poll.observed)
            case .retry:
                if attempt >= maxAttempts {
                    throw AWSWaiterError(waiter: name, reason: .maxAttemptsExceeded, attempts: attempt, lastObserved: poll.observed)
                }
                try await sleeper.sleep(for: delay)
            }
        }
    }
}
