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
    /// What `prefix` names: the run with exactly that id, else the runs whose id starts with it (compared
    /// byte for byte, so case matters), newest first.
    func resolveRunID(_ prefix: String) async throws -> RunIDMatch
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

/// What a run id, or the start of one, names in a store.
public enum RunIDMatch: Sendable, Equatable {
    /// One run: the id itself, or the only id that starts with it.
    case unique(String)
    /// No run id is or starts with it.
    case notFound
    /// Several run ids start with it: the newest `candidateLimit` of them, newest first, and how many there are.
    case ambiguous(candidates: [String], total: Int)

    /// How many candidates an ambiguous prefix lists.
    public static let candidateLimit = 10

    /// The match among `ids` (newest first) for `prefix`, by the rule every store follows.
    public static func among(_ ids: [String], prefix: String) -> RunIDMatch {
        if ids.contains(prefix) { return .unique(prefix) }
        if prefix.isEmpty { return .notFound }
        let matches = ids.filter { $0.utf8.starts(with: prefix.utf8) }
        switch matches.count {
        case 0: return .notFound
        case 1: return .unique(matches[0])
        default: return .ambiguous(candidates: Array(matches.prefix(candidateLimit)), total: matches.count)
        }
    }

    /// Why `prefix` names no single run of `place` (a database path), in a sentence; nil when it does.
    public func problem(_ prefix: String, in place: String) -> String? {
        switch self {
        case .unique:
            return nil
        case .notFound:
            return "no run '\(prefix)' in \(place) (see `runbook runs`)"
        case .ambiguous(let candidates, let total):
            let more = total > candidates.count ? " and \(total - candidates.count) older" : ""
            return "'\(prefix)' is the start of \(total) runs in \(place): \(candidates.joined(separator: ", "))\(more) (newest first); give more of the id"
        }
    }
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

    /// The run `idOrPrefix` names, or `RunStoreError(.runNotFound)` saying why not (listing the candidates
    /// when several runs start with it); `place` names the database in that sentence.
    public func run(named idOrPrefix: String, in place: String) async throws -> RunRecord {
        let match = try await resolveRunID(idOrPrefix)
        if case .unique(let id) = match, let run = try await run(id: id) { return run }
        throw RunStoreError(.runNotFound, match.problem(idOrPrefix, in: place) ?? "no run '\(idOrPrefix)' in \(place)")
    }

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
