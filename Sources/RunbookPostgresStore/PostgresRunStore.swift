import Foundation
import PostgresNIO
import RunbookEngine
import RunbookPostgres

/// The shared `RunStore`: one PostgreSQL database (schema `runbook`) that every operator's `runbook` uses, so
/// a colleague on another machine can resume a run whose driver's machine died.
///
/// Same semantics as `SQLiteRunStore`: every write is one transaction; a checkpoint locks the run's lease row
/// (`SELECT … FOR UPDATE`) and checks the caller's token in that transaction (fencing); events are appended to
/// one hash chain per run, under a lock on the run's row, by the same rule (`AuditChain`).
///
/// When the server goes away, a write is retried on a new connection for `retryWindow`, then reported (exit
/// 5 for a driver's checkpoint, which leaves the run resumable). Each write carries a receipt id recorded in
/// its own transaction, so a retry after a COMMIT whose reply was lost finds it applied and does not apply it
/// twice. Calls run in a task of their own: a driver interrupted by Ctrl-C still records that it stopped.
public final class PostgresRunStore: RunStore, @unchecked Sendable {
    /// Where the store is (no password).
    public let url: PostgresStoreURL
    /// What opening noticed, one sentence each (a password file that was ignored).
    public let notes: [String]
    /// How long a write keeps trying to reach the server again before giving up.
    public let retryWindow: Duration
    let link: StoreLink
    /// When each lease this process holds was last refreshed.
    let heartbeats = HeartbeatClock()
    /// The chain head of each run as this store's last write to it left it.
    let heads = ChainHeads()
    /// The writer name of this process's unleased writes (approvals, cancel requests), for their receipts.
    private let unleasedWriter = "process-\(UUID().uuidString)"

    /// Shorter than the 30 s after which another host may take a silent driver's lease over.
    public static let defaultRetryWindow: Duration = .seconds(20)
    /// The schema version this runbook writes.
    public static let schemaVersion = PostgresSchema.currentVersion

