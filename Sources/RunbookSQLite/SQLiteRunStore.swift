import CSQLite
import Foundation
import RunbookEngine

/// The durable `RunStore`: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// The connection is confined to the store's own thread, so blocking `sqlite3_step` calls never run on Swift's
/// cooperative pool. That thread is also the store's `preferredTaskExecutor`: the engine drives a run on it, so
/// its checkpoints are committed in place, without a thread hand-off. Writes from other threads are
/// **group-committed**: writes that arrive while a commit is being made to disk are gathered into the next
/// transaction (each in its own savepoint, so one refused write does not undo the others), and every caller
/// resumes only after the transaction holding its write is durable.
public final class SQLiteRunStore: RunStore, @unchecked Sendable {
    private let thread: StoreThread
    private let connection: SQLiteConnection
    /// The database file path.
    public let path: String

    private let lock = NSLock()
    private var pending: [PendingWrite] = []
    private var draining = false

    private struct PendingWrite {
        let body: (SQLiteConnection) throws -> Void
        let done: (Result<Void, any Error>) -> Void
    }

    /// What opening the database noticed and fixed, one sentence each (a file that was readable by others).
    public let notes: [String]

    /// Open (or create, with mode 0600) the database at `path`, check that it is whole, and migrate it to the
    /// current schema. A damaged, foreign or newer file is refused and left as it was (its -wal and -shm too).
    /// - Parameters:
    ///   - create: when false, a missing file is an error instead of being created.
    ///   - checkIntegrity: read every page first (`PRAGMA quick_check`, about 1 ms per MB): for anything that
    ///     writes. A reader may skip it; its size is still checked, and damage it meets is reported as such.
    public init(path: String, create: Bool = true, checkIntegrity: Bool = true) throws {
        self.path = path
        notes = try DatabaseFile.prepare(path, create: create)
        let sideFiles = DatabaseFile.existingSideFiles(path)
        try DatabaseFile.checkShape(path, hasWAL: sideFiles.contains("-wal"))
        connection = try Self.openChecked(path, hadWAL: sideFiles.contains("-wal"), checkIntegrity: checkIntegrity)
        thread = StoreThread(name: "runbook.sqlite")
    }

