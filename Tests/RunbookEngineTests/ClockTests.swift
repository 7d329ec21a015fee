import Foundation
import Testing
@testable import RunbookEngine

/// Time limits, the run's deadline, retry backoff and waiter intervals are all measured on the run's clock:
/// with a clock that moves only when the test moves it, each fires exactly when its time is reached, and not
/// a millisecond before, without the test waiting for it in real time.
@Suite struct ClockTests {
    static let runID = "run-clock"
    /// How long, in real time, a run may take to get to its next wait or to its end: generous, since other
    /// suites may keep every thread busy meanwhile.
    static let patience: Duration = .seconds(60)

    /// A fresh harness for each test, on a clock that moves only by hand.
    let h = EngineHarness(clock: ManualClock())
    /// The wall time the run starts at.
    let t0: Int64

    init() {
        t0 = h.clock.nowMilliseconds
    }

    /// Start `yaml` in a task.
    private func start(_ yaml: String, deadline: Duration? = nil) throws -> Task<RunOutcome, any Error> {
        let definition = try h.definition(yaml)
        let engine = h.engine
        let deadlineAt = deadline.map { h.clock.nowMilliseconds + DurationText.milliseconds($0) }
        let options = RunOptions(deadlineAt: deadlineAt, workingDirectory: "/tmp")
        return Task { try await engine.start(definition: definition, parameters: [:], options: options, runID: Self.runID) }
    }

    /// Wait (in real time) until the run is parked on a sleeper due at `deadline` on the clock and `ready` holds.
    private func expectParked(until deadline: Duration, _ ready: @escaping () async throws -> Bool) async throws {
        let parked = try await eventually(within: Self.patience) { try await ready() && h.clock.pendingDeadlines.contains(deadline) }
        #expect(parked, "not parked at \(deadline): effects \(h.log.all), sleepers due at \(h.clock.pendingDeadlines)")
    }

    /// Move the clock to just short of `deadline` and check, after giving the run a moment of real time, that
    /// `unchanged` still holds; then move it the last millisecond and return how the run ended (nil when it
    /// did not end within `patience`).
    private func advance(to deadline: Duration, _ run: Task<RunOutcome, any Error>,
                         unchanged: () async throws -> Bool) async throws -> RunOutcome? {
        h.clock.advance(by: deadline - h.clock.monotonicNow - .milliseconds(1))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await unchanged(), "something happened before its time")
        h.clock.advance(by: .milliseconds(1))
        let ended = EndFlag()
        let watcher = Task {
            _ = try? await run.value
            ended.set()
        }
        let done = await eventually(within: Self.patience) { ended.isSet }
        if !done { run.cancel() }
        _ = await watcher.value
        return done ? try await run.value : nil
    }

    private func events(_ outcome: RunOutcome, _ kind: EventKind) async throws -> [AuditEvent] {
        try await h.store.events(runID: outcome.run.id, kind: kind)
    }

    @Test func aStepTimeoutFiresWhenTheClockReachesItAndIsRecordedAsATimeout() async throws {
        let run = try start("""
            name: test
            steps:
              - { id: slow, action: hang, with: { duration: 1h }, timeout: 1m }
            """)
        defer { run.cancel() }
        try await expectParked(until: .seconds(60)) { h.log.all == ["hang:slow:1"] }
        let outcome = try #require(try await advance(to: .seconds(60), run) {
            try await h.store.events(runID: Self.runID, kind: .attemptFailed).isEmpty
        })
        #expect(outcome.record("slow")?.status == .failed)
        #expect(outcome.record("slow")?.error == "step 'slow' attempt 1 timed out after 1m")
        let failed = try await events(outcome, .attemptFailed)
        #expect(failed.map(\.at) == [t0 + 60_000])
        #expect(outcome.run.status == .rolledBack)
    }

    @Test func theRunDeadlineStopsTheRunWhenTheClockReachesIt() async throws {
        let run = try start("""
            name: test
            steps:
              - { id: slow, action: hang, with: { duration: 1h } }
            """, deadline: .seconds(120))
        defer { run.cancel() }
        try await expectParked(until: .seconds(120)) { h.log.all == ["hang:slow:1"] }
        let outcome = try #require(try await advance(to: .seconds(120), run) {
            try await h.store.run(id: Self.runID)?.status == .running
        })
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.run.message == "the run's deadline passed; rolled back")
        let stopped = try await events(outcome, .rollbackStarted)
        #expect(stopped.map { $0.detail["reason"] } == ["the run's deadline passed"])
        #expect(stopped.map(\.at) == [t0 + 120_000])
    }

    @Test func retryBackoffWaitsThePolicysDelayBeforeTheNextAttempt() async throws {
        let run = try start("""
            name: test
            steps:
              - id: flaky
                action: note
                with: { key: f, fail_first: "1" }
                retry: { max_attempts: 3, backoff: constant, initial_interval: 90s, jitter: false }
            """)
        defer { run.cancel() }
        try await expectParked(until: .seconds(90)) { h.log.all == ["fail:f"] }
        let outcome = try #require(try await advance(to: .seconds(90), run) { h.log.all == ["fail:f"] })
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.record("flaky")?.attempts == 2)
        #expect(h.log.all == ["fail:f", "do:f"])
        let failed = try await events(outcome, .attemptFailed)
        #expect(failed.map { $0.detail["retry_in"] } == ["90s"])
        #expect(failed.map(\.at) == [t0])
        #expect(try await events(outcome, .attemptStarted).map(\.at) == [t0 + 90_000])
    }

    @Test func aWaiterPollsAgainWhenItsIntervalHasPassed() async throws {
        let run = try start("""
            name: test
            steps:
              - id: create
                action: note
                with: { key: db }
                wait:
                  action: probe
                  with: { states: "creating,available" }
                  until: { output: state, equals: available }
                  interval: 45s
                  timeout: 5m
            """)
        defer { run.cancel() }
        try await expectParked(until: .seconds(45)) { h.log.all == ["do:db", "poll:create:creating"] }
        let outcome = try #require(try await advance(to: .seconds(45), run) { h.log.all.count == 2 })
        #expect(outcome.run.status == .succeeded)
        #expect(outcome.record("create")?.polls == 2)
        let polls = try await events(outcome, .waiterPoll)
        #expect(polls.map { $0.detail["state"] } == ["creating", "available"])
        #expect(polls.map(\.at) == [t0, t0 + 45_000])
    }
}

/// Set once, from any task.
private final class EndFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
