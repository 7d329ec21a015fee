import Foundation
import RunbookEngine

/// A `RunStore` decorator that counts durable writes and the wall time spent waiting for them, so the
/// report can say how many commits a case made and how much of its time went into them.
public final class CountingStore: RunStore, @unchecked Sendable {
    public let base: any RunStore
    private let lock = NSLock()
    private var _writes = 0
    private var _writeNanoseconds: Int64 = 0

    public init(_ base: any RunStore) { self.base = base }

    public var preferredTaskExecutor: (any TaskExecutor)? { base.preferredTaskExecutor }

    /// Durable write calls made by the run's transitions (createRun, commit, appendUnleased, lease changes).
    /// Lease heartbeats (every 2 s, in the background) are not counted: they depend on wall time, not on steps.
    public var writes: Int { lock.withLock { _writes } }
    /// Summed wall time inside those calls (meaningful for sequential paths; overlapping calls add up).
    public var writeSeconds: Double { lock.withLock { Double(_writeNanoseconds) / 1e9 } }

    public func reset() {
        lock.withLock {
            _writes = 0
            _writeNanoseconds = 0
        }
    }

    private func timed<T>(_ body: () async throws -> T) async rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let end = DispatchTime.now().uptimeNanoseconds
            lock.withLock {
                _writes += 1
                _writeNanoseconds += Int64(end - start)
            }
        }
        return try await body()
    }

    public func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) async throws {
        try await timed { try await base.createRun(run, steps: steps, lease: lease, events: events) }
    }
    public func commit(runID: String, leaseToken: String, _ changes: RunChanges) async throws {
        try await timed { try await base.commit(runID: runID, leaseToken: leaseToken, changes) }
    }
    public func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool {
        try await timed { try await base.commit(runID: runID, leaseToken: leaseToken, changes, launching: launches) }
    }
    public func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) async throws -> (lease: Lease, replaced: Lease?) {
        try await timed { try await base.acquireLease(runID: runID, holder: holder, staleAfter: staleAfter, now: now) }
    }
    public func heartbeat(runID: String, leaseToken: String, now: Int64) async throws -> Bool {
        try await base.heartbeat(runID: runID, leaseToken: leaseToken, now: now)
    }
    public func releaseLease(runID: String, leaseToken: String) async throws {
        try await timed { try await base.releaseLease(runID: runID, leaseToken: leaseToken) }
    }
    public func lease(runID: String) async throws -> Lease? { try await base.lease(runID: runID) }
    public func requestCancel(runID: String, event: NewEvent) async throws {
        try await timed { try await base.requestCancel(runID: runID, event: event) }
    }
    public func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) async throws {
        try await timed { try await base.appendUnleased(runID: runID, steps: steps, events: events) }
    }
    public func run(id: String) async throws -> RunRecord? { try await base.run(id: id) }
    public func resolveRunID(_ prefix: String) async throws -> RunIDMatch { try await base.resolveRunID(prefix) }
    public func runs(limit: Int) async throws -> [RunRecord] { try await base.runs(limit: limit) }
    public func steps(runID: String) async throws -> [StepRecord] { try await base.steps(runID: runID) }
    public func events(runID: String) async throws -> [AuditEvent] { try await base.events(runID: runID) }
    public func allRunIDs() async throws -> [String] { try await base.allRunIDs() }
}
