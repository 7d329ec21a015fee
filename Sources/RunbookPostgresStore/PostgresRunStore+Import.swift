import Foundation
import RunbookEngine

extension PostgresRunStore {
    /// Store a run read from another store exactly as it is there: its record, step rows and events with
    /// their hashes (so `audit verify` answers the same), and no lease (whoever resumes it here takes one).
    /// A run this store already has is refused (`duplicateRun`), never overwritten.
    public func importRun(_ run: RunRecord, steps: [StepRecord], events: [AuditEvent]) async throws {
        let writeID = UUID().uuidString
        let head = run.chainHead ?? events.last.map { ChainHead(seq: $0.seq, hash: $0.hash) }
        try await call("copying run \(run.id)", runID: run.id, .write(driving: false)) { db, attempt in
            if try await !db.rows("SELECT 1 FROM runbook.runs WHERE id = \(run.id)").isEmpty {
                let copiedByThisCall = try await db.rows("""
                    SELECT 1 FROM runbook.write_receipts WHERE run_id = \(run.id) AND writer = 'copy' AND write_id = \(writeID)
                    """)
                if attempt > 1 && !copiedByThisCall.isEmpty { return }
                throw RunStoreError(.duplicateRun, "run \(run.id) already exists")
            }
            try await Self.storeDefinition(run, db)
            try await db.rows("""
                INSERT INTO runbook.runs (id, runbook, definition_hash, origin, parameters, provided_secrets, options,
                                          status, message, created_at, finished_at, started_by, cancel_requested, head_seq, head_hash)
                VALUES (\(run.id), \(run.runbook), \(run.definitionHash), \(run.origin), \(StoreJSON.encode(run.parameters)),
                        \(StoreJSON.encode(run.providedSecrets)), \(StoreJSON.encode(run.options)), \(run.status.rawValue),
                        \(run.message), \(run.createdAt), \(run.finishedAt), \(StoreJSON.encode(run.startedBy)),
                        \(run.cancelRequested), \(head?.seq ?? 0), \(head?.hash ?? ""))
                """)
            try await Self.upsert(steps, db)
            try await Self.insert(events, db)
            try await Self.receipt(runID: run.id, writer: "copy", writeID: writeID, cancelRequested: run.cancelRequested, db)
        }
    }
}