    /// Connect, check the schema and migrate it (in one transaction); a foreign or newer schema, a wrong
    /// password or an unreachable server is refused in one sentence (exit 2).
    /// - Parameter create: when false, a database without the schema is refused instead of given one.
    public init(url: PostgresStoreURL, password: String?, create: Bool, retryWindow: Duration = defaultRetryWindow, notes: [String] = []) throws {
        self.url = url
        self.notes = notes
        self.retryWindow = retryWindow
        let target = url.target(password: password)
        link = StoreLink(target: target, place: url.description)
        do {
            try link.openBlocking { run in
                try PostgresSchema.migrate(place: url.description, create: create, run: run)
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            var sentence = StoreFailure.sentence(error, doing: "opening the run store \(url)", target: target)
            if (password ?? "").isEmpty, Self.isAuthenticationFailure(error) {
                sentence += " (no password was given: set PGPASSWORD or add a line for it to ~/.pgpass)"
            }
            throw PostgresStoreError(sentence, exitCode: ExitCodes.usage, isUnreachable: StoreFailure.isConnectionLoss(error))
        }
    }

    /// Open the store `text` names, with the password from `PGPASSWORD` or the password file.
    public convenience init(_ text: String, environment: [String: String], home: String, create: Bool,
                            retryWindow: Duration = defaultRetryWindow) throws {
        let url = try PostgresStoreURL(text, home: home)
        let (password, warnings) = PasswordLookup.password(for: url, environment: environment, home: home)
        try self.init(url: url, password: password, create: create, retryWindow: retryWindow, notes: warnings)
    }

    private static func isAuthenticationFailure(_ error: any Error) -> Bool {
        if let psql = error as? PSQLError {
            if psql.code == .authMechanismRequiresPassword { return true }
            if let state = psql.serverInfo?[.sqlState] { return state == "28P01" || state == "28000" }
        }
        if let database = error as? DatabaseError, let state = database.sqlState { return state.hasPrefix("28") }
        return false
    }

    // MARK: - Calling the server

    /// How a call behaves when the connection is lost.
    enum Persistence {
        /// Retry on a new connection for the retry window (a write; `driving` when a run's driver made it).
        case write(driving: Bool)
        /// One more try on a new connection (reads, heartbeats, lease release): fail fast.
        case once
    }

    /// Run `body` in a transaction on the server, in a task of its own (a cancelled caller's last checkpoint
    /// still commits), retrying across connection losses as `persistence` says. `body` gets the attempt
    /// number (1 first). `inTransaction` false: `body` makes one statement that is a whole write.
    func call<T: Sendable>(_ what: String, runID: String?, _ persistence: Persistence, inTransaction: Bool = true,
                           _ body: @escaping @Sendable (StoreLink.Session, Int) async throws -> T) async throws -> T {
        let link = self.link
        let window = retryWindow
        let task = Task { () async throws -> T in
            let started = ContinuousClock.now
            var attempt = 0
            while true {
                attempt += 1
                let number = attempt
                do {
                    return try await link.withConnection { session in
                        inTransaction ? try await session.transaction { try await body($0, number) }
                                      : try await session.autocommit { try await body($0, number) }
                    }
                } catch {
                    guard StoreFailure.isConnectionLoss(error) else { throw self.plain(error, what) }
                    let retrying: Bool
                    switch persistence {
                    case .once: retrying = attempt < 2
                    case .write: retrying = ContinuousClock.now - started < window
                    }
                    guard retrying else { throw self.unreachable(error, what, runID: runID, persistence) }
                    if attempt > 1 { try? await Task.sleep(for: .milliseconds(250)) }
                }
            }
        }
        return try await task.value
    }

    /// A refusal by the server (not a lost connection) as the store reports it.
    private func plain(_ error: any Error, _ what: String) -> any Error {
        if error is RunStoreError || error is PostgresStoreError { return error }
        return RunStoreError(.storage, StoreFailure.sentence(error, doing: "\(what) in the run store \(url)", target: link.target))
    }

    private func unreachable(_ error: any Error, _ what: String, runID: String?, _ persistence: Persistence) -> PostgresStoreError {
        let cause = StoreFailure.sentence(error, doing: what, target: link.target)
        switch persistence {
        case .write(driving: true):
            let run = runID ?? "the run"
            return PostgresStoreError(
                "lost the connection to the run store \(url) and could not reach it again within \(Self.seconds(retryWindow)) (\(cause)); "
                    + "run \(run) stopped taking steps and stays as its last checkpoint left it: resume it with `runbook resume \(run)` once the server answers",
                exitCode: ExitCodes.interrupted, isUnreachable: true)
        case .write(driving: false):
            return PostgresStoreError("cannot reach the run store \(url) (tried for \(Self.seconds(retryWindow))): \(cause); nothing was changed",
                                      exitCode: ExitCodes.usage, isUnreachable: true)
        case .once:
            return PostgresStoreError("cannot reach the run store \(url): \(cause)", exitCode: ExitCodes.usage, isUnreachable: true)
        }
    }

    static func seconds(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : String(format: "%.1f s", Double(ms) / 1000)
    }

    // MARK: - RunStore: writes

    public func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) async throws {
        try await call("creating run \(run.id)", runID: run.id, .write(driving: false)) { db, attempt in
            if try await !db.rows("SELECT 1 FROM runbook.runs WHERE id = \(run.id)").isEmpty {
                // A retry whose first COMMIT was applied finds its own lease on the run.
                if attempt > 1, try await Self.lockLease(runID: run.id, db)?.token == lease.token { return }
                throw RunStoreError(.duplicateRun, "run \(run.id) already exists")
            }
            try await Self.storeDefinition(run, db)
            try await db.rows("""
                INSERT INTO runbook.runs (id, runbook, definition_hash, origin, parameters, provided_secrets, options,
                                          status, message, created_at, finished_at, started_by, cancel_requested)
                VALUES (\(run.id), \(run.runbook), \(run.definitionHash), \(run.origin), \(StoreJSON.encode(run.parameters)),
                        \(StoreJSON.encode(run.providedSecrets)), \(StoreJSON.encode(run.options)), \(run.status.rawValue),
                        \(run.message), \(run.createdAt), \(run.finishedAt), \(StoreJSON.encode(run.startedBy)), false)
                """)
            try await Self.upsert(steps, db)
            try await Self.claim(lease, fence: "1", db)
            try await Self.append(runID: run.id, events, db)
        }
        heartbeats.succeeded(lease.token)
        let linked = AuditChain.linking(events, runID: run.id, after: nil)
        heads.remember(run.id, KnownHead(linked.last.map { ChainHead(seq: $0.seq, hash: $0.hash) }))
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges) async throws {
        _ = try await commitLeased(runID: runID, leaseToken: leaseToken, changes, launching: nil)
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool {
        try await commitLeased(runID: runID, leaseToken: leaseToken, changes, launching: launches)
    }

    /// One checkpoint under the lease: in one call when the chain's head is known from this store's last write
    /// to the run, else (or when that call finds the head moved or a cancel requested) by reading first.
    private func commitLeased(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges?) async throws -> Bool {
        let writeID = UUID().uuidString
        if let head = heads.known(runID),
           let cancelRequested = try await commitInOneCall(runID: runID, leaseToken: leaseToken, writeID: writeID,
                                                           changes, launching: launches, after: head) {
            return cancelRequested
        }
        return try await commitReadingFirst(runID: runID, leaseToken: leaseToken, writeID: writeID, changes, launching: launches)
    }

    /// A checkpoint in two round trips: BEGIN with one statement that locks the lease and run rows and reads the
    /// token, this write's receipt (was it applied already?), the cancel flag and the chain's head; then every
    /// write, the receipt and COMMIT back to back.
    private func commitReadingFirst(runID: String, leaseToken: String, writeID: String, _ changes: RunChanges,
                                    launching launches: RunChanges?) async throws -> Bool {
        heads.forget(runID)
        let (cancelRequested, head) = try await call("committing a checkpoint of run \(runID)", runID: runID, .write(driving: true)) { db, _ in
            let state = try await db.rows("""
                SELECT l.token, w.write_id, w.cancel_requested, r.cancel_requested, e.seq, e.hash
                FROM runbook.leases l
                JOIN runbook.runs r ON r.id = l.run_id
                LEFT JOIN runbook.write_receipts w ON w.run_id = l.run_id AND w.writer = \(leaseToken)
                LEFT JOIN LATERAL (SELECT seq, hash FROM runbook.events WHERE run_id = l.run_id ORDER BY seq DESC LIMIT 1) e ON true
                WHERE l.run_id = \(runID) FOR UPDATE OF l, r
                """).first.map { $0.makeRandomAccess() }
            if let state, try state.optionalText(1) == writeID { return (try state.optionalBool(2) ?? false, KnownHead?.none) }
            guard let state, try state.optionalText(0) == leaseToken else {
                throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process; this one stopped writing to it")
            }
            // A cancel request takes the run's row lock, which this transaction holds: the flag read is current.
            let cancelRequested = try launches != nil && state.bool(3)
            let applied = [changes] + (cancelRequested ? [] : launches.map { [$0] } ?? [])
            let head = try state.optionalInt(4).map { ChainHead(seq: $0, hash: try state.optionalText(5) ?? "") }
            let linked = AuditChain.linking(applied.flatMap(\.events), runID: runID, after: head)
            let writes = applied.compactMap { Self.runUpdate(runID: runID, $0) } + Self.upsertQueries(applied.flatMap(\.steps))
                + Self.chainQueries(linked)
                + [Self.receiptQuery(runID: runID, writer: leaseToken, writeID: writeID, cancelRequested: cancelRequested)]
            db.writeAtCommit(writes)
            return (cancelRequested, KnownHead(linked.last.map { ChainHead(seq: $0.seq, hash: $0.hash) } ?? head))
        }
        if let head { heads.remember(runID, head) }
        return cancelRequested
    }

    /// A checkpoint in one round trip (`runbook.checkpoint`), its events linked to `head`: the cancel flag, or
    /// nil when the server found the head moved or a cancel requested and changed nothing.
    private func commitInOneCall(runID: String, leaseToken: String, writeID: String, _ changes: RunChanges,
                                 launching launches: RunChanges?, after head: KnownHead) async throws -> Bool? {
        let applied = [changes] + (launches.map { [$0] } ?? [])
        let linked = AuditChain.linking(applied.flatMap(\.events), runID: runID, after: head.head)
        let query = Self.checkpointCall(runID: runID, leaseToken: leaseToken, writeID: writeID, applied: applied, linked: linked,
                                        after: head.head, launching: launches != nil)
        heads.forget(runID)
        let answer = try await call("committing a checkpoint of run \(runID)", runID: runID, .write(driving: true), inTransaction: false) { db, _ in
            try await db.rows(query).first.map { try $0.makeRandomAccess().text(0) } ?? ""
        }
        switch answer {
        case "done":
            heads.remember(runID, KnownHead(linked.last.map { ChainHead(seq: $0.seq, hash: $0.hash) } ?? head.head))
            return false
        case "applied": return false
        case "applied, cancel requested": return true
        case "lease lost": throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process; this one stopped writing to it")
        default: return nil
        }
    }

    public func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) async throws -> (lease: Lease, replaced: Lease?) {
        let lease = Lease(runID: runID, token: UUID().uuidString, holder: holder, heartbeatAt: now)
        heads.forget(runID)
        let replaced = LockedBox<Lease?>()
        defer { heartbeats.succeeded(lease.token) }
        return try await call("taking the lease of run \(runID)", runID: runID, .write(driving: false)) { db, _ in
            guard try await !db.rows("SELECT 1 FROM runbook.runs WHERE id = \(runID)").isEmpty else {
                throw RunStoreError(.runNotFound, "no run \(runID) in this database")
            }
            let existing = try await Self.lockLease(runID: runID, db)
            // A retry whose first COMMIT was applied finds the lease already its own.
            if existing?.token == lease.token { return (lease, replaced.value ?? nil) }
            if let existing, !Self.leaseIsAbandoned(existing, staleAfter: staleAfter, now: now, localHost: holder.host) {
                throw RunStoreError(.leaseHeld, "run \(runID) is being driven by \(existing.holder) (heartbeat \(max(0, now - existing.heartbeatAt) / 1000)s ago)", holder: existing)
            }
            try await Self.claim(lease, fence: "runbook.leases.fence + 1", db)
            _ = replaced.set(existing)
            return (lease, existing)
        }
    }

