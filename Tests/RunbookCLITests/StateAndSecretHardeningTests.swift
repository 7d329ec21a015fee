import CSQLite
import Foundation
import RunbookTestSupport
import Testing

/// Run SQL against a state database behind runbook's back, as an admin with write access would.
private func tamper(_ database: String, _ sql: String) throws {
    var db: OpaquePointer?
    guard sqlite3_open(database, &db) == SQLITE_OK else { throw TamperFailed(message: "cannot open \(database)") }
    defer { sqlite3_close(db) }
    var error: UnsafeMutablePointer<CChar>?
    if sqlite3_exec(db, sql, nil, nil, &error) != SQLITE_OK {
        let message = error.map { String(cString: $0) } ?? "?"
        sqlite3_free(error)
        throw TamperFailed(message: message)
    }
}

private struct TamperFailed: Error { var message: String }

private let dropTriggers = """
    DROP TRIGGER IF EXISTS events_are_append_only_update; DROP TRIGGER IF EXISTS events_are_append_only_delete;
    DROP TRIGGER IF EXISTS runs_identity_is_immutable;
    """

/// The bytes of the state files, to look for a secret.
private func stateBytes(_ database: String) -> Data {
    var bytes = Data()
    for suffix in ["", "-wal"] { bytes.append(FileManager.default.contents(atPath: database + suffix) ?? Data()) }
    return bytes
}

/// Every run's status, chain head and lease heartbeat, to show a command recorded nothing.
private func recordedState(_ database: String) -> [String] {
    var db: OpaquePointer?
    guard sqlite3_open(database, &db) == SQLITE_OK else { return [] }
    defer { sqlite3_close(db) }
    var statement: OpaquePointer?
    let sql = """
        SELECT runs.id || ' ' || runs.status || ' ' || (SELECT count(*) || ':' || coalesce(max(seq), 0) FROM events WHERE run_id = runs.id)
               || ' ' || coalesce((SELECT heartbeat_at FROM leases WHERE run_id = runs.id), '-') FROM runs
        """
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { return [] }
    defer { sqlite3_finalize(statement) }
    var rows: [String] = []
    while sqlite3_step(statement) == SQLITE_ROW { rows.append(String(cString: sqlite3_column_text(statement, 0))) }
    return rows
}

