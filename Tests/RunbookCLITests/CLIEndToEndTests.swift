import CSQLite
import Foundation
import RunbookTestSupport
import Testing

/// Shell steps that each leave an idempotent mark in `ledger` and count real executions in `raw`.
private let killableRunbook = """
    name: killable
    description: shell steps with parallel branches, slow enough to be killed in the middle
    defaults:
      retry: { max_attempts: 2, initial_interval: 50ms }
    steps:
    \((["a", "b", "c", "d", "e", "f", "g", "h"]).map { id in
        let needs: String
        switch id {
        case "a": needs = "[]"
        case "b", "c", "d": needs = "[a]"
        case "e": needs = "[b, c]"
        case "f": needs = "[d]"
        case "g": needs = "[e, f]"
        default: needs = "[g]"
        }
        return """
          - id: \(id)
            needs: \(needs)
            action: shell
            with:
              run: 'sleep 1.5; echo "$STEP" >> raw; grep -qx "$STEP" ledger 2>/dev/null || echo "$STEP" >> ledger; echo "mark=$STEP" >> "$RUNBOOK_OUTPUT"'
              env: { STEP: \(id) }
            compensate:
              action: shell
              with: { run: 'grep -vx "$STEP" ledger > ledger.tmp; mv ledger.tmp ledger', env: { STEP: \(id) } }
        """
    }.joined(separator: "\n"))
    """

/// Whether the process still runs, read from /proc (state other than zombie): Foundation's `isRunning` was
/// seen false for a driver that went on running, on a loaded machine.
func isAlive(_ started: CommandRunner.Started) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(started.process.processIdentifier)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}