    /// Refresh the lease. A driver that cannot reach the server for `selfFenceAfter` is told to stop (exit
    /// 5): from another host its lease may be taken over once its heartbeat is 30 s old, and its steps must
    /// not still be running then.
    public func heartbeat(runID: String, leaseToken: String, now: Int64) async throws -> Bool {
        do {
            let cancelRequested = try await refresh(runID: runID, leaseToken: leaseToken, now: now)
            heartbeats.succeeded(leaseToken)
            return cancelRequested
        } catch let error as PostgresStoreError where error.isUnreachable {
            let silent = heartbeats.silence(leaseToken)
            guard silent >= selfFenceAfter else { throw error }
            throw PostgresStoreError(
                "lost the connection to the run store \(url) for \(Self.seconds(silent)) while driving run \(runID), so its lease could not be kept; "
                    + "its steps were stopped before anyone else may take it over: resume it with `runbook resume \(runID)` once the server answers",
                exitCode: ExitCodes.interrupted, isUnreachable: true)
        }
    }

    /// How long a driver may go without refreshing its lease before it stops: the retry window, at most 20 s
    /// (a lease is taken over from another host once its heartbeat is 30 s old).
    var selfFenceAfter: Duration { min(retryWindow, .seconds(20)) }

    private func refresh(runID: String, leaseToken: String, now: Int64) async throws -> Bool {
        try await call("refreshing the lease of run \(runID)", runID: runID, .once) { db, _ in
            let rows = try await db.rows("""
                UPDATE runbook.leases SET heartbeat_at = \(now) WHERE run_id = \(runID) AND token = \(leaseToken)
                RETURNING (SELECT cancel_requested FROM runbook.runs WHERE id = \(runID))
                """)
            guard let row = rows.first else {
                throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process; this one stopped writing to it")
            }
            return try row.makeRandomAccess().optionalBool(0) ?? false
        }
    }

