import PostgresNIO

/// The store's schema (`runbook`) and its versioned migrations.
///
/// The schema is marked as ours by `runbook.schema_info` (application `runbook` and the version). Migrations
/// run in one transaction under an advisory lock, so a store is never half-migrated and two processes never
/// migrate at once; a `runbook` schema without that mark (another program's) and a newer version are
/// refused and left untouched.
enum PostgresSchema {
    static let name = "runbook"
    static let application = "runbook"
    static var currentVersion: Int64 { Int64(migrations.count) }
    /// The advisory lock key migrations hold ('RNBK').
    static let lockKey: Int64 = 0x524E_424B

    /// Migrations by the version they produce, each a list of statements; `migrations[0]` creates version 1.
    static let migrations: [[String]] = [[
        "CREATE SCHEMA runbook",
        """
        CREATE TABLE runbook.schema_info (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            application text NOT NULL,
            version bigint NOT NULL)
        """,
        "INSERT INTO runbook.schema_info (application, version) VALUES ('runbook', 0)",
        "CREATE TABLE runbook.definitions (hash text COLLATE \"C\" PRIMARY KEY, source text NOT NULL)",
        """
        CREATE TABLE runbook.runs (
            id text COLLATE "C" PRIMARY KEY,
            runbook text NOT NULL,
            definition_hash text COLLATE "C" NOT NULL REFERENCES runbook.definitions(hash),
            origin text NOT NULL,
            parameters text NOT NULL,
            provided_secrets text NOT NULL,
            options text NOT NULL,
            status text NOT NULL,
            message text,
            created_at bigint NOT NULL,
            finished_at bigint,
            started_by text NOT NULL,
            cancel_requested boolean NOT NULL DEFAULT false,
            head_seq bigint NOT NULL DEFAULT 0,
            head_hash text NOT NULL DEFAULT '')
        """,
        "CREATE INDEX runs_by_created ON runbook.runs (created_at DESC, id DESC)",
        """
        CREATE TABLE runbook.steps (
            run_id text COLLATE "C" NOT NULL REFERENCES runbook.runs(id),
            step_id text COLLATE "C" NOT NULL,
            status text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            polls bigint NOT NULL DEFAULT 0,
            compensation_attempts bigint NOT NULL DEFAULT 0,
            started_at bigint,
            finished_at bigint,
            outputs text NOT NULL DEFAULT '{}',
            error text,
            completion_order bigint,
            waiter_deadline bigint,
            approved_by text,
            PRIMARY KEY (run_id, step_id))
        """,
        """
        CREATE TABLE runbook.events (
            run_id text COLLATE "C" NOT NULL REFERENCES runbook.runs(id),
            seq bigint NOT NULL,
            step_id text,
            attempt bigint,
            kind text NOT NULL,
            detail text NOT NULL,
            at bigint NOT NULL,
            actor text NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL,
            state text,
            PRIMARY KEY (run_id, seq))
        """,
        // One row per run, kept for the run's life: `token` is NULL while nobody holds the lease, and `fence`
        // grows by one with every claim, so a takeover is visible and a claim never repeats.
        """
        CREATE TABLE runbook.leases (
            run_id text COLLATE "C" PRIMARY KEY REFERENCES runbook.runs(id),
            token text,
            fence bigint NOT NULL,
            holder_user text NOT NULL,
            holder_host text NOT NULL,
            holder_pid bigint NOT NULL,
            heartbeat_at bigint NOT NULL)
        """,
        // The last write of each writer (a lease token, or one process's unleased writes) per run: a write
        // retried after its COMMIT's outcome was lost finds itself here and is not applied twice.
        """
        CREATE TABLE runbook.write_receipts (
            run_id text COLLATE "C" NOT NULL REFERENCES runbook.runs(id),
            writer text NOT NULL,
            write_id text NOT NULL,
            cancel_requested boolean NOT NULL,
            PRIMARY KEY (run_id, writer))
        """,
        """
        CREATE FUNCTION runbook.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%: % refused', TG_ARGV[0], TG_OP USING ERRCODE = 'P0001';
        END
        $$
        """,
        """
        CREATE TRIGGER events_are_append_only BEFORE UPDATE OR DELETE ON runbook.events
            FOR EACH ROW EXECUTE FUNCTION runbook.refuse('audit events are append-only')
        """,
        """
        CREATE TRIGGER events_are_not_truncated BEFORE TRUNCATE ON runbook.events
            FOR EACH STATEMENT EXECUTE FUNCTION runbook.refuse('audit events are append-only')
        """,
        """
        CREATE TRIGGER runs_are_kept BEFORE DELETE ON runbook.runs
            FOR EACH ROW EXECUTE FUNCTION runbook.refuse('runs are part of the audit history')
        """,
        """
        CREATE TRIGGER runs_are_not_truncated BEFORE TRUNCATE ON runbook.runs
            FOR EACH STATEMENT EXECUTE FUNCTION runbook.refuse('runs are part of the audit history')
        """,
        """
        CREATE TRIGGER runs_identity_is_immutable BEFORE UPDATE OF id, runbook, definition_hash, parameters, started_by, created_at
            ON runbook.runs FOR EACH ROW EXECUTE FUNCTION runbook.refuse('a run''s definition, parameters and starter are immutable')
        """,
        """
        CREATE TRIGGER definitions_are_immutable BEFORE UPDATE OR DELETE ON runbook.definitions
            FOR EACH ROW EXECUTE FUNCTION runbook.refuse('stored definitions are part of the audit history')
        """,
        """
        CREATE TRIGGER definitions_are_not_truncated BEFORE TRUNCATE ON runbook.definitions
            FOR EACH STATEMENT EXECUTE FUNCTION runbook.refuse('stored definitions are part of the audit history')
        """,
    ], [
        // Version 2: a checkpoint in one statement (one round trip, one commit, no BEGIN). It applies the checkpoint only when
        // the caller holds the lease, the chain's head is the one its events were linked to and (when it
        // launches steps) no cancel was requested; otherwise it changes nothing and says why, and the caller
        // takes the longer path that reads all of that first.
        """
        CREATE FUNCTION runbook.checkpoint(p_run text, p_token text, p_write text, p_head_seq bigint, p_head_hash text,
                                           p_launching boolean, p_status text, p_set_message boolean, p_message text, p_finished bigint,
                                           p_steps jsonb, p_events jsonb) RETURNS text LANGUAGE plpgsql AS $$
        DECLARE
            v_token text; v_write text; v_applied_cancel boolean; v_cancel boolean; v_seq bigint; v_hash text;
        BEGIN
            SELECT l.token, w.write_id, w.cancel_requested, r.cancel_requested
              INTO v_token, v_write, v_applied_cancel, v_cancel
              FROM runbook.leases l JOIN runbook.runs r ON r.id = l.run_id
              LEFT JOIN runbook.write_receipts w ON w.run_id = l.run_id AND w.writer = p_token
             WHERE l.run_id = p_run FOR UPDATE OF l, r;
            IF v_write IS NOT DISTINCT FROM p_write THEN
                RETURN CASE WHEN v_applied_cancel THEN 'applied, cancel requested' ELSE 'applied' END;
            END IF;
            IF v_token IS DISTINCT FROM p_token THEN RETURN 'lease lost'; END IF;
            IF p_launching AND v_cancel THEN RETURN 'read first'; END IF;
            SELECT seq, hash INTO v_seq, v_hash FROM runbook.events WHERE run_id = p_run ORDER BY seq DESC LIMIT 1;
            IF v_seq IS DISTINCT FROM p_head_seq OR v_hash IS DISTINCT FROM p_head_hash THEN RETURN 'read first'; END IF;
            v_seq := (p_events -> -1 ->> 'seq')::bigint;
            v_hash := p_events -> -1 ->> 'hash';
            IF p_status IS NOT NULL OR p_set_message OR p_finished IS NOT NULL OR v_seq IS NOT NULL THEN
                UPDATE runbook.runs SET status = COALESCE(p_status, status),
                                        message = CASE WHEN p_set_message THEN p_message ELSE message END,
                                        finished_at = COALESCE(p_finished, finished_at),
                                        head_seq = COALESCE(v_seq, head_seq), head_hash = COALESCE(v_hash, head_hash)
                 WHERE id = p_run;
            END IF;
            INSERT INTO runbook.steps (run_id, step_id, status, attempts, polls, compensation_attempts, started_at, finished_at,
                                       outputs, error, completion_order, waiter_deadline, approved_by)
            SELECT p_run, s.step_id, s.status, s.attempts, s.polls, s.compensation_attempts, s.started_at, s.finished_at,
                   s.outputs, s.error, s.completion_order, s.waiter_deadline, s.approved_by
              FROM jsonb_populate_recordset(NULL::runbook.steps, p_steps) s
            ON CONFLICT (run_id, step_id) DO UPDATE SET
                status = EXCLUDED.status, attempts = EXCLUDED.attempts, polls = EXCLUDED.polls,
                compensation_attempts = EXCLUDED.compensation_attempts, started_at = EXCLUDED.started_at,
                finished_at = EXCLUDED.finished_at, outputs = EXCLUDED.outputs, error = EXCLUDED.error,
                completion_order = EXCLUDED.completion_order, waiter_deadline = EXCLUDED.waiter_deadline,
                approved_by = EXCLUDED.approved_by;
            IF jsonb_array_length(p_events) > 0 THEN
                INSERT INTO runbook.events (run_id, seq, step_id, attempt, kind, detail, at, actor, prev_hash, hash, state)
                SELECT p_run, e.seq, e.step_id, e.attempt, e.kind, e.detail, e.at, e.actor, e.prev_hash, e.hash, e.state
                  FROM jsonb_populate_recordset(NULL::runbook.events, p_events) e;
            END IF;
            INSERT INTO runbook.write_receipts (run_id, writer, write_id, cancel_requested) VALUES (p_run, p_token, p_write, false)
            ON CONFLICT (run_id, writer) DO UPDATE SET write_id = EXCLUDED.write_id, cancel_requested = false;
            RETURN 'done';
        END
        $$
        """,
    ]]

