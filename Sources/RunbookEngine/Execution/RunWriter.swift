import Foundation

/// The engine crashed on purpose at a checkpoint (tests), or lost its lease: stop without another write.
struct EngineHalt: Error {
    var underlying: any Error
}

/// Commits checkpoints for one run under its lease, calling the checkpoint hook around each and reporting
/// the committed events as progress (on a queue of their own: terminal output never holds up a commit).
struct RunWriter: Sendable {
    let store: any RunStore
    let runID: String
    let leaseToken: String
    let hook: (@Sendable (Checkpoint) throws -> Void)?
    let progress: ProgressRelay
    /// Who writes, and when: step rows are stamped onto the checkpoint's events under this actor.
    let actor: ActorIdentity
    let clock: any RunClock

    func checkpoint(_ point: Checkpoint) throws {
        guard let hook else { return }
        do { try hook(point) } catch { throw EngineHalt(underlying: error) }
    }

    /// Commit `changes` and, unless a cancel has been requested, `launching` (the steps about to start), in
    /// one transaction; returns whether a cancel has been requested (`launching` was then not written).
    func commit(_ label: String, _ changes: RunChanges, launching: RunChanges) async throws -> Bool {
        guard !launching.isEmpty else {
            try await commit(label, changes)
            return false
        }
        let now = clock.nowMilliseconds
        let changes = changes.stamped(actor: actor, at: now)
        let launching = launching.stamped(actor: actor, at: now)
        try checkpoint(.beforeCommit(label))
        let cancelRequested: Bool
        do {
            cancelRequested = try await store.commit(runID: runID, leaseToken: leaseToken, changes, launching: launching)
        } catch let error as RunStoreError where error.code == .leaseLost {
            throw EngineHalt(underlying: error)
        }
        try checkpoint(.afterCommit(label))
        report(changes.events + (cancelRequested ? [] : launching.events))
        return cancelRequested
    }

    func commit(_ label: String, _ changes: RunChanges) async throws {
        guard !changes.isEmpty else { return }
        let changes = changes.stamped(actor: actor, at: clock.nowMilliseconds)
        try checkpoint(.beforeCommit(label))
        do {
            try await store.commit(runID: runID, leaseToken: leaseToken, changes)
        } catch let error as RunStoreError where error.code == .leaseLost {
            throw EngineHalt(underlying: error)
        }
        try checkpoint(.afterCommit(label))
        report(changes.events)
    }

    private func report(_ events: [NewEvent]) {
        progress.report(events.map {
            ProgressEvent(runID: runID, stepID: $0.stepID, attempt: $0.attempt, kind: $0.kind, detail: $0.detail, at: $0.at)
        })
    }
}

/// Hands committed events to the progress callback in order, on a serial queue of its own.
final class ProgressRelay: Sendable {
    private let queue = DispatchQueue(label: "runbook.progress")
    private let deliver: (@Sendable (ProgressEvent) -> Void)?

    init(_ deliver: (@Sendable (ProgressEvent) -> Void)?) {
        self.deliver = deliver
    }

    /// Without a callback (`--json`) nothing is queued: no thread wakes up for each commit.
    func report(_ events: [ProgressEvent]) {
        guard let deliver, !events.isEmpty else { return }
        queue.async { events.forEach(deliver) }
    }

    /// Wait until everything reported so far has been delivered.
    func flush() { queue.sync {} }
}

/// Shared, read-only context of one run's steps: what the state machine decides with and what actions get.
struct StepContext: Sendable {
    let runID: String
    let runbook: String
    let parameters: [String: String]
    let secretNames: Set<String>
    let options: RunOptions
    let registry: ActionRegistry
    /// A number in [0, 1) for retry jitter.
    let random: @Sendable () -> Double
    let actor: ActorIdentity
    /// What timestamps, time limits and actions' waits use.
    let clock: any RunClock
    let redactor: Redactor
    /// The driver's AWS caller ARN, when known (for approvals given by `--yes`).
    var callerARN: String? = nil

    /// An event about the run (or `step`), its detail redacted.
    func event(_ kind: EventKind, step: String?, attempt: Int? = nil, _ detail: [String: String] = [:], at now: Int64) -> NewEvent {
        NewEvent(stepID: step, attempt: attempt, kind: kind, detail: redactor.redact(detail), at: now, actor: actor)
    }

    func invocation(step: String, attempt: Int, purpose: InvocationPurpose, inputs: [String: InputValue], stepOutputs: [String: String]) -> ActionInvocation {
        ActionInvocation(
            runID: runID, runbook: runbook, stepID: step, attempt: attempt, purpose: purpose, inputs: inputs,
            parameters: parameters, secretParameterNames: secretNames, workingDirectory: options.workingDirectory,
            stepOutputs: stepOutputs, clock: clock)
    }

    /// Run `body` with an optional time limit, measured on the run's clock; a timeout is a retryable failure.
    func withTimeout<T: Sendable>(_ limit: Duration?, what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let limit else { return try await body() }
        let clock = self.clock
        let deadline = clock.monotonicNow + limit
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            if let value = first { return value }
            throw ActionFailure("\(what) timed out after \(DurationText.format(limit))", retryable: true)
        }
    }
}