    public func releaseLease(runID: String, leaseToken: String) async throws {
        heads.forget(runID)
        _ = try await call("releasing the lease of run \(runID)", runID: runID, .once) { db, _ in
            try await db.rows("UPDATE runbook.leases SET token = NULL WHERE run_id = \(runID) AND token = \(leaseToken)")
        }
    }

    public func lease(runID: String) async throws -> Lease? {
        try await call("reading the lease of run \(runID)", runID: runID, .once) { db, _ in try await Self.readLease(runID: runID, db) }
    }

    public func requestCancel(runID: String, event: NewEvent) async throws {
        try await unleased("recording a cancel request for run \(runID)", runID: runID) { db in
            try await db.rows("UPDATE runbook.runs SET cancel_requested = true WHERE id = \(runID)")
            try await Self.append(runID: runID, [event], db)
        }
    }

    public func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) async throws {
        try await unleased("recording events of run \(runID)", runID: runID) { db in
            try await Self.upsert(steps, db)
            try await Self.append(runID: runID, events, db)
        }
    }

    /// A write outside the lease: lock the run's row, skip it when its receipt shows it applied, else apply it.
    private func unleased(_ what: String, runID: String, _ body: @escaping @Sendable (StoreLink.Session) async throws -> Void) async throws {
        heads.forget(runID)
        let writeID = UUID().uuidString
        let writer = unleasedWriter
        try await call(what, runID: runID, .write(driving: false)) { db, _ in
            guard try await !db.rows("SELECT 1 FROM runbook.runs WHERE id = \(runID) FOR UPDATE").isEmpty else {
                throw RunStoreError(.runNotFound, "no run \(runID) in this database")
            }
            let applied = try await db.rows("""
                SELECT 1 FROM runbook.write_receipts WHERE run_id = \(runID) AND writer = \(writer) AND write_id = \(writeID)
                """)
            if !applied.isEmpty { return }
            try await body(db)
            try await Self.receipt(runID: runID, writer: writer, writeID: writeID, cancelRequested: false, db)
        }
    }

    // MARK: - RunStore: reads

    public func run(id: String) async throws -> RunRecord? {
        try await read("reading run \(id)") { db in
            try await db.rows("SELECT \(unescaped: Self.runColumns) FROM \(unescaped: Self.runsWithDefinitions) WHERE runs.id = \(id)")
                .first.map(Self.decodeRun)
        }
    }

    public func resolveRunID(_ prefix: String) async throws -> RunIDMatch {
        try await read("looking up run \(prefix)") { db in
            if try await !db.rows("SELECT 1 FROM runbook.runs WHERE id = \(prefix)").isEmpty { return .unique(prefix) }
            if prefix.isEmpty { return .notFound }
            // Characters of UTF-8 text: a prefix of characters is a prefix of bytes; % and _ are plain here.
            let newest = try await db.rows("""
                SELECT id FROM runbook.runs WHERE left(id, length(\(prefix))) = \(prefix)
                ORDER BY created_at DESC, id DESC LIMIT \(Int64(RunIDMatch.candidateLimit + 1))
                """).map { try $0.makeRandomAccess().text(0) }
            switch newest.count {
            case 0: return .notFound
            case 1: return .unique(newest[0])
            default:
                let total = try await db.rows("SELECT count(*) FROM runbook.runs WHERE left(id, length(\(prefix))) = \(prefix)")
                    .first.map { try $0.makeRandomAccess().int(0) } ?? Int64(newest.count)
                return .ambiguous(candidates: Array(newest.prefix(RunIDMatch.candidateLimit)), total: Int(total))
            }
        }
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await read("listing runs") { db in
            try await db.rows("""
                SELECT \(unescaped: Self.runColumns) FROM \(unescaped: Self.runsWithDefinitions)
                ORDER BY runs.created_at DESC, runs.id DESC LIMIT \(Int64(limit))
                """).map(Self.decodeRun)
        }
    }

    public func steps(runID: String) async throws -> [StepRecord] {
        try await read("reading the steps of run \(runID)") { db in
            try await db.rows("""
                SELECT step_id, status, attempts, polls, compensation_attempts, started_at, finished_at, outputs, error,
                       completion_order, waiter_deadline, approved_by
                FROM runbook.steps WHERE run_id = \(runID) ORDER BY step_id
                """).map { row in try Self.decodeStep(runID: runID, row.makeRandomAccess()) }
        }
    }

    public func events(runID: String) async throws -> [AuditEvent] {
        try await read("reading the history of run \(runID)") { db in
            var decoder = EventDecoder()
            return try await db.rows("SELECT \(unescaped: Self.eventColumns) FROM runbook.events WHERE run_id = \(runID) ORDER BY seq")
                .map { try decoder.decode($0.makeRandomAccess()) }
        }
    }

    public func events(runID: String, kind: EventKind) async throws -> [AuditEvent] {
        try await read("reading the history of run \(runID)") { db in
            try await db.rows("""
                SELECT \(unescaped: Self.eventColumns) FROM runbook.events WHERE run_id = \(runID) AND kind = \(kind.rawValue) ORDER BY seq
                """).map { try EventDecoder.once($0.makeRandomAccess()) }
        }
    }

    public func allRunIDs() async throws -> [String] {
        try await read("listing runs") { db in
            try await db.rows("SELECT id FROM runbook.runs ORDER BY created_at, id").map { try $0.makeRandomAccess().text(0) }
        }
    }

    private func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (StoreLink.Session) async throws -> T) async throws -> T {
        try await call(what, runID: nil, .once) { db, _ in try await body(db) }
    }
}

