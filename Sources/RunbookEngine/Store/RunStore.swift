import Foundation

/// Durable storage for runs, their steps, leases and the audit history.
///
/// Every write is one transaction, durable when the call returns; `commit` checks the caller's lease
/// (fencing) in the same transaction. Implementations: `SQLiteRunStore` (RunbookSQLite) and the
/// in-memory twin `InMemoryRunStore` for fast engine tests.
public protocol RunStore: Sendable {
    /// Store a new run with its steps, its lease and its first events, atomically.
    func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) async throws
    /// Apply one checkpoint atomically, if `leaseToken` still holds the run's lease.
    func commit(runID: String, leaseToken: String, _ changes: RunChanges) async throws
    /// Apply `changes` and then, unless a cancel has been requested, `launches` (the steps about to start),
    /// in one transaction under the lease as `commit` does. Returns whether a cancel has been requested;
    /// `launches` was then not applied, so no step starts after a cancel has been recorded.
    func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool
    /// Take the run's lease when it is free, stale (heartbeat older than `staleAfter` ms) or held by a dead
    /// process on this host; otherwise throw `RunStoreError.leaseHeld`. Returns the lease now held and the
    /// one it replaced, if any.
    func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) async throws -> (lease: Lease, replaced: Lease?)
    /// Refresh the lease heartbeat; returns whether a cancel was requested. Throws `leaseLost` if fenced out.
    func heartbeat(runID: String, leaseToken: String, now: Int64) async throws -> Bool
    /// Give the lease up (no-op when not held by `leaseToken`).
    func releaseLease(runID: String, leaseToken: String) async throws
    /// The lease row, if any.
    func lease(runID: String) async throws -> Lease?
    /// Ask whoever drives the run to stop and roll back.
    func requestCancel(runID: String, event: NewEvent) async throws
    /// Append events outside a lease (approvals, cancel requests) and update the listed steps.
    func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) async throws

    func run(id: String) async throws -> RunRecord?
    /// Resolve a full run id from a unique prefix.
    func resolveRunID(_ prefix: String) async throws -> String?
    /// Runs newest first.
    func runs(limit: Int) async throws -> [RunRecord]
    func steps(runID: String) async throws -> [StepRecord]
    func events(runID: String) async throws -> [AuditEvent]
    /// The run's events of one kind, oldest first.
    func events(runID: String, kind: EventKind) async throws -> [AuditEvent]
    /// Ids of every run, oldest first (for `audit verify` of the whole database).
    func allRunIDs() async throws -> [String]

    /// Where the engine should run the task driving a run, when the store has a preference (the SQLite
    /// store's own thread, so checkpoints commit without a thread hand-off); `nil` for Swift's default pool.
    var preferredTaskExecutor: (any TaskExecutor)? { get }
}

/// A store failure the engine and CLI report in plain words.
public struct RunStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Another live process drives the run.
        case leaseHeld
        /// Our lease was taken over; we must stop writing.
        case leaseLost
        case runNotFound
        case duplicateRun
        case storage
    }

    public var code: Code
    public var message: String
    /// The lease holder when `code == .leaseHeld`.
    public var holder: Lease?

    public init(_ code: Code, _ message: String, holder: Lease? = nil) {
        self.code = code
        self.message = message
        self.holder = holder
    }

    public var description: String { message }
}

extension RunStore {
    public var preferredTaskExecutor: (any TaskExecutor)? { nil }

    public func events(runID: String, kind: EventKind) async throws -> [AuditEvent] {
        try await events(runID: runID).filter { $0.kind == kind.rawValue }
    }

    /// Whether `lease` may be taken over: heartbeat stale, or its process is gone from this host.
    public static func leaseIsAbandoned(_ lease: Lease, staleAfter: Int64, now: Int64, localHost: String) -> Bool {
        if now - lease.heartbeatAt > staleAfter { return true }
        if lease.holder.host == localHost {
            // kill(pid, 0) fails with ESRCH when no such process exists.
            if kill(lease.holder.pid, 0) != 0 && errno == ESRCH { return true }
        }
        return false
    }
}
