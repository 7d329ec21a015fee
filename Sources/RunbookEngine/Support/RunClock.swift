import Foundation

/// Time as a run sees it: wall time for records, event timestamps and the run's deadline; monotonic time for
/// limits and cadences; sleeping. The engine, the actions, the store's callers and the AWS client all read and
/// wait on the one clock they are given, so a test can move time by hand instead of waiting for it.
public protocol RunClock: Sendable {
    /// Wall-clock time.
    var now: Date { get }
    /// `now` in milliseconds since 1970, as records store it.
    var nowMilliseconds: Int64 { get }
    /// Time since a fixed origin on a clock that never jumps (not wall time): what limits are measured on.
    var monotonicNow: Duration { get }
    /// A wait the run itself takes: a retry's backoff, a waiter's interval, the time left until the run's
    /// deadline. Throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
    /// A watch that something else usually ends first: a step's time limit, the next lease heartbeat. Returns
    /// once `monotonicNow` reaches `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

extension RunClock {
    public var nowMilliseconds: Int64 { Int64((now.timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// The real clock: `Date` for wall time, `ContinuousClock` for monotonic time and sleeping.
public struct SystemClock: RunClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public var now: Date { Date() }
    public var monotonicNow: Duration { ContinuousClock.now - Self.origin }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: Self.origin + deadline, clock: .continuous)
    }
}

/// A clock that moves only when told (tests). `advance(by:)` moves wall and monotonic time together and wakes
/// every sleeper whose deadline it reaches. With `sleepsAdvance`, each `sleep(for:)` instead moves the clock by
/// its own duration and returns at once (the run's own waits take no time), while `sleep(until:)` still waits
/// for the clock to get there. Every `sleep(for:)` duration is recorded, in order.
public final class ManualClock: RunClock, @unchecked Sendable {
    private struct Sleeper {
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let lock = NSLock()
    private let startMilliseconds: Int64
    private let sleepsAdvance: Bool
    private var elapsed: Duration = .zero
    private var sleepers: [UInt64: Sleeper] = [:]
    private var nextSleeper: UInt64 = 0
    private var recorded: [Duration] = []

    /// - Parameter startMilliseconds: the wall time it starts at, in milliseconds since 1970.
    public init(startMilliseconds: Int64 = 1_800_000_000_000, sleepsAdvance: Bool = false) {
        self.startMilliseconds = startMilliseconds
        self.sleepsAdvance = sleepsAdvance
    }

    public var now: Date { Date(timeIntervalSince1970: Double(nowMilliseconds) / 1000) }

    /// Exact: the start plus whole milliseconds elapsed.
    public var nowMilliseconds: Int64 { lock.withLock { startMilliseconds + DurationText.milliseconds(elapsed) } }

    public var monotonicNow: Duration { lock.withLock { elapsed } }

    /// The durations passed to `sleep(for:)`, in order.
    public var sleeps: [Duration] { lock.withLock { recorded } }

    /// The deadlines (on `monotonicNow`) of the sleepers still waiting, earliest first.
    public var pendingDeadlines: [Duration] { lock.withLock { sleepers.values.map(\.deadline).sorted() } }

    /// Move the clock forward and wake the sleepers whose deadline it reaches, earliest first.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = lock.withLock {
            elapsed += max(duration, .zero)
            let reached = sleepers.filter { $0.value.deadline <= elapsed }
            for id in reached.keys { sleepers[id] = nil }
            return reached.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let deadline = lock.withLock {
            recorded.append(duration)
            return elapsed + duration
        }
        guard sleepsAdvance else { return try await sleep(until: deadline) }
        advance(by: duration)
        await Task.yield()
    }

    public func sleep(until deadline: Duration) async throws {
        let id = lock.withLock {
            nextSleeper += 1
            return nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                lock.lock()
                if elapsed >= deadline {
                    lock.unlock()
                    continuation.resume()
                } else if Task.isCancelled {
                    lock.unlock()
                    continuation.resume(throwing: CancellationError())
                } else {
                    sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    lock.unlock()
                }
            }
        } onCancel: {
            let sleeper = lock.withLock { sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