/// The last successful refresh of each lease this process holds (for self-fencing).
final class HeartbeatClock: @unchecked Sendable {
    private let lock = NSLock()
    private var lastSuccess: [String: ContinuousClock.Instant] = [:]

    func succeeded(_ token: String) { lock.withLock { lastSuccess[token] = .now } }

    /// How long the lease has gone without a refresh (counting from the first failure when none succeeded).
    func silence(_ token: String) -> Duration {
        lock.withLock {
            let since = lastSuccess[token] ?? .now
            lastSuccess[token] = since
            return .now - since
        }
    }
}

/// A run's chain head as known to this process (`head` nil: the run has no events yet).
struct KnownHead: Sendable {
    var head: ChainHead?
    init(_ head: ChainHead?) { self.head = head }
}

/// The chain head of each run this store wrote last, so the next checkpoint can be linked without reading it
/// first. Only a hint: the server checks it, and another writer's event in between only costs the longer path.
final class ChainHeads: @unchecked Sendable {
    private let lock = NSLock()
    private var heads: [String: KnownHead] = [:]

    func known(_ runID: String) -> KnownHead? { lock.withLock { heads[runID] } }
    func remember(_ runID: String, _ head: KnownHead) { lock.withLock { heads[runID] = head } }
    func forget(_ runID: String) { _ = lock.withLock { heads.removeValue(forKey: runID) } }
}