    /// Open the file, check its integrity and migrate it. A refused file is closed without copying a WAL that
    /// was already there into it; a WAL this opening created (empty) is removed by SQLite's close. A file in a
    /// directory nobody can write (a read-only backup) is opened unchangeable, so it can still be read.
    private static func openChecked(_ path: String, hadWAL: Bool, checkIntegrity: Bool, unchangeable: Bool = false) throws -> SQLiteConnection {
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: path, unchangeable: unchangeable)
        } catch let error as SQLiteError {
            throw DatabaseOpenError(StoreFailure.unopenable(path, error.message))
        }
        do {
            if checkIntegrity { try DatabaseFile.checkIntegrity(connection) }
            try Schema.migrate(connection)
            return connection
        } catch let error as SQLiteError where error.code == SQLITE_CANTOPEN && !hadWAL && !unchangeable
                    && !DatabaseFile.directoryIsWritable(path) {
            connection.close(.plain)
            return try openChecked(path, hadWAL: false, checkIntegrity: checkIntegrity, unchangeable: true)
        } catch {
            connection.close(hadWAL ? .leaveWAL : .plain)
            if let refused = error as? DatabaseOpenError { throw refused }
            let described = StoreFailure.describe(error, path: path, afterwards: .nothing)
            if let storeError = described as? RunStoreError { throw DatabaseOpenError(storeError.message) }
            throw DatabaseOpenError("cannot open the runbook database \(path): \(error)")
        }
    }

    deinit {
        thread.stop()
    }

    /// Copy the WAL into the main file and close the database, so the main file alone holds everything;
    /// later calls fail. A process must call it before `exit`, which runs no deinit.
    public func close() {
        try? thread.sync { self.connection.close(.checkpoint) }
        thread.stop()
    }

    /// The store's thread: tasks preferring it commit their checkpoints without a thread hand-off.
    public var preferredTaskExecutor: (any TaskExecutor)? { thread }

    // MARK: - Thread plumbing

    /// Run a read on the store's thread (in place when already on it); a damaged, unreadable file is
    /// reported in a sentence.
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        do {
            return try await readRaw(body)
        } catch {
            throw StoreFailure.describe(error, path: path, afterwards: .nothing)
        }
    }

    private func readRaw<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        if thread.isCurrent { return try body(connection) }
        return try await withCheckedThrowingContinuation { continuation in
            thread.submit {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }

    /// Commit a write durably (possibly together with other writes) before returning. On the store's thread
    /// it is committed in place, together with any writes other threads have queued meanwhile. A database
    /// that cannot take it (read-only, full, damaged) is reported in a sentence saying what to do after.
    func write(_ afterwards: StoreFailure.Afterwards, _ body: @escaping (SQLiteConnection) throws -> Void) async throws {
        do {
            try await writeRaw(body)
        } catch {
            throw StoreFailure.describe(error, path: path, afterwards: afterwards)
        }
    }

    private func writeRaw(_ body: @escaping (SQLiteConnection) throws -> Void) async throws {
        if thread.isCurrent {
            var outcome: Result<Void, any Error> = .success(())
            let mine = PendingWrite(body: body) { outcome = $0 }
            let queued = lock.withLock {
                let queued = pending
                pending.removeAll()
                return queued
            }
            commitGroup(queued + [mine])
            return try outcome.get()
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            lock.lock()
            pending.append(PendingWrite(body: body) { continuation.resume(with: $0) })
            let start = !draining
            draining = true
            lock.unlock()
            if start { thread.submit { self.drain() } }
        }
    }

    private func drain() {
        while true {
            lock.lock()
            let batch = pending
            pending.removeAll()
            if batch.isEmpty {
                draining = false
                lock.unlock()
                return
            }
            lock.unlock()
            commitGroup(batch)
        }
    }

    private func commitGroup(_ batch: [PendingWrite]) {
        if batch.count == 1 {
            let write = batch[0]
            write.done(Result { try connection.transaction { try write.body(connection) } })
            return
        }
        var outcomes: [Result<Void, any Error>] = []
        do {
            try connection.run("BEGIN IMMEDIATE")
        } catch {
            for write in batch { write.done(.failure(error)) }
            return
        }
        for write in batch {
            do {
                try connection.run("SAVEPOINT w")
                do {
                    try write.body(connection)
                    try connection.run("RELEASE w")
                    outcomes.append(.success(()))
                } catch {
                    try? connection.execute("ROLLBACK TO w")
                    try? connection.execute("RELEASE w")
                    outcomes.append(.failure(error))
                }
            } catch {
                outcomes.append(.failure(error))
            }
        }
        do {
            try connection.run("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            for write in batch { write.done(.failure(error)) }
            return
        }
        for (write, outcome) in zip(batch, outcomes) { write.done(outcome) }
    }

    // MARK: - RunStore

    public func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) async throws {
        try await write(.again(what: "start it again (run \(run.id) was not created)")) { db in
            if try db.scalarInt("SELECT count(*) FROM runs WHERE id = ?", [.text(run.id)]) ?? 0 > 0 {
                throw RunStoreError(.duplicateRun, "run \(run.id) already exists")
            }
            // Definitions are stored once per hash; a stored text that differs from this one under the same
            // hash would make the audit history ambiguous, so it is refused.
            let stored = try db.query("SELECT source FROM definitions WHERE hash = ?", [.text(run.definitionHash)]) { $0.text(0) }.first
            if let stored {
                guard stored == run.definition else {
                    throw RunStoreError(.storage, "the database already holds a different definition under sha256 \(run.definitionHash); run \(run.id) was not created")
                }
            } else {
                try db.run("INSERT INTO definitions (hash, source) VALUES (?, ?)", [.text(run.definitionHash), .text(run.definition)])
            }
            try db.run("""
                INSERT INTO runs (id, runbook, definition_hash, origin, parameters, provided_secrets, options,
                                  status, message, created_at, finished_at, started_by, cancel_requested)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
                """, [
                    .text(run.id), .text(run.runbook), .text(run.definitionHash), .text(run.origin),
                    .text(JSONText.encode(run.parameters)), .text(JSONText.encode(run.providedSecrets)),
                    .text(JSONText.encode(run.options)), .text(run.status.rawValue), run.message.map { .text($0) } ?? .null,
                    .integer(run.createdAt), run.finishedAt.map { .integer($0) } ?? .null, .text(JSONText.encode(run.startedBy)),
                ])
            for step in steps { try Self.upsert(step, db) }
            try Self.insertLease(lease, db)
            try Self.append(runID: run.id, events, db)
        }
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges) async throws {
        try await write(.resume(runID: runID)) { db in
            try Self.checkLease(runID: runID, token: leaseToken, db)
            try Self.apply(runID: runID, changes, db)
        }
    }

    public func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool {
        let box = ResultBox<Bool>()
        try await write(.resume(runID: runID)) { db in
            try Self.checkLease(runID: runID, token: leaseToken, db)
            try Self.apply(runID: runID, changes, db)
            let cancelRequested = (try db.scalarInt("SELECT cancel_requested FROM runs WHERE id = ?", [.text(runID)]) ?? 0) != 0
            if !cancelRequested { try Self.apply(runID: runID, launches, db) }
            box.value = cancelRequested
        }
        return box.value ?? false
    }

    private static func apply(runID: String, _ changes: RunChanges, _ db: SQLiteConnection) throws {
        if changes.runStatus != nil || changes.message != nil || changes.finishedAt != nil {
            var sets: [String] = []
            var values: [SQLiteValue] = []
            if let status = changes.runStatus { sets.append("status = ?"); values.append(.text(status.rawValue)) }
            if let message = changes.message { sets.append("message = ?"); values.append(message.map { .text($0) } ?? .null) }
            if let finished = changes.finishedAt { sets.append("finished_at = ?"); values.append(.integer(finished)) }
            values.append(.text(runID))
            try db.run("UPDATE runs SET \(sets.joined(separator: ", ")) WHERE id = ?", values)
        }
        for step in changes.steps { try upsert(step, db) }
        try append(runID: runID, changes.events, db)
    }

    public func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) async throws -> (lease: Lease, replaced: Lease?) {
        let box = ResultBox<(Lease, Lease?)>()
        try await write(.resume(runID: runID)) { db in
            guard try db.scalarInt("SELECT count(*) FROM runs WHERE id = ?", [.text(runID)]) ?? 0 > 0 else {
                throw RunStoreError(.runNotFound, "no run \(runID) in this database")
            }
            let existing = try Self.readLease(runID: runID, db)
            if let existing, !Self.leaseIsAbandoned(existing, staleAfter: staleAfter, now: now, localHost: holder.host) {
                throw RunStoreError(.leaseHeld, "run \(runID) is being driven by \(existing.holder) (heartbeat \(max(0, now - existing.heartbeatAt) / 1000)s ago)", holder: existing)
            }
            let lease = Lease(runID: runID, token: UUID().uuidString, holder: holder, heartbeatAt: now)
            try db.run("DELETE FROM leases WHERE run_id = ?", [.text(runID)])
            try Self.insertLease(lease, db)
            box.value = (lease, existing)
        }
        guard let value = box.value else { throw RunStoreError(.storage, "lease acquisition did not complete") }
        return (value.0, value.1)
    }

    public func heartbeat(runID: String, leaseToken: String, now: Int64) async throws -> Bool {
        let box = ResultBox<Bool>()
        try await write(.resume(runID: runID)) { db in
            try Self.checkLease(runID: runID, token: leaseToken, db)
            try db.run("UPDATE leases SET heartbeat_at = ? WHERE run_id = ?", [.integer(now), .text(runID)])
            box.value = (try db.scalarInt("SELECT cancel_requested FROM runs WHERE id = ?", [.text(runID)]) ?? 0) != 0
        }
        return box.value ?? false
    }

    public func releaseLease(runID: String, leaseToken: String) async throws {
        try await write(.resume(runID: runID)) { db in
            try db.run("DELETE FROM leases WHERE run_id = ? AND token = ?", [.text(runID), .text(leaseToken)])
        }
    }

    public func lease(runID: String) async throws -> Lease? {
        try await read { db in try Self.readLease(runID: runID, db) }
    }

    public func requestCancel(runID: String, event: NewEvent) async throws {
        try await write(.resume(runID: runID)) { db in
            try db.run("UPDATE runs SET cancel_requested = 1 WHERE id = ?", [.text(runID)])
            guard db.changes == 1 else { throw RunStoreError(.runNotFound, "no run \(runID) in this database") }
            try Self.append(runID: runID, [event], db)
        }
    }

    public func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) async throws {
        try await write(.resume(runID: runID)) { db in
            guard try db.scalarInt("SELECT count(*) FROM runs WHERE id = ?", [.text(runID)]) ?? 0 > 0 else {
                throw RunStoreError(.runNotFound, "no run \(runID) in this database")
            }
            for step in steps { try Self.upsert(step, db) }
            try Self.append(runID: runID, events, db)
        }
    }

    public func run(id: String) async throws -> RunRecord? {
        try await read { db in try db.query("SELECT \(Self.runColumns) FROM \(Self.runsWithDefinitions) WHERE runs.id = ?", [.text(id)], Self.decodeRun).first }
    }

    public func resolveRunID(_ prefix: String) async throws -> RunIDMatch {
        try await read { db in
            if try db.scalarInt("SELECT count(*) FROM runs WHERE id = ?", [.text(prefix)]) ?? 0 > 0 { return .unique(prefix) }
            if prefix.isEmpty { return .notFound }
            // Byte-wise, like `InMemoryRunStore` (LIKE would ignore case and treat % and _ as wildcards).
            let matching = "FROM runs WHERE substr(CAST(id AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB)"
            let newest = try db.query("SELECT id \(matching) ORDER BY created_at DESC, id DESC LIMIT ?2",
                                      [.text(prefix), .integer(Int64(RunIDMatch.candidateLimit + 1))]) { $0.text(0) }
            switch newest.count {
            case 0: return .notFound
            case 1: return .unique(newest[0])
            default:
                let total = try db.scalarInt("SELECT count(*) \(matching)", [.text(prefix)]) ?? Int64(newest.count)
                return .ambiguous(candidates: Array(newest.prefix(RunIDMatch.candidateLimit)), total: Int(total))
            }
        }
    }

    public func runs(limit: Int) async throws -> [RunRecord] {
        try await read { db in
            try db.query("SELECT \(Self.runColumns) FROM \(Self.runsWithDefinitions) ORDER BY runs.created_at DESC, runs.id DESC LIMIT ?", [.integer(Int64(limit))], Self.decodeRun)
        }
    }

    public func steps(runID: String) async throws -> [StepRecord] {
        try await read { db in
            try db.query("""
                SELECT step_id, status, attempts, polls, compensation_attempts, started_at, finished_at, outputs, error,
                       completion_order, waiter_deadline, approved_by
                FROM steps WHERE run_id = ? ORDER BY step_id
                """, [.text(runID)]) { row in
                StepRecord(
                    runID: runID, stepID: row.text(0), status: StepStatus(rawValue: row.text(1)) ?? .pending,
                    attempts: Int(row.int(2)), polls: Int(row.int(3)), compensationAttempts: Int(row.int(4)),
                    startedAt: row.optionalInt(5), finishedAt: row.optionalInt(6),
                    outputs: JSONText.decodeMap(row.text(7)), error: row.optionalText(8),
                    completionOrder: row.optionalInt(9).map(Int.init), waiterDeadline: row.optionalInt(10),
                    approvedBy: row.optionalText(11))
            }
        }
    }

    public func events(runID: String) async throws -> [AuditEvent] {
        try await read { db in
            try db.query("""
                SELECT seq, run_id, step_id, attempt, kind, detail, at, actor, prev_hash, hash, state
                FROM events WHERE run_id = ? ORDER BY seq
                """, [.text(runID)], Self.eventDecoder())
        }
    }

    public func events(runID: String, kind: EventKind) async throws -> [AuditEvent] {
        try await read { db in
            try db.query("""
                SELECT seq, run_id, step_id, attempt, kind, detail, at, actor, prev_hash, hash
                FROM events WHERE run_id = ? AND kind = ? ORDER BY seq
                """, [.text(runID), .text(kind.rawValue)], Self.decodeEvent)
        }
    }

    public func allRunIDs() async throws -> [String] {
        try await read { db in try db.query("SELECT id FROM runs ORDER BY created_at, id") { $0.text(0) } }
    }

    // MARK: - Rows

    private static let runColumns = """
        runs.id, runs.runbook, definitions.source, runs.definition_hash, runs.origin, runs.parameters,
        runs.provided_secrets, runs.options, runs.status, runs.message, runs.created_at, runs.finished_at,
        runs.started_by, runs.cancel_requested, runs.head_seq, runs.head_hash
        """

    /// A run with its definition text. A left join: a run whose definition row is missing (edited behind
    /// the triggers' back) still lists, with an empty text that `audit verify` reports.
    private static let runsWithDefinitions = "runs LEFT JOIN definitions ON definitions.hash = runs.definition_hash"

    private static func decodeRun(_ row: SQLiteStatement) -> RunRecord {
        RunRecord(
            id: row.text(0), runbook: row.text(1), definition: row.text(2), definitionHash: row.text(3), origin: row.text(4),
            parameters: JSONText.decode([String: String].self, row.text(5)) ?? [:],
            providedSecrets: JSONText.decode([String].self, row.text(6)) ?? [],
            options: JSONText.decode(RunOptions.self, row.text(7)) ?? RunOptions(workingDirectory: "."),
            status: RunStatus(rawValue: row.text(8)) ?? .interrupted, message: row.optionalText(9),
            createdAt: row.int(10), finishedAt: row.optionalInt(11),
            startedBy: JSONText.decode(ActorIdentity.self, row.text(12)) ?? ActorIdentity(user: "?", host: "?", pid: 0),
            cancelRequested: row.int(13) != 0,
            chainHead: row.int(14) > 0 ? ChainHead(seq: row.int(14), hash: row.text(15)) : nil)
    }

    private static func decodeEvent(_ row: SQLiteStatement) -> AuditEvent {
        eventDecoder()(row)
    }

    /// Decodes event rows, each distinct actor once: a run's thousands of events share a handful of actors,
    /// and JSONDecoder costs more per row than everything else a resume reads.
    private static func eventDecoder() -> (SQLiteStatement) -> AuditEvent {
        var actors: [String: ActorIdentity] = [:]
        return { row in
            let actorText = row.text(7)
            let actor = actors[actorText] ?? JSONText.decode(ActorIdentity.self, actorText) ?? ActorIdentity(user: "?", host: "?", pid: 0)
            actors[actorText] = actor
            return AuditEvent(
                seq: row.int(0), runID: row.text(1), stepID: row.optionalText(2), attempt: row.optionalInt(3).map(Int.init),
                kind: row.text(4), detail: JSONText.decodeMap(row.text(5)), at: row.int(6), actor: actor,
                state: row.optionalText(10), previousHash: row.text(8), hash: row.text(9))
        }
    }

    /// Write a step's row: an update of the row the run was created with (one lookup), else an insert.
    private static func upsert(_ step: StepRecord, _ db: SQLiteConnection) throws {
        try db.run("""
            UPDATE steps SET status = ?, attempts = ?, polls = ?, compensation_attempts = ?, started_at = ?,
                             finished_at = ?, outputs = ?, error = ?, completion_order = ?, waiter_deadline = ?,
                             approved_by = ?
            WHERE run_id = ? AND step_id = ?
            """, [
                .text(step.status.rawValue), .integer(Int64(step.attempts)), .integer(Int64(step.polls)),
                .integer(Int64(step.compensationAttempts)),
                step.startedAt.map { .integer($0) } ?? .null, step.finishedAt.map { .integer($0) } ?? .null,
                .text(JSONText.encode(step.outputs)), step.error.map { .text($0) } ?? .null,
                step.completionOrder.map { .integer(Int64($0)) } ?? .null, step.waiterDeadline.map { .integer($0) } ?? .null,
                step.approvedBy.map { .text($0) } ?? .null, .text(step.runID), .text(step.stepID),
            ])
        if db.changes > 0 { return }
        try db.run("""
            INSERT INTO steps (run_id, step_id, status, attempts, polls, compensation_attempts, started_at, finished_at,
                               outputs, error, completion_order, waiter_deadline, approved_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [
                .text(step.runID), .text(step.stepID), .text(step.status.rawValue), .integer(Int64(step.attempts)),
                .integer(Int64(step.polls)), .integer(Int64(step.compensationAttempts)),
                step.startedAt.map { .integer($0) } ?? .null, step.finishedAt.map { .integer($0) } ?? .null,
                .text(JSONText.encode(step.outputs)), step.error.map { .text($0) } ?? .null,
                step.completionOrder.map { .integer(Int64($0)) } ?? .null, step.waiterDeadline.map { .integer($0) } ?? .null,
                step.approvedBy.map { .text($0) } ?? .null,
            ])
    }

    private static func insertLease(_ lease: Lease, _ db: SQLiteConnection) throws {
        try db.run("""
            INSERT INTO leases (run_id, token, holder_user, holder_host, holder_pid, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(lease.runID), .text(lease.token), .text(lease.holder.user), .text(lease.holder.host),
                  .integer(Int64(lease.holder.pid)), .integer(lease.heartbeatAt)])
    }

    private static func readLease(runID: String, _ db: SQLiteConnection) throws -> Lease? {
        try db.query("SELECT token, holder_user, holder_host, holder_pid, heartbeat_at FROM leases WHERE run_id = ?", [.text(runID)]) { row in
            Lease(runID: runID, token: row.text(0),
                  holder: ActorIdentity(user: row.text(1), host: row.text(2), pid: Int32(truncatingIfNeeded: row.int(3))),
                  heartbeatAt: row.int(4))
        }.first
    }

    private static func checkLease(runID: String, token: String, _ db: SQLiteConnection) throws {
        let held = try db.query("SELECT token FROM leases WHERE run_id = ?", [.text(runID)]) { $0.text(0) }.first
        guard held == token else {
            throw RunStoreError(.leaseLost, "run \(runID) is now driven by another process; this one stopped writing to it")
        }
    }

    /// Append events to the run's hash chain, reading the chain's head inside the transaction so writers
    /// in other processes (an approval, a cancel request) keep it linear.
    private static func append(runID: String, _ events: [NewEvent], _ db: SQLiteConnection) throws {
        guard !events.isEmpty else { return }
        let head = try db.query("SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", [.text(runID)]) {
            ChainHead(seq: $0.int(0), hash: $0.text(1))
        }.first
        let linked = AuditChain.linking(events, runID: runID, after: head)
        var actors = JSONText.ActorEncoder()
        for event in linked {
            let actor = actors.encode(event.actor)
            try db.run("""
                INSERT INTO events (run_id, seq, step_id, attempt, kind, detail, at, actor, prev_hash, hash, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [
                    .text(runID), .integer(event.seq), event.stepID.map { .text($0) } ?? .null,
                    event.attempt.map { .integer(Int64($0)) } ?? .null, .text(event.kind),
                    .text(JSONText.encode(event.detail)), .integer(event.at), .text(actor),
                    .text(event.previousHash), .text(event.hash), event.state.map { .text($0) } ?? .null,
                ])
        }
        guard let last = linked.last else { return }
        try db.run("UPDATE runs SET head_seq = ?, head_hash = ? WHERE id = ?", [.integer(last.seq), .text(last.hash), .text(runID)])
    }
}

/// Carries a value out of a closure run on the store's thread.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// Compact JSON with sorted keys for stored columns, as every store writes it.
typealias JSONText = StoreJSON

extension SQLiteRunStore {
    /// Run `body` on the store's connection (tests and diagnostics only).
    func connectionForTests<T>(_ body: @escaping (SQLiteConnection) throws -> T) throws -> T {
        try thread.sync { try body(self.connection) }
    }
}
