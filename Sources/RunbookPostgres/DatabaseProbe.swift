import Foundation
import PostgresNIO

/// What one instance says about its WAL and its role, read in one statement.
public struct ReplicationStatus: Sendable, Equatable {
    /// Whether the server is a standby (`pg_is_in_recovery()`).
    public var isStandby: Bool
    /// `pg_current_wal_lsn()` on a writer; nil on a standby.
    public var writerPosition: WALPosition?
    /// `pg_last_wal_receive_lsn()` on a standby; nil on a writer.
    public var receivedPosition: WALPosition?
    /// `pg_last_wal_replay_lsn()` on a standby; nil on a writer.
    public var replayedPosition: WALPosition?
    /// `pg_last_xact_replay_timestamp()`: the commit time of the last transaction a standby replayed.
    public var lastReplayedCommit: Date?
    /// `default_transaction_read_only` as this session sees it (a fenced writer says `on`).
    public var defaultReadOnly: Bool
}

/// One row of the `runbook_canary` table: a write `runbook` made and can look for elsewhere.
public struct CanaryRow: Sendable, Hashable {
    public var runID: String
    public var step: String
    public var sequence: Int64
    /// The server's commit-time clock when the row was written.
    public var writtenAt: Date
}

extension DatabaseSession {
    /// Reads the instance's role and WAL positions.
    public func replicationStatus() async throws -> ReplicationStatus {
        let row = try await rows("""
            SELECT pg_is_in_recovery()::text,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END,
                   pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
                   extract(epoch FROM pg_last_xact_replay_timestamp())::text,
                   current_setting('default_transaction_read_only')
            """, doing: "reading the WAL position").first ?? []
        func cell(_ index: Int) -> String? { index < row.count ? row[index] : nil }
        return ReplicationStatus(
            isStandby: cell(0) == "true", writerPosition: cell(1).flatMap(WALPosition.init),
            receivedPosition: cell(2).flatMap(WALPosition.init), replayedPosition: cell(3).flatMap(WALPosition.init),
            lastReplayedCommit: cell(4).flatMap(Double.init).map { Date(timeIntervalSince1970: $0) },
            defaultReadOnly: cell(5) == "on")
    }

    /// Writes one canary row (creating the table if missing) and returns it as committed.
    ///
    /// A writer fenced with `default_transaction_read_only` refuses this with SQLSTATE 25006.
    public func writeCanary(runID: String, step: String, sequence: Int64) async throws -> CanaryRow {
        try await rows("""
            CREATE TABLE IF NOT EXISTS runbook_canary (
                run_id text NOT NULL, step text NOT NULL, seq bigint NOT NULL,
                written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (run_id, step, seq))
            """, doing: "creating the canary table")
        let written = try await value("""
            INSERT INTO runbook_canary (run_id, step, seq) VALUES (\(runID), \(step), \(sequence))
            ON CONFLICT (run_id, step, seq) DO UPDATE SET seq = EXCLUDED.seq
            RETURNING extract(epoch FROM written_at)::text
            """, doing: "writing a canary row")
        let time = written.flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } ?? Date()
        return CanaryRow(runID: runID, step: step, sequence: sequence, writtenAt: time)
    }

    /// The canary rows of `runID` present on this instance (none when the table does not exist yet).
    public func canaries(runID: String) async throws -> [CanaryRow] {
        let exists = try await value("SELECT (to_regclass('runbook_canary') IS NOT NULL)::text", doing: "looking for the canary table")
        guard exists == "true" else { return [] }
        return try await rows("""
            SELECT step, seq::text, extract(epoch FROM written_at)::text FROM runbook_canary
            WHERE run_id = \(runID) ORDER BY step, seq
            """, doing: "reading canary rows").compactMap { row in
            guard row.count == 3, let step = row[0], let sequence = row[1].flatMap({ Int64($0) }),
                  let time = row[2].flatMap(Double.init) else { return nil }
            return CanaryRow(runID: runID, step: step, sequence: sequence, writtenAt: Date(timeIntervalSince1970: time))
        }
    }

    /// Ends every other client session (superusers' excepted, which an RDS master user cannot signal).
    /// Returns how many were ended.
    public func terminateOtherSessions() async throws -> Int {
        let ended = try await value("""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))::text
            FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
            WHERE a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' AND NOT r.rolsuper
            """, doing: "ending the other sessions")
        return ended.flatMap { Int($0) } ?? 0
    }
}
