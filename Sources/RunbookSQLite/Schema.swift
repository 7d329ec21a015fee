import CSQLite
import Foundation
import RunbookEngine

/// The database schema and its migrations.
///
/// The schema version lives in `PRAGMA user_version`, the file is marked as ours with
/// `PRAGMA application_id`. A migration runs in one transaction, so a database is never half-migrated;
/// a database written by a newer `runbook`, or a file that is not ours, is refused and left untouched.
enum Schema {
    /// 'RNBK'
    static let applicationID: Int64 = 0x524E_424B
    static let currentVersion: Int64 = 3

    /// Migrations by the version they produce; `migrations[0]` takes an empty database to version 1.
    static let migrations: [String] = [
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            runbook TEXT NOT NULL,
            definition TEXT NOT NULL,
            definition_hash TEXT NOT NULL,
            origin TEXT NOT NULL,
            parameters TEXT NOT NULL,
            provided_secrets TEXT NOT NULL,
            options TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER,
            started_by TEXT NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_by_created ON runs(created_at DESC, id DESC);
        CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs(id),
            step_id TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            polls INTEGER NOT NULL DEFAULT 0,
            compensation_attempts INTEGER NOT NULL DEFAULT 0,
            started_at INTEGER,
            finished_at INTEGER,
            outputs TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            completion_order INTEGER,
            waiter_deadline INTEGER,
            approved_by TEXT,
            PRIMARY KEY (run_id, step_id)
        ) WITHOUT ROWID;
        CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            step_id TEXT,
            attempt INTEGER,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
        CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END;
        CREATE TRIGGER runs_are_kept BEFORE DELETE ON runs
            BEGIN SELECT RAISE(ABORT, 'runs are part of the audit history: DELETE refused'); END;
        CREATE TRIGGER runs_identity_is_immutable BEFORE UPDATE OF id, runbook, definition, definition_hash, parameters, started_by, created_at ON runs
            BEGIN SELECT RAISE(ABORT, 'a run''s definition, parameters and starter are immutable'); END;
        CREATE TABLE leases (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            token TEXT NOT NULL,
            holder_user TEXT NOT NULL,
            holder_host TEXT NOT NULL,
            holder_pid INTEGER NOT NULL,
            heartbeat_at INTEGER NOT NULL
        );
        """,
        // Version 2: a run's definition moves out of its `runs` row into `definitions`, stored once per
        // SHA-256. Every status change rewrote the whole row, definition included (about 150 pages for a
        // 10,000-step runbook); now it rewrites a few hundred bytes. The table is rebuilt the way SQLite
        // documents for dropping a column (foreign keys are off during the migration, checked before commit).
        """
        CREATE TABLE definitions (
            hash TEXT PRIMARY KEY,
            source TEXT NOT NULL
        );
        INSERT OR IGNORE INTO definitions (hash, source) SELECT definition_hash, definition FROM runs;
        CREATE TABLE runs_v2 (
            id TEXT PRIMARY KEY,
            runbook TEXT NOT NULL,
            definition_hash TEXT NOT NULL REFERENCES definitions(hash),
            origin TEXT NOT NULL,
            parameters TEXT NOT NULL,
            provided_secrets TEXT NOT NULL,
            options TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER,
            started_by TEXT NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO runs_v2 (id, runbook, definition_hash, origin, parameters, provided_secrets, options, status, message,
                             created_at, finished_at, started_by, cancel_requested)
            SELECT id, runbook, definition_hash, origin, parameters, provided_secrets, options, status, message,
                   created_at, finished_at, started_by, cancel_requested FROM runs;
        DROP TABLE runs;
        ALTER TABLE runs_v2 RENAME TO runs;
        CREATE INDEX runs_by_created ON runs(created_at DESC, id DESC);
        CREATE TRIGGER runs_are_kept BEFORE DELETE ON runs
            BEGIN SELECT RAISE(ABORT, 'runs are part of the audit history: DELETE refused'); END;
        CREATE TRIGGER runs_identity_is_immutable BEFORE UPDATE OF id, runbook, definition_hash, parameters, started_by, created_at ON runs
            BEGIN SELECT RAISE(ABORT, 'a run''s definition, parameters and starter are immutable'); END;
        CREATE TRIGGER definitions_are_immutable BEFORE UPDATE ON definitions
            BEGIN SELECT RAISE(ABORT, 'stored definitions are part of the audit history: UPDATE refused'); END;
        CREATE TRIGGER definitions_are_kept BEFORE DELETE ON definitions
            BEGIN SELECT RAISE(ABORT, 'stored definitions are part of the audit history: DELETE refused'); END;
        """,
        // Version 3: each event may carry the digest of its step's row (checked by `audit verify` and before a
        // resume), and each run records the last event of its chain, so removing events from the end shows.
        """
        ALTER TABLE events ADD COLUMN state TEXT;
        ALTER TABLE runs ADD COLUMN head_seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';
        UPDATE runs SET
            head_seq = COALESCE((SELECT max(seq) FROM events WHERE events.run_id = runs.id), 0),
            head_hash = COALESCE((SELECT hash FROM events WHERE events.run_id = runs.id ORDER BY seq DESC LIMIT 1), '');
        """,
    ]

    /// Bring `connection` to `currentVersion`, or refuse with a plain explanation.
    static func migrate(_ connection: SQLiteConnection) throws {
        let applicationID: Int64
        let version: Int64
        let tableCount: Int64
        do {
            applicationID = try connection.scalarInt("PRAGMA application_id") ?? 0
            version = try connection.scalarInt("PRAGMA user_version") ?? 0
            tableCount = try connection.scalarInt("SELECT count(*) FROM sqlite_master") ?? 0
        } catch let error as SQLiteError where error.code == SQLITE_NOTADB || error.code == SQLITE_CORRUPT {
            throw DatabaseOpenError("\(connection.path) is not a runbook database (it is not a readable SQLite file: \(error.message)); it was left untouched")
        }
        if tableCount > 0 && applicationID != Self.applicationID {
            throw DatabaseOpenError("\(connection.path) is an SQLite database of another program, not a runbook database; it was left untouched (choose another file with --db)")
        }
        if version > currentVersion {
            throw DatabaseOpenError("\(connection.path) was written by a newer runbook (schema version \(version); this runbook knows up to \(currentVersion)); it was left untouched — upgrade runbook to use it")
        }
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute("PRAGMA synchronous=FULL")
        if version < currentVersion {
            // Foreign keys stay off while tables are rebuilt (SQLite ignores this pragma inside a transaction).
            try connection.execute("PRAGMA foreign_keys=OFF")
            try connection.transaction {
                // Re-read inside the write transaction: another process may have migrated meanwhile.
                let now = try connection.scalarInt("PRAGMA user_version") ?? 0
                guard now < currentVersion else { return }
                for index in Int(now)..<Int(currentVersion) {
                    try connection.execute(migrations[index])
                }
                let broken = try connection.query("PRAGMA foreign_key_check") { $0.text(0) }
                if !broken.isEmpty {
                    throw DatabaseOpenError("\(connection.path): upgrading the schema to version \(currentVersion) would break references in \(Set(broken).sorted().joined(separator: ", ")); nothing was changed")
                }
                try connection.execute("PRAGMA application_id = \(Self.applicationID)")
                try connection.execute("PRAGMA user_version = \(currentVersion)")
            }
        }
        try connection.execute("PRAGMA foreign_keys=ON")
    }
}

/// Why a database could not be opened, in one plain sentence; exit 2 (the file is left untouched).
public struct DatabaseOpenError: Error, Sendable, CustomStringConvertible, ExitCoded {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var exitCode: Int32 { ExitCodes.usage }
    public var exitMessage: String? { message }
}