    /// What the database holds under the schema's name.
    enum Found: Equatable {
        case nothing
        case ours(version: Int64)
        case foreign
    }

    /// Bring the store to `currentVersion` in one transaction, or refuse with a plain sentence naming `place`.
    /// - Parameters:
    ///   - create: when false, a database without the schema is refused instead of given one.
    ///   - run: runs one statement on the connection and returns its rows.
    static func migrate(place: String, create: Bool, migrations: [[String]] = migrations,
                        run: (PostgresQuery) throws -> [PostgresRow]) throws {
        _ = try run("BEGIN")
        do {
            try migrateInTransaction(place: place, create: create, migrations: migrations, run: run)
            _ = try run("COMMIT")
        } catch {
            _ = try? run("ROLLBACK")
            throw error
        }
    }

    private static func migrateInTransaction(place: String, create: Bool, migrations: [[String]],
                                             run: (PostgresQuery) throws -> [PostgresRow]) throws {
        _ = try run("SELECT pg_advisory_xact_lock(\(lockKey))")
        let found = try inspect(run)
        let target = Int64(migrations.count)
        switch found {
        case .foreign:
            throw PostgresStoreError.usage("\(place) has a schema named runbook that runbook did not make (no runbook.schema_info marking it as ours); it was left untouched — use another database")
        case .ours(let version) where version > target:
            throw PostgresStoreError.usage("\(place) holds a runbook store written by a newer runbook (schema version \(version); this runbook knows up to \(target)); it was left untouched — upgrade runbook to use it")
        case .nothing where !create:
            throw PostgresStoreError.usage("no runbook store in \(place): nothing has run yet with this store (set --db or RUNBOOK_DB to use another)")
        case .ours(let version) where version == target:
            return
        case .ours, .nothing:
            break
        }
        let from: Int64
        if case .ours(let version) = found { from = version } else { from = 0 }
        for index in Int(from)..<Int(target) {
            for statement in migrations[index] { _ = try run(PostgresQuery(unsafeSQL: statement)) }
        }
        _ = try run("UPDATE runbook.schema_info SET version = \(target)")
    }

    /// Whether the database has our schema, which version, or someone else's `runbook` schema.
    static func inspect(_ run: (PostgresQuery) throws -> [PostgresRow]) throws -> Found {
        let rows = try run("""
            SELECT (to_regnamespace('runbook') IS NOT NULL)::text, (to_regclass('runbook.schema_info') IS NOT NULL)::text
            """)
        let cells = try rows.first.map { row -> (String, String) in
            let cells = row.makeRandomAccess()
            return (try cells[0].decode(String.self), try cells[1].decode(String.self))
        }
        guard let (hasSchema, hasInfo) = cells, hasSchema == "true" else { return .nothing }
        guard hasInfo == "true" else { return .foreign }
        let info = try run("SELECT application, version FROM runbook.schema_info")
        guard let row = info.first else { return .foreign }
        let cellsOfInfo = row.makeRandomAccess()
        guard try cellsOfInfo[0].decode(String.self) == application else { return .foreign }
        return .ours(version: try cellsOfInfo[1].decode(Int64.self))
    }
}
