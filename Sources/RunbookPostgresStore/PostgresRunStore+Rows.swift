import Foundation
import PostgresNIO
import RunbookEngine

/// The statements behind the store's calls, each run inside the caller's transaction.
extension PostgresRunStore {
    /// Store the run's definition once per hash; a different text under the same hash is refused, as it would
    /// make the audit history ambiguous.
    static func storeDefinition(_ run: RunRecord, _ db: StoreLink.Session) async throws {
        let stored = try await db.rows("SELECT source FROM runbook.definitions WHERE hash = \(run.definitionHash)")
            .first.map { try $0.makeRandomAccess().text(0) }
        if let stored {
            guard stored == run.definition else {
                throw RunStoreError(.storage, "the database already holds a different definition under sha256 \(run.definitionHash); run \(run.id) was not created")
            }
            return
        }
        try await db.rows("INSERT INTO runbook.definitions (hash, source) VALUES (\(run.definitionHash), \(run.definition))")
    }

    /// Apply a checkpoint's run fields, step rows and events.
    static func apply(runID: String, _ changes: RunChanges, _ db: StoreLink.Session) async throws {
        try await db.pipeline(runUpdate(runID: runID, changes).map { [$0] } ?? [])
        try await upsert(changes.steps, db)
        try await append(runID: runID, changes.events, db)
    }

    /// The UPDATE of the run's row a checkpoint asks for, if any.
    static func runUpdate(runID: String, _ changes: RunChanges) -> PostgresQuery? {
        guard changes.runStatus != nil || changes.message != nil || changes.finishedAt != nil else { return nil }
        var binds = PostgresBindings()
        var sets: [String] = []
        if let status = changes.runStatus {
            binds.append(status.rawValue)
            sets.append("status = $\(binds.count)")
        }
        if let message = changes.message {
            binds.append(message)
            sets.append("message = $\(binds.count)")
        }
        if let finished = changes.finishedAt {
            binds.append(finished)
            sets.append("finished_at = $\(binds.count)")
        }
        binds.append(runID)
        return PostgresQuery(unsafeSQL: "UPDATE runbook.runs SET \(sets.joined(separator: ", ")) WHERE id = $\(binds.count)", binds: binds)
    }

    /// Write step rows, the last write of each step winning (one statement cannot touch a row twice).
    static func upsert(_ steps: [StepRecord], _ db: StoreLink.Session) async throws {
        try await db.pipeline(upsertQueries(steps))
    }

    /// The last write of each step in `steps`, in the order of those writes.
    static func latestRows(_ steps: [StepRecord]) -> [StepRecord] {
        var latest: [String: Int] = [:]
        for (index, step) in steps.enumerated() { latest[step.runID + "\u{0}" + step.stepID] = index }
        return steps.enumerated().filter { latest[$0.element.runID + "\u{0}" + $0.element.stepID] == $0.offset }.map(\.element)
    }

