import Foundation

/// A `RunStore` held in memory: the fast twin of the SQLite store for engine tests.
///
/// It keeps the same contract (lease fencing, hash-chained append-only events) so tests that pass on it
/// exercise the engine's use of the store, not a simplified one.
public actor InMemoryRunStore: RunStore {
    private var runsByID: [String: RunRecord] = [:]
    private var stepsByRun: [String: [String: StepRecord]] = [:]
    private var eventsByRun: [String: [AuditEvent]] = [:]
    private var leases: [String: Lease] = [:]
    private var runOrder: [String] = []

    public init() {}

    public func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) throws {
        guard runsByID[run.id] == nil else { throw RunStoreError(.duplicateRun, "run \(run.id) already exists") }
        runsByID[run.id] = run
        runOrder.append(run.id)
        stepsByRun[run.id] = Dictionary(uniqueKeysWithValues: steps.map { ($0.stepID, $0) })
        leases[run.id] = lease
        append(run.id, events)
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges) throws {
        try checkLease(runID: runID, leaseToken: leaseToken)
        apply(runID, changes)
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) throws -> Bool {
        try checkLease(runID: runID, leaseToken: leaseToken)
        apply(runID, changes)
        let cancelRequested = runsByID[runID]?.cancelRequested ?? false
        if !cancelRequested { apply(runID, launches) }
        return cancelRequested
    }

    private func checkLease(runID: String, leaseToken: String) throws {
        guard runsByID[runID] != nil else { throw RunStoreError(.runNotFound, "run \(runID) not found") }
        guard leases[runID]?.token == leaseToken else {
            throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process; this one stopped writing")
        }
    }

    private func apply(_ runID: String, _ changes: RunChanges) {
        guard var run = runsByID[runID] else { return }
        if let status = changes.runStatus { run.status = status }
        if let message = changes.message { run.message = message }
        if let finished = changes.finishedAt { run.finishedAt = finished }
        runsByID[runID] = run
        for step in changes.steps { stepsByRun[runID, default: [:]][step.stepID] = step }
        append(runID, changes.events)
    }

    public func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) throws -> (lease: Lease, replaced: Lease?) {
        guard runsByID[runID] != nil else { throw RunStoreError(.runNotFound, "run \(runID) not found") }
        let existing = leases[runID]
        if let existing, !Self.leaseIsAbandoned(existing, staleAfter: staleAfter, now: now, localHost: holder.host) {
            throw RunStoreError(.leaseHeld, "run \(runID) is being driven by \(existing.holder)", holder: existing)
        }
        let lease = Lease(runID: runID, token: UUID().uuidString, holder: holder, heartbeatAt: now)
        leases[runID] = lease
        return (lease, existing)
    }

    public func heartbeat(runID: String, leaseToken: String, now: Int64) throws -> Bool {
        guard leases[runID]?.token == leaseToken else {
            throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process")
        }
        leases[runID]?.heartbeatAt = now
        return runsByID[runID]?.cancelRequested ?? false
    }

    public func releaseLease(runID: String, leaseToken: String) {
        if leases[runID]?.token == leaseToken { leases[runID] = nil }
    }

    public func lease(runID: String) -> Lease? { leases[runID] }

    public func requestCancel(runID: String, event: NewEvent) throws {
        guard runsByID[runID] != nil else { throw RunStoreError(.runNotFound, "run \(runID) not found") }
        runsByID[runID]?.cancelRequested = true
        append(runID, [event])
    }

    public func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) throws {
        guard runsByID[runID] != nil else { throw RunStoreError(.runNotFound, "run \(runID) not found") }
        for step in steps { stepsByRun[runID, default: [:]][step.stepID] = step }
        append(runID, events)
    }

    public func run(id: String) -> RunRecord? {
        guard var run = runsByID[id] else { return nil }
        run.chainHead = eventsByRun[id]?.last.map { ChainHead(seq: $0.seq, hash: $0.hash) }
        return run
    }

    public func resolveRunID(_ prefix: String) -> RunIDMatch {
        RunIDMatch.among(newestFirst(), prefix: prefix)
    }

    /// Run ids ordered as the SQLite store orders them: by creation time, then id (bytes), newest first.
    private func newestFirst() -> [String] {
        runOrder.sorted { a, b in
            let (createdA, createdB) = (runsByID[a]?.createdAt ?? 0, runsByID[b]?.createdAt ?? 0)
            if createdA != createdB { return createdA > createdB }
            return b.utf8.lexicographicallyPrecedes(a.utf8)
        }
    }

    public func runs(limit: Int) -> [RunRecord] {
        Array(runOrder.reversed().prefix(limit).compactMap { run(id: $0) })
    }

    public func steps(runID: String) -> [StepRecord] {
        (stepsByRun[runID] ?? [:]).values.sorted { $0.stepID < $1.stepID }
    }

    public func events(runID: String) -> [AuditEvent] { eventsByRun[runID] ?? [] }

    public func allRunIDs() -> [String] { runOrder }

    private func append(_ runID: String, _ events: [NewEvent]) {
        let head = eventsByRun[runID]?.last.map { ChainHead(seq: $0.seq, hash: $0.hash) }
        eventsByRun[runID, default: []] += AuditChain.linking(events, runID: runID, after: head)
    }
}