@Suite struct StateAndSecretHardeningTests {
    /// Defect: a plain UPDATE of `steps.outputs` and `runs.options` (no trigger to drop) steered `resume` past an
    /// approval gate, against another target in another directory, while `audit verify` passed.
    @Test func editedOutputsAndOptionsAreNamedByVerifyAndRefusedByResume() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", """
            name: gated
            steps:
              - { id: make, action: shell, with: { run: 'echo "target=staging-db" >> "$RUNBOOK_OUTPUT"' } }
              - id: go
                needs: [make]
                approval: required
                action: shell
                with: { run: 'echo "$T" >> log', env: { T: "${{ steps.make.outputs.target }}" } }
            """)
        let paused = try await ws.runbook(["run", "gated"])
        #expect(paused.exitCode == 3, "\(paused.stderr)")
        let id = try #require(paused.runID)
        #expect(try await ws.runbook(["audit", "verify", id]).exitCode == 0)
        let elsewhere = ws.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let options = #"{"autoApprove":true,"parallelism":4,"workingDirectory":"\#(elsewhere)"}"#
        try tamper(ws.database, """
            UPDATE steps SET outputs = '{"target":"prod-db"}' WHERE step_id = 'make';
            UPDATE runs SET options = '\(options)' WHERE id = '\(id)';
            """)
        let verify = try await ws.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 1)
        #expect(verify.stderr.contains("run \(id)"))
        #expect(verify.stderr.contains("options") || verify.stderr.contains("step 'make'"), "\(verify.stderr)")
        let resume = try await ws.runbook(["resume", id])
        #expect(resume.exitCode == 1)
        #expect(resume.stderr.contains("does not match its audit history"), "\(resume.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/log"))
        #expect(!FileManager.default.fileExists(atPath: ws.file("log")))
        let approve = try await ws.runbook(["approve", id, "go"])
        #expect(approve.exitCode == 1)
        #expect(!FileManager.default.fileExists(atPath: ws.file("log")))
    }

    /// Defect: deleting the last event (`run_finished`) behind the triggers was not detected, and `runs.status`
    /// was not checked against the final event.
    @Test func removedLastEventsAndAnEditedStatusAreDetected() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", "name: small\nsteps:\n  - { id: a, action: pass }\n  - { id: b, needs: [a], action: pass }\n")
        let first = try await ws.runbook(["run", "small", "--json"])
        let second = try await ws.runbook(["run", "small", "--json"])
        let truncated = try #require(first.json?["id"] as? String)
        let relabelled = try #require(second.json?["id"] as? String)
        #expect(try await ws.runbook(["audit", "verify"]).exitCode == 0)
        try tamper(ws.database, dropTriggers + """
            DELETE FROM events WHERE run_id = '\(truncated)' AND seq = (SELECT max(seq) FROM events WHERE run_id = '\(truncated)');
            UPDATE runs SET status = 'rolled_back' WHERE id = '\(relabelled)';
            """)
        let verify = try await ws.runbook(["audit", "verify"])
        #expect(verify.exitCode == 1)
        #expect(verify.stderr.contains("run \(truncated)"), "\(verify.stderr)")
        #expect(verify.stderr.contains("run \(relabelled)"), "\(verify.stderr)")
        #expect(verify.stderr.contains("2 of 2 runs"))
    }

    /// Defects: a secret written as an output *key* was stored; output cut at 4 KiB before redaction leaked the
    /// secret's prefix; a one-character secret redacted the engine's own words.
    @Test func secretsNeverLeakThroughOutputKeysTruncationOrShortValues() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let secret = "Hunter2-S3cr3t-Q"
        try ws.write(runbook: "leaky", """
            name: leaky
            parameters:
              password: { type: string, secret: true, required: true }
            steps:
              - id: keys
                action: shell
                with: { run: 'echo "k_$PW=1" >> "$RUNBOOK_OUTPUT"', env: { PW: "${{ params.password }}" } }
              - id: long
                needs: [keys]
                action: shell
                with: { run: 'head -c 4086 /dev/zero | tr "\\0" x; echo "$PW"', env: { PW: "${{ params.password }}" } }
              - id: loud
                needs: [long]
                action: shell
                with: { run: 'head -c 4086 /dev/zero | tr "\\0" y >&2; echo "$PW" >&2; exit 3', env: { PW: "${{ params.password }}" } }
            """)
        let run = try await ws.runbook(["run", "leaky", "--json"], environment: ["RUNBOOK_PARAM_PASSWORD": secret])
        #expect(run.exitCode == 1, "\(run.stderr)")
        let id = try #require(run.json?["id"] as? String)
        let prefix = String(secret.prefix(8))
        var seen = run.stdout + run.stderr
        for args in [["history", id], ["history", id, "--json"], ["audit", "export", id], ["audit", "export", id, "--format", "csv"]] {
            let out = try await ws.runbook(args)
            seen += out.stdout + out.stderr
        }
        let leaked = seen.contains(prefix)
        #expect(!leaked, "a prefix of the secret reached the output")
        let keyKept = seen.contains("k_***")
        #expect(keyKept, "the output key is kept, redacted")
        let bytes = stateBytes(ws.database)
        #expect(bytes.range(of: Data(prefix.utf8)) == nil, "a prefix of the secret reached the database")

        let short = try await ws.runbook(["run", "leaky"], environment: ["RUNBOOK_PARAM_PASSWORD": "e"])
        #expect(short.exitCode == 2)
        #expect(short.stderr.contains("'password'") && short.stderr.contains("too short"), "\(short.stderr)")
    }

    /// Defects: resume asked for a secret that was never given (it took its empty default), a missing secret
    /// was exit 1, a wrong one was accepted; a dead driver looked alive; a second driver got the secret
    /// message instead of exit 4.
    @Test func resumeAfterSigkillNeedsOnlyGivenSecretsAndShowsTheDeadDriver() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "creds", """
            name: creds
            parameters:
              password: { type: string, secret: true, required: true }
              token: { type: string, secret: true, default: "" }
            steps:
              - id: slow
                action: shell
                with: { run: 'echo started >> log; echo $$ > pgid; test -f done || { touch done; sleep 30; }; echo finished >> log' }
            """)
        let secret = "correct-horse-battery"
        let driver = try ws.start(["run", "creds", "--param", "password=\(secret)"])
        #expect(try await eventually { ws.lines("log").contains("started") })
        let id = try #require(CommandResult(exitCode: 0, stdout: driver.stdout, stderr: "").runID)

        let second = try await ws.runbook(["resume", id])
        #expect(second.exitCode == 4, "\(second.stderr)")
        #expect(second.stderr.contains("being driven by another process"))

        kill(driver.process.processIdentifier, SIGKILL)
        // The step's shell leads its own process group; stop it as the machine's loss would.
        if let group = Int32(ws.lines("pgid").first ?? "") { kill(-group, SIGKILL) }
        await driver.exited()
        let before = recordedState(ws.database)
        #expect(before.count == 1 && before[0].contains(" running "), "\(before)")
        let runs = try await ws.runbook(["runs"])
        #expect(runs.stdout.contains("driver gone"), "\(runs.stdout)")
        #expect(runs.stdout.contains("runbook resume \(id)"))
        let runsJSON = try await ws.runbook(["runs", "--json"])
        let listed = (try JSONSerialization.jsonObject(with: Data(runsJSON.stdout.utf8)) as? [[String: Any]])?.first
        let driverInfo = listed?["driver"] as? [String: Any]
        #expect(driverInfo?["alive"] as? Bool == false, "\(runsJSON.stdout)")
        #expect(driverInfo?["pid"] as? Int == Int(driver.process.processIdentifier))
        let history = try await ws.runbook(["history", id])
        #expect(history.stdout.contains("driver gone"), "\(history.stdout)")
        #expect(recordedState(ws.database) == before, "runs and history must not write")

        let missing = try await ws.runbook(["resume", id])
        #expect(missing.exitCode == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("password") && !missing.stderr.contains("token"), "\(missing.stderr)")
        let wrong = try await ws.runbook(["resume", id], environment: ["RUNBOOK_PARAM_PASSWORD": "not-the-password"])
        #expect(wrong.exitCode == 2, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("not the value"), "\(wrong.stderr)")
        #expect(ws.lines("log") == ["started"])
        let resumed = try await ws.runbook(["resume", id], environment: ["RUNBOOK_PARAM_PASSWORD": secret])
        #expect(resumed.exitCode == 0, "\(resumed.stderr)")
        #expect(ws.lines("log") == ["started", "started", "finished"])
    }
}