    static func upsertQueries(_ steps: [StepRecord]) -> [PostgresQuery] {
        latestRows(steps).chunked(400).map { chunk in
            var binds = PostgresBindings()
            var tuples: [String] = []
            for step in chunk {
                let first = binds.count + 1
                binds.append(step.runID)
                binds.append(step.stepID)
                binds.append(step.status.rawValue)
                binds.append(Int64(step.attempts))
                binds.append(Int64(step.polls))
                binds.append(Int64(step.compensationAttempts))
                binds.append(step.startedAt)
                binds.append(step.finishedAt)
                binds.append(StoreJSON.encode(step.outputs))
                binds.append(step.error)
                binds.append(step.completionOrder.map(Int64.init))
                binds.append(step.waiterDeadline)
                binds.append(step.approvedBy)
                tuples.append("(" + (first..<(first + 13)).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            return PostgresQuery(unsafeSQL: """
                INSERT INTO runbook.steps (run_id, step_id, status, attempts, polls, compensation_attempts, started_at, finished_at,
                                           outputs, error, completion_order, waiter_deadline, approved_by)
                VALUES \(tuples.joined(separator: ", "))
                ON CONFLICT (run_id, step_id) DO UPDATE SET
                    status = EXCLUDED.status, attempts = EXCLUDED.attempts, polls = EXCLUDED.polls,
                    compensation_attempts = EXCLUDED.compensation_attempts, started_at = EXCLUDED.started_at,
                    finished_at = EXCLUDED.finished_at, outputs = EXCLUDED.outputs, error = EXCLUDED.error,
                    completion_order = EXCLUDED.completion_order, waiter_deadline = EXCLUDED.waiter_deadline,
                    approved_by = EXCLUDED.approved_by
                """, binds: binds)
        }
    }

    /// The call of `runbook.checkpoint` that applies `applied` (run fields, last write of each step wins) and
    /// the `linked` events, if the server's head is still `head`.
    static func checkpointCall(runID: String, leaseToken: String, writeID: String, applied: [RunChanges], linked: [AuditEvent],
                               after head: ChainHead?, launching: Bool) -> PostgresQuery {
        let status = applied.compactMap(\.runStatus).last?.rawValue
        let message = applied.compactMap(\.message).last
        let finished = applied.compactMap(\.finishedAt).last
        let steps = CheckpointJSON.steps(latestRows(applied.flatMap(\.steps)))
        let events = CheckpointJSON.events(linked)
        return """
            SELECT runbook.checkpoint(\(runID)::text, \(leaseToken)::text, \(writeID)::text, \(head?.seq)::bigint, \(head?.hash)::text,
                                      \(launching)::boolean, \(status)::text, \(message != nil)::boolean, \(message ?? nil)::text,
                                      \(finished)::bigint, \(steps)::jsonb, \(events)::jsonb)
            """
    }

    /// Make `lease` the run's lease; `fence` is the SQL for the new fencing number (1, or one more than before).
    static func claim(_ lease: Lease, fence: String, _ db: StoreLink.Session) async throws {
        try await db.rows("""
            INSERT INTO runbook.leases (run_id, token, fence, holder_user, holder_host, holder_pid, heartbeat_at)
            VALUES (\(lease.runID), \(lease.token), 1, \(lease.holder.user), \(lease.holder.host), \(Int64(lease.holder.pid)), \(lease.heartbeatAt))
            ON CONFLICT (run_id) DO UPDATE SET token = EXCLUDED.token, fence = \(unescaped: fence),
                holder_user = EXCLUDED.holder_user, holder_host = EXCLUDED.holder_host, holder_pid = EXCLUDED.holder_pid,
                heartbeat_at = EXCLUDED.heartbeat_at
            """)
    }

    /// The run's current lease, its row locked until the transaction ends; nil when nobody holds it.
    static func lockLease(runID: String, _ db: StoreLink.Session) async throws -> Lease? {
        try await db.rows("""
            SELECT token, holder_user, holder_host, holder_pid, heartbeat_at FROM runbook.leases WHERE run_id = \(runID) FOR UPDATE
            """).first.flatMap { try decodeLease(runID: runID, $0.makeRandomAccess()) }
    }

    static func readLease(runID: String, _ db: StoreLink.Session) async throws -> Lease? {
        try await db.rows("""
            SELECT token, holder_user, holder_host, holder_pid, heartbeat_at FROM runbook.leases WHERE run_id = \(runID)
            """).first.flatMap { try decodeLease(runID: runID, $0.makeRandomAccess()) }
    }

    private static func decodeLease(runID: String, _ row: PostgresRandomAccessRow) throws -> Lease? {
        guard let token = try row.optionalText(0) else { return nil }
        return Lease(runID: runID, token: token,
                     holder: ActorIdentity(user: try row.text(1), host: try row.text(2), pid: Int32(truncatingIfNeeded: try row.int(3))),
                     heartbeatAt: try row.int(4))
    }

    /// Record that `writeID` (the latest write of `writer` to the run) is applied, with what it answered.
    static func receipt(runID: String, writer: String, writeID: String, cancelRequested: Bool, _ db: StoreLink.Session) async throws {
        try await db.pipeline([receiptQuery(runID: runID, writer: writer, writeID: writeID, cancelRequested: cancelRequested)])
    }

    static func receiptQuery(runID: String, writer: String, writeID: String, cancelRequested: Bool) -> PostgresQuery {
        """
            INSERT INTO runbook.write_receipts (run_id, writer, write_id, cancel_requested)
            VALUES (\(runID), \(writer), \(writeID), \(cancelRequested))
            ON CONFLICT (run_id, writer) DO UPDATE SET write_id = EXCLUDED.write_id, cancel_requested = EXCLUDED.cancel_requested
            """
    }

    /// Append events to the run's hash chain. The run's row is locked first, so writers in other processes
    /// (an approval, a cancel request) keep the chain linear; the head is read from the events themselves.
    static func append(runID: String, _ events: [NewEvent], _ db: StoreLink.Session) async throws {
        guard !events.isEmpty else { return }
        let head = try await db.rows("""
            SELECT e.seq, e.hash FROM runbook.runs r
            LEFT JOIN LATERAL (SELECT seq, hash FROM runbook.events WHERE run_id = r.id ORDER BY seq DESC LIMIT 1) e ON true
            WHERE r.id = \(runID) FOR UPDATE OF r
            """).first.map { $0.makeRandomAccess() }
        guard let head else { throw RunStoreError(.runNotFound, "no run \(runID) in this database") }
        let chainHead = try head.optionalInt(0).map { ChainHead(seq: $0, hash: try head.optionalText(1) ?? "") }
        try await db.pipeline(chainQueries(AuditChain.linking(events, runID: runID, after: chainHead)))
    }

    /// The INSERTs of linked events and the UPDATE of their run's recorded chain head.
    static func chainQueries(_ linked: [AuditEvent]) -> [PostgresQuery] {
        guard let last = linked.last else { return [] }
        return insertQueries(linked) + ["UPDATE runbook.runs SET head_seq = \(last.seq), head_hash = \(last.hash) WHERE id = \(last.runID)"]
    }

    /// Insert stored events as they are (hashes included).
    static func insert(_ events: [AuditEvent], _ db: StoreLink.Session) async throws {
        try await db.pipeline(insertQueries(events))
    }

    static func insertQueries(_ events: [AuditEvent]) -> [PostgresQuery] {
        var actors = StoreJSON.ActorEncoder()
        return events.chunked(500).map { chunk in
            var binds = PostgresBindings()
            var tuples: [String] = []
            for event in chunk {
                let actor = actors.encode(event.actor)
                let first = binds.count + 1
                binds.append(event.runID)
                binds.append(event.seq)
                binds.append(event.stepID)
                binds.append(event.attempt.map(Int64.init))
                binds.append(event.kind)
                binds.append(StoreJSON.encode(event.detail))
                binds.append(event.at)
                binds.append(actor)
                binds.append(event.previousHash)
                binds.append(event.hash)
                binds.append(event.state)
                tuples.append("(" + (first..<(first + 11)).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            return PostgresQuery(unsafeSQL: """
                INSERT INTO runbook.events (run_id, seq, step_id, attempt, kind, detail, at, actor, prev_hash, hash, state)
                VALUES \(tuples.joined(separator: ", "))
                """, binds: binds)
        }
    }

    // MARK: - Decoding rows

    static let runColumns = """
        runs.id, runs.runbook, definitions.source, runs.definition_hash, runs.origin, runs.parameters,
        runs.provided_secrets, runs.options, runs.status, runs.message, runs.created_at, runs.finished_at,
        runs.started_by, runs.cancel_requested, runs.head_seq, runs.head_hash
        """

    /// A run with its definition text. A left join: a run whose definition row is missing (edited behind the
    /// triggers' back) still lists, with an empty text that `audit verify` reports.
    static let runsWithDefinitions = "runbook.runs LEFT JOIN runbook.definitions ON definitions.hash = runs.definition_hash"

    static let eventColumns = "seq, run_id, step_id, attempt, kind, detail, at, actor, prev_hash, hash, state"

    static func decodeRun(_ result: PostgresRow) throws -> RunRecord {
        let row = result.makeRandomAccess()
        let headSeq = try row.int(14)
        return RunRecord(
            id: try row.text(0), runbook: try row.text(1), definition: try row.optionalText(2) ?? "", definitionHash: try row.text(3),
            origin: try row.text(4),
            parameters: StoreJSON.decode([String: String].self, try row.text(5)) ?? [:],
            providedSecrets: StoreJSON.decode([String].self, try row.text(6)) ?? [],
            options: StoreJSON.decode(RunOptions.self, try row.text(7)) ?? RunOptions(workingDirectory: "."),
            status: RunStatus(rawValue: try row.text(8)) ?? .interrupted, message: try row.optionalText(9),
            createdAt: try row.int(10), finishedAt: try row.optionalInt(11),
            startedBy: StoreJSON.decode(ActorIdentity.self, try row.text(12)) ?? ActorIdentity(user: "?", host: "?", pid: 0),
            cancelRequested: try row.bool(13),
            chainHead: headSeq > 0 ? ChainHead(seq: headSeq, hash: try row.text(15)) : nil)
    }

    static func decodeStep(runID: String, _ row: PostgresRandomAccessRow) throws -> StepRecord {
        StepRecord(
            runID: runID, stepID: try row.text(0), status: StepStatus(rawValue: try row.text(1)) ?? .pending,
            attempts: Int(try row.int(2)), polls: Int(try row.int(3)), compensationAttempts: Int(try row.int(4)),
            startedAt: try row.optionalInt(5), finishedAt: try row.optionalInt(6),
            outputs: StoreJSON.decodeMap(try row.text(7)), error: try row.optionalText(8),
            completionOrder: try row.optionalInt(9).map(Int.init), waiterDeadline: try row.optionalInt(10),
            approvedBy: try row.optionalText(11))
    }
}

/// Decodes event rows, each distinct actor once: a run's thousands of events share a handful of actors, and
/// JSONDecoder costs more per row than everything else a resume reads.
struct EventDecoder {
    private var actors: [String: ActorIdentity] = [:]

    static func once(_ row: PostgresRandomAccessRow) throws -> AuditEvent {
        var decoder = EventDecoder()
        return try decoder.decode(row)
    }

    mutating func decode(_ row: PostgresRandomAccessRow) throws -> AuditEvent {
        let actorText = try row.text(7)
        let actor = actors[actorText] ?? StoreJSON.decode(ActorIdentity.self, actorText) ?? ActorIdentity(user: "?", host: "?", pid: 0)
        actors[actorText] = actor
        return AuditEvent(
            seq: try row.int(0), runID: try row.text(1), stepID: try row.optionalText(2), attempt: try row.optionalInt(3).map(Int.init),
            kind: try row.text(4), detail: StoreJSON.decodeMap(try row.text(5)), at: try row.int(6), actor: actor,
            state: try row.optionalText(10), previousHash: try row.text(8), hash: try row.text(9))
    }
}

extension PostgresRandomAccessRow {
    func text(_ index: Int) throws -> String { try self[index].decode(String.self) }
    func optionalText(_ index: Int) throws -> String? { try self[index].decode(String?.self) }
    func int(_ index: Int) throws -> Int64 { try self[index].decode(Int64.self) }
    func optionalInt(_ index: Int) throws -> Int64? { try self[index].decode(Int64?.self) }
    func bool(_ index: Int) throws -> Bool { try self[index].decode(Bool.self) }
    func optionalBool(_ index: Int) throws -> Bool? { try self[index].decode(Bool?.self) }
}

extension Array {
    /// The array in consecutive pieces of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}

/// Step rows and events as JSON arrays for `jsonb_populate_recordset`, written by hand like `StoreJSON` (a
/// checkpoint's hot path); keys are the tables' column names.
enum CheckpointJSON {
    static func steps(_ steps: [StepRecord]) -> String {
        array(steps) { step in
            [("step_id", string(step.stepID)), ("status", string(step.status.rawValue)), ("attempts", String(step.attempts)),
             ("polls", String(step.polls)), ("compensation_attempts", String(step.compensationAttempts)),
             ("started_at", number(step.startedAt)), ("finished_at", number(step.finishedAt)),
             ("outputs", string(StoreJSON.encode(step.outputs))), ("error", string(step.error)),
             ("completion_order", number(step.completionOrder.map(Int64.init))), ("waiter_deadline", number(step.waiterDeadline)),
             ("approved_by", string(step.approvedBy))]
        }
    }

    static func events(_ events: [AuditEvent]) -> String {
        var actors = StoreJSON.ActorEncoder()
        return array(events) { event in
            [("seq", String(event.seq)), ("step_id", string(event.stepID)), ("attempt", number(event.attempt.map(Int64.init))),
             ("kind", string(event.kind)), ("detail", string(StoreJSON.encode(event.detail))), ("at", String(event.at)),
             ("actor", string(actors.encode(event.actor))), ("prev_hash", string(event.previousHash)), ("hash", string(event.hash)),
             ("state", string(event.state))]
        }
    }

    /// A JSON array of one object per element; `fields` gives each object's keys and already-encoded values.
    private static func array<T>(_ elements: [T], _ fields: (T) -> [(String, String)]) -> String {
        var out = "["
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
            out += "{" + fields(element).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        return out + "]"
    }

    private static func number(_ value: Int64?) -> String { value.map { String($0) } ?? "null" }
    private static func string(_ value: String?) -> String { value.map(AuditChain.jsonString) ?? "null" }
}