@Suite struct CLIEndToEndTests {
    @Test func sigkillAtRandomMomentsThenResumeFinishesExactlyOnceInEffect() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "killable", killableRunbook)
        let first = try ws.start(["run", "killable"])
        var runID: String?
        #expect(try await eventually { runID = CommandResult(exitCode: 0, stdout: first.stdout, stderr: "").runID; return runID != nil })
        let id = try #require(runID)
        // Kill at five moments spread over the run (by progress, plus a random delay inside a step), resuming
        // each time; the run makes progress between kills because finished steps are never run again.
        var kills = 0
        var current = first
        var generator = SystemRandomNumberGenerator()
        for progress in [0, 1, 3, 5, 6] {
            _ = try await eventually(30) { ws.lines("ledger").count >= progress || !isAlive(current) }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...600, using: &generator)))
            if !isAlive(current) { break }
            kill(current.process.processIdentifier, SIGKILL)
            await current.exited()
            kills += 1
            current = try ws.start(["resume", id])
        }
        await current.exited()
        var final = try await ws.runbook(["resume", id, "--json"])
        if final.json?["already_finished"] == nil {
            // The last resume may itself have finished; either way the run must now be complete.
            final = try await ws.runbook(["resume", id, "--json"])
        }
        #expect(final.exitCode == 0, "\(final.stderr)")
        #expect(final.json?["status"] as? String == "succeeded")
        #expect(ws.lines("ledger").sorted() == ["a", "b", "c", "d", "e", "f", "g", "h"])
        #expect(kills >= 3, "first run output: \(first.stdout) \(first.stderr)")
        let history = try await ws.runbook(["history", id, "--json"])
        let events = (history.json?["events"] as? [[String: Any]]) ?? []
        // A kill can land before a resuming process has taken the run over, so not every kill leaves a
        // run_resumed event; at least one resume must have happened, and none can be double counted.
        let resumes = events.filter { $0["kind"] as? String == "run_resumed" }.count
        #expect(resumes >= 1 && resumes <= kills + 2)
        #expect(events.filter { $0["kind"] as? String == "step_succeeded" }.count == 8)
        let verify = try await ws.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("hash chain intact"))
    }

    @Test func validationReportsEveryErrorWithFileLineAndColumnAndExits2() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "broken", """
            name: broken
            steps:
              - id: one
                action: shel
                with: { run: echo hi }
              - id: two
                needs: [missing]
                action: shell
                with: { run: 'echo ${{ params.nope }}' }
                timeout: 10 minutes
            """)
        let result = try await ws.runbook(["validate", "broken"])
        #expect(result.exitCode == 2)
        let path = ws.runbooks + "/broken.yaml"
        #expect(result.stderr.contains("\(path):4:13: "))
        #expect(result.stderr.contains("unknown action 'shel'"))
        #expect(result.stderr.contains("\(path):7:"))
        #expect(result.stderr.contains("missing"))
        #expect(result.stderr.contains("pass values through env"))
        #expect(result.stderr.contains("10 minutes"))
        #expect(!result.stderr.contains("Fatal error"))
        let run = try await ws.runbook(["run", "broken"])
        #expect(run.exitCode == 2)
        #expect(!FileManager.default.fileExists(atPath: ws.database))
    }

    @Test func approvalGateExits3ThenApproveFinishesAndRecordsWho() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", """
            name: gated
            steps:
              - { id: check, action: shell, with: { run: 'echo checked >> log' } }
              - { id: go, needs: [check], approval: required, action: shell, with: { run: 'echo went >> log' } }
            """)
        let paused = try await ws.runbook(["run", "gated"])
        #expect(paused.exitCode == 3)
        #expect(paused.stdout.contains("runbook approve"))
        #expect(ws.lines("log") == ["checked"])
        let id = try #require(paused.runID)
        let approved = try await ws.runbook(["approve", id, "go", "--json"])
        #expect(approved.exitCode == 0, "\(approved.stderr)")
        #expect(ws.lines("log") == ["checked", "went"])
        let steps = (approved.json?["steps"] as? [[String: Any]]) ?? []
        #expect(steps.first { $0["id"] as? String == "go" }?["approved_by"] as? String == ProcessInfo.processInfo.environment["USER"] ?? "root")
    }

    @Test func aSecondProcessDrivingTheSameRunGetsExit4() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "slow", """
            name: slow
            steps:
              - { id: wait, action: shell, with: { run: 'echo started >> log; sleep 30' } }
            """)
        let driver = try ws.start(["run", "slow"])
        #expect(try await eventually { ws.lines("log").contains("started") })
        let id = try #require(CommandResult(exitCode: 0, stdout: driver.stdout, stderr: "").runID)
        let second = try await ws.runbook(["resume", id])
        #expect(second.exitCode == 4)
        #expect(second.stderr.contains("being driven by another process"))
        #expect(ws.lines("log") == ["started"], "the second process must not run the step again")
        kill(driver.process.processIdentifier, SIGINT)
        #expect(await driver.exited() == 5)
    }

    @Test func ctrlCRecordsInterruptedExits5AndResumeCompletes() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "stoppable", """
            name: stoppable
            steps:
              - { id: first, action: shell, with: { run: 'echo first >> log' } }
              - { id: long, needs: [first], action: shell, with: { run: 'echo started >> log; sleep 30; echo long >> log' } }
              - { id: last, needs: [long], action: shell, with: { run: 'echo last >> log' } }
            """)
        let driver = try ws.start(["run", "stoppable"])
        #expect(try await eventually { ws.lines("log").contains("started") })
        kill(driver.process.processIdentifier, SIGINT)
        #expect(await driver.exited() == 5)
        #expect(driver.stdout.contains("interrupted"))
        let id = try #require(CommandResult(exitCode: 0, stdout: driver.stdout, stderr: "").runID)
        let runs = try await ws.runbook(["runs", "--json"])
        #expect(runs.stdout.contains("\"status\" : \"interrupted\""))
        // Make the long step quick for the resume: the stored definition is used, so change the world instead.
        try ws.write(runbook: "stoppable", "name: stoppable\nsteps:\n  - { id: only, action: shell, with: { run: 'true' } }\n")
        let resumed = try ws.start(["resume", id])
        #expect(try await eventually { ws.lines("log").filter { $0 == "started" }.count == 2 })
        kill(resumed.process.processIdentifier, SIGTERM)
        #expect(await resumed.exited() == 5)
        #expect(resumed.stderr.contains("changed since run"))
        #expect(ws.lines("log").filter { $0 == "first" }.count == 1)
    }

    @Test func failingRunRollsBackInReverseAndExits1() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "doomed", """
            name: doomed
            steps:
              - id: one
                action: shell
                with: { run: 'echo one >> log' }
                compensate: { action: shell, with: { run: 'echo undo-one >> log' } }
              - id: two
                needs: [one]
                action: shell
                with: { run: 'echo two >> log' }
                compensate: { action: shell, with: { run: 'echo undo-two >> log' } }
              - { id: three, needs: [two], action: fail, with: { message: "the replica is not in sync" } }
            """)
        let result = try await ws.runbook(["run", "doomed"])
        #expect(result.exitCode == 1)
        #expect(ws.lines("log") == ["one", "two", "undo-two", "undo-one"])
        #expect(result.stdout.contains("rolled_back"))
        #expect(result.stdout.contains("the replica is not in sync"))
    }

    @Test func secretsNeverReachOutputOrTheDatabase() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let secret = "hunter2-\(UUID().uuidString.prefix(6))"
        try ws.write(runbook: "secretive", """
            name: secretive
            parameters:
              password: { type: string, secret: true, required: true }
            steps:
              - id: use
                action: shell
                with:
                  run: 'echo "connecting with $PW"; echo "dsn=postgres://admin:$PW@db" >> "$RUNBOOK_OUTPUT"; test "$RUNBOOK_PARAM_PASSWORD" = "$PW"'
                  env: { PW: "${{ params.password }}" }
            """)
        let result = try await ws.runbook(["run", "secretive", "--json"], environment: ["RUNBOOK_PARAM_PASSWORD": secret])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
        #expect(result.stdout.contains("postgres://admin:***@db"))
        let id = try #require(result.json?["id"] as? String)
        for args in [["history", id], ["history", id, "--json"], ["audit", "export", id, "--format", "csv"], ["runs"]] {
            let out = try await ws.runbook(args)
            #expect(!out.stdout.contains(secret), "\(args)")
        }
        var bytes = Data()
        for suffix in ["", "-wal", "-shm"] { bytes.append(FileManager.default.contents(atPath: ws.database + suffix) ?? Data()) }
        #expect(bytes.range(of: Data(secret.utf8)) == nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: ws.database)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func auditVerifyNamesAnEventEditedWithTheSQLiteAPI() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", """
            name: small
            steps:
              - { id: a, action: shell, with: { run: 'echo "state=ok" >> "$RUNBOOK_OUTPUT"' } }
            """)
        let result = try await ws.runbook(["run", "small", "--json"])
        let id = try #require(result.json?["id"] as? String)
        #expect(try await ws.runbook(["audit", "verify"]).exitCode == 0)
        var db: OpaquePointer?
        #expect(sqlite3_open(ws.database, &db) == SQLITE_OK)
        var seq: Int64 = 0
        var statement: OpaquePointer?
        sqlite3_prepare_v2(db, "SELECT seq FROM events WHERE kind = 'step_succeeded'", -1, &statement, nil)
        if sqlite3_step(statement) == SQLITE_ROW { seq = sqlite3_column_int64(statement, 0) }
        sqlite3_finalize(statement)
        #expect(seq > 0, "the run recorded a step_succeeded event carrying the step's outputs")
        let sql = "DROP TRIGGER events_are_append_only_update; UPDATE events SET detail = '{\"state\":\"forged\"}' WHERE seq = \(seq);"
        #expect(sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)
        let verify = try await ws.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 1)
        #expect(verify.stderr.contains("event #\(seq) (step_succeeded)"))
        let export = try await ws.runbook(["audit", "export", id, "--format", "json"])
        #expect(export.exitCode == 1)
        #expect(export.stdout.contains("\"intact\" : false"))
    }

    @Test func corruptOrForeignDatabaseIsRefusedAndLeftUntouched() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try FileManager.default.createDirectory(atPath: ws.root + "/state", withIntermediateDirectories: true)
        let junk = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try junk.write(to: URL(fileURLWithPath: ws.database))
        try ws.write(runbook: "small", "name: small\nsteps:\n  - { id: a, action: pass }\n")
        let run = try await ws.runbook(["run", "small"])
        #expect(run.exitCode == 2)
        #expect(run.stderr.contains("not a runbook database"))
        #expect(!run.stderr.contains("Fatal"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: ws.database)) == junk)
        let missing = try await CommandRunner.runDetached(try RunbookBinary.path(), ["runs", "--db", ws.root + "/nope.sqlite"])
        #expect(missing.exitCode == 2)
        #expect(missing.stderr.contains("no runbook database at"))
    }

    @Test func listShowAndExportDescribeTheRunbookAndTheRun() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "diamond", """
            name: diamond
            description: a diamond of pass steps
            steps:
              - { id: top, action: pass, with: { v: "1" } }
              - { id: left, needs: [top], action: pass }
              - { id: right, needs: [top], action: pass }
              - { id: bottom, needs: [left, right], action: pass }
            """)
        let list = try await ws.runbook(["list"])
        #expect(list.stdout.contains("diamond") && list.stdout.contains("a diamond of pass steps"))
        let mermaid = try await ws.runbook(["show", "diamond", "--format", "mermaid"])
        #expect(mermaid.stdout.hasPrefix("graph TD"))
        #expect(mermaid.stdout.components(separatedBy: "-->").count - 1 == 4)
        let dot = try await ws.runbook(["show", "diamond", "--format", "dot"])
        #expect(dot.stdout.contains("digraph"))
        let run = try await ws.runbook(["run", "diamond", "--json", "--parallelism", "2"])
        let id = try #require(run.json?["id"] as? String)
        #expect((run.json?["steps"] as? [[String: Any]])?.count == 4)
        let csv = try await ws.runbook(["audit", "export", id, "--format", "csv"])
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first?.hasPrefix("seq,time,run_id") == true)
        #expect(rows.count > 10)
        let json = try await ws.runbook(["audit", "export", id, "--format", "json"])
        let export = try #require(json.json)
        #expect((export["run"] as? [String: Any])?["definition"] as? String == (try String(contentsOfFile: ws.runbooks + "/diamond.yaml", encoding: .utf8)))
        #expect((export["verification"] as? [String: Any])?["intact"] as? Bool == true)
    }

    @Test func cancelFromAnotherTerminalStopsTheDriverAndRollsBack() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "cancellable", """
            name: cancellable
            steps:
              - id: made
                action: shell
                with: { run: 'echo made >> log' }
                compensate: { action: shell, with: { run: 'echo unmade >> log' } }
              - { id: long, needs: [made], action: shell, with: { run: 'echo waiting >> log; sleep 60' } }
            """)
        let driver = try ws.start(["run", "cancellable"])
        #expect(try await eventually { ws.lines("log").contains("waiting") })
        let id = try #require(CommandResult(exitCode: 0, stdout: driver.stdout, stderr: "").runID)
        let cancel = try await ws.runbook(["cancel", id])
        #expect(cancel.exitCode == 0, "\(cancel.stderr)")
        #expect(cancel.stdout.contains("to stop and roll back"))
        #expect(await driver.exited() == 1)
        #expect(ws.lines("log") == ["made", "waiting", "unmade"])
        let runs = try await ws.runbook(["runs", "--json"])
        #expect(runs.stdout.contains("\"status\" : \"cancelled\""))
    }
}
