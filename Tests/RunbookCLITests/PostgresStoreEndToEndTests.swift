import Foundation
import RunbookTestSupport
import Testing

/// A throwaway PostgreSQL server with an empty database owned by the test role: the shared store of a team.
private struct SharedStore {
    let server: PostgresServer
    static let database = "runbook_store"

    static func start() async throws -> SharedStore {
        SharedStore(server: try await PostgresServer.start(database: database))
    }

    var url: String { "postgres://\(server.user)@127.0.0.1:\(server.port)/\(Self.database)" }

    /// SQL as the superuser in the store's database (psql's unaligned output, trimmed).
    @discardableResult
    func admin(_ sql: String) throws -> String {
        try server.admin(database: Self.database, sql).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { server.stop() }
}

/// One operator: their own HOME, user name and host name, their own runbooks and working directory, all on
/// the same PostgreSQL store.
private struct Operator {
    let root: String
    let user: String
    let host: String
    let store: String
    var password: String?
    var home: String { root + "/home" }
    var runbooks: String { root + "/Runbooks" }
    var work: String { root + "/work" }

    init(_ user: String, host: String, store: String, password: String?) throws {
        root = NSTemporaryDirectory() + "runbook-op-\(user)-\(UUID().uuidString.prefix(8))"
        self.user = user
        self.host = host
        self.store = store
        self.password = password
        for directory in [home, runbooks, work] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    var environment: [String: String] {
        ["HOME": home, "USER": user, "LOGNAME": user, "RUNBOOK_HOSTNAME": host, "PGPASSWORD": password ?? "", "PGPASSFILE": ""]
    }

    func write(runbook name: String, _ yaml: String) throws {
        try yaml.write(toFile: runbooks + "/\(name).yaml", atomically: true, encoding: .utf8)
    }

    func runbook(_ arguments: [String], db: String? = nil, environment extra: [String: String] = [:]) async throws -> CommandResult {
        try await CommandRunner.runDetached(try RunbookBinary.path(), ["--db", db ?? store, "--runbooks", runbooks] + arguments,
                                            environment: environment.merging(extra) { $1 }, directory: work)
    }

    /// Run `runbook ARGS` exactly as given (no --db, no --runbooks).
    func plain(_ arguments: [String]) async throws -> CommandResult {
        try await CommandRunner.runDetached(try RunbookBinary.path(), arguments, environment: environment, directory: work)
    }

    func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> CommandRunner.Started {
        try CommandRunner.start(try RunbookBinary.path(), ["--db", store, "--runbooks", runbooks] + arguments,
                                environment: environment.merging(extra) { $1 }, directory: work)
    }

    /// Lets the chain's step two finish.
    func release() {
        FileManager.default.createFile(atPath: work + "/release", contents: Data())
    }

    func lines(_ file: String) -> [String] {
        ((try? String(contentsOfFile: work + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Shell steps in a chain, each appending its name to `log` once per execution. Step two waits for the test to
/// `release()` it, so that a kill or a server crash lands while it runs however slow the machine is.
private let chainRunbook = """
    name: chain
    steps:
      - { id: one, action: shell, with: { run: 'echo one >> log' } }
      - { id: two, needs: [one], action: shell, with: { run: 'echo two >> log; until [ -e release ]; do sleep 0.1; done' } }
      - { id: three, needs: [two], action: shell, with: { run: 'echo three >> log; sleep 1' } }
      - { id: four, needs: [three], action: shell, with: { run: 'echo four >> log' } }
    """

/// Alice (on laptop-a) runs the chain on `store`; returns once step two has started (it waits for `release()`).
private func chainUnderWay(_ store: SharedStore, environment: [String: String] = [:]) async throws -> (Operator, CommandRunner.Started) {
    let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
    try alice.write(runbook: "chain", chainRunbook)
    let driver = try alice.start(["run", "chain"], environment: environment)
    #expect(try await eventually(30) { alice.lines("log").contains("two") }, "\(driver.stderr)")
    return (alice, driver)
}

private func runID(_ started: CommandRunner.Started) -> String? {
    CommandResult(exitCode: 0, stdout: started.stdout, stderr: "").runID
}

/// Every `runbook` command on a shared PostgreSQL store (`--db postgres://…`), as operators on two machines use it.
@Suite(.serialized) struct PostgresStoreEndToEndTests {
    @Test func aColleagueOnAnotherMachineTakesOverAKilledDriverOnceItsLeaseIsStale() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let (alice, driver) = try await chainUnderWay(store)
        let bob = try Operator("bob", host: "bastion-b", store: store.url, password: store.server.password)
        defer { alice.remove(); bob.remove() }
        let id = try #require(runID(driver))
        kill(driver.process.processIdentifier, SIGKILL)
        await driver.exited()
        alice.release()

        let listed = try await bob.runbook(["runs"])
        #expect(listed.exitCode == 0 && listed.stdout.contains(id), "\(listed.stderr)")
        let refused = try await bob.runbook(["resume", id])
        #expect(refused.exitCode == 4, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains("alice@laptop-a pid \(driver.process.processIdentifier)"), "\(refused.stderr)")
        // Alice's heartbeat is fresh for 30 s after her driver died; from another host only staleness frees it.
        var resumed = refused
        let giveUp = Date().addingTimeInterval(75)
        while resumed.exitCode == 4 && Date() < giveUp {
            try await Task.sleep(for: .seconds(3))
            resumed = try await bob.runbook(["resume", id])
        }
        #expect(resumed.exitCode == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(alice.lines("log").filter { $0 == "one" } == ["one"], "a finished step is never run again")
        #expect(alice.lines("log").suffix(2) == ["three", "four"])

        let history = try await bob.runbook(["history", id])
        #expect(history.exitCode == 0)
        #expect(history.stdout.contains("started by alice@laptop-a"), "\(history.stdout)")
        #expect(history.stdout.contains("lease taken over from alice@laptop-a pid \(driver.process.processIdentifier) by bob@bastion-b pid "), "\(history.stdout)")
        let verify = try await bob.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("hash chain intact"))
    }

    @Test func twoProcessesResumingTheSameRunAtOnceOneDrivesTheOtherExits4() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let (alice, driver) = try await chainUnderWay(store)
        defer { alice.remove() }
        let id = try #require(runID(driver))
        kill(driver.process.processIdentifier, SIGKILL)
        await driver.exited()
        alice.release()
        // Same host, dead process: either resumer may take over at once, but only one of them.
        let first = try alice.start(["resume", id])
        let second = try alice.start(["resume", id])
        let codes = [await first.exited(), await second.exited()]
        #expect(codes.sorted() == [0, 4], "\(first.stderr) \(second.stderr)")
        let loser = codes[0] == 4 ? first : second
        let winner = codes[0] == 4 ? second : first
        #expect(loser.stderr.contains("being driven by another process (alice@laptop-a pid \(winner.process.processIdentifier))"), "\(loser.stderr)")
        #expect(alice.lines("log").filter { $0 == "four" } == ["four"])
        #expect(try await alice.runbook(["audit", "verify", id]).exitCode == 0)
    }

    @Test func aServerRestartMidRunIsRiddenOutWithoutApplyingAStepTwice() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let (alice, driver) = try await chainUnderWay(store)
        defer { alice.remove() }
        // Step two's checkpoint comes due while the server is down; the driver waits for it (20 s by default).
        store.server.crash()
        alice.release()
        try await Task.sleep(for: .seconds(4))
        try await store.server.restart()
        let code = await driver.exited()
        #expect(code == 0, "\(driver.stdout) \(driver.stderr)")
        #expect(alice.lines("log") == ["one", "two", "three", "four"], "no step effect applied twice")
        let id = try #require(runID(driver))
        #expect(try await alice.runbook(["audit", "verify", id]).exitCode == 0)
    }

    @Test func aServerGoneLongerThanTheRetryWindowInterruptsTheRunWhichResumes() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let (alice, driver) = try await chainUnderWay(store, environment: ["RUNBOOK_STORE_RETRY": "2s"])
        defer { alice.remove() }
        store.server.crash()
        alice.release()
        let code = await driver.exited()
        #expect(code == 5, "\(driver.stdout) \(driver.stderr)")
        let id = try #require(runID(driver))
        let said = driver.stderr
        #expect(said.contains("lost the connection to the run store postgres://runbook_test@127.0.0.1:\(store.server.port)/runbook_store"), "\(said)")
        #expect(said.contains("runbook resume \(id)"))
        #expect(!said.contains(store.server.password) && !said.contains("Fatal error"))
        try await store.server.restart()
        let resumed = try await alice.runbook(["resume", id])
        #expect(resumed.exitCode == 0, "\(resumed.stdout) \(resumed.stderr)")
        // Step one's checkpoint was committed before the server died: it never runs again. Step two's was
        // not, so resume runs it again, as after a crash.
        let log = alice.lines("log")
        #expect(log.filter { $0 == "one" }.count == 1 && log.suffix(2) == ["three", "four"], "\(log)")
        #expect(try await alice.runbook(["audit", "verify", id]).exitCode == 0)
    }

    @Test func aDriverCutOffFromTheStoreDuringALongStepStopsItBeforeItsLeaseCouldBeTaken() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
        defer { alice.remove() }
        try alice.write(runbook: "long", """
            name: long
            steps:
              - { id: soak, action: shell, with: { run: 'echo started >> log; sleep 60; echo finished >> log' } }
            """)
        let driver = try alice.start(["run", "long"], environment: ["RUNBOOK_STORE_RETRY": "3s"])
        #expect(try await eventually(30) { alice.lines("log") == ["started"] })
        store.server.crash()
        let started = Date()
        let code = await driver.exited()
        #expect(code == 5, "\(driver.stderr)")
        #expect(Date().timeIntervalSince(started) < 25, "stopped well before a colleague's takeover (30 s), not after the step")
        #expect(driver.stderr.contains("so its lease could not be kept; its steps were stopped"), "\(driver.stderr)")
        try await Task.sleep(for: .seconds(1))
        #expect(alice.lines("log") == ["started"], "the step's process was stopped with its driver")
    }

    @Test func auditVerifyNamesAnEventEditedBySuperuserWithTheTriggerDropped() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
        defer { alice.remove() }
        try alice.write(runbook: "small", """
            name: small
            steps:
              - { id: a, action: shell, with: { run: 'echo "state=ok" >> "$RUNBOOK_OUTPUT"' } }
            """)
        let result = try await alice.runbook(["run", "small", "--json"])
        let id = try #require(result.json?["id"] as? String, "\(result.stderr)")
        #expect(try await alice.runbook(["audit", "verify"]).exitCode == 0)
        let seq = try store.admin("SELECT seq FROM runbook.events WHERE kind = 'step_succeeded'")
        #expect(Int(seq) ?? 0 > 0)
        // The application role may not edit events; the trigger says so even to the superuser.
        #expect(throws: (any Error).self) { try store.admin("UPDATE runbook.events SET detail = '{}' WHERE seq = \(seq)") }
        try store.admin("DROP TRIGGER events_are_append_only ON runbook.events; UPDATE runbook.events SET detail = '{\"state\":\"forged\"}' WHERE seq = \(seq)")
        let verify = try await alice.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 1)
        #expect(verify.stderr.contains("event #\(seq) (step_succeeded)"), "\(verify.stderr)")
        let export = try await alice.runbook(["audit", "export", id, "--format", "json"])
        #expect(export.exitCode == 1)
        #expect(export.stdout.contains("\"intact\" : false"))
    }

    @Test func aBadURLAnUnreachableServerOrAWrongPasswordIsOneSentenceAndExit2() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: "wrong-password-123")
        defer { alice.remove() }
        try alice.write(runbook: "small", "name: small\nsteps:\n  - { id: a, action: pass }\n")
        let closedPort = try FreePort.pick()
        let cases: [(db: String, says: String)] = [
            ("postgres://127.0.0.1:\(store.server.port)/runbook_store", "names no user"),
            ("postgres://alice:hunter2-secret@127.0.0.1/runbook_store", "carries a password"),
            ("postgres://alice@db.example.com:5432/runbook_store", "needs sslrootcert=FILE"),
            ("postgres://alice@db.example.com/runbook_store?sslmode=disable", "plaintext is allowed only to this machine"),
            ("postgres://alice@127.0.0.1:\(closedPort)/runbook_store", "127.0.0.1:\(closedPort)"),
            (store.url, "password authentication failed"),
        ]
        for (db, says) in cases {
            for arguments in [["runs"], ["run", "small"]] {
                let result = try await alice.runbook(arguments, db: db)
                #expect(result.exitCode == 2, "\(db) \(arguments): \(result.stdout) \(result.stderr)")
                #expect(result.stderr.contains(says), "\(db): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
                #expect(!result.stderr.contains("hunter2-secret") && !result.stderr.contains("wrong-password-123"))
                #expect(!result.stdout.contains("run "), "no run was started: \(result.stdout)")
            }
        }
        let empty = try Operator("carol", host: "laptop-c", store: store.url, password: store.server.password)
        defer { empty.remove() }
        let nothing = try await empty.runbook(["runs"])
        #expect(nothing.exitCode == 2)
        #expect(nothing.stderr.contains("no runbook store in postgres://runbook_test@127.0.0.1:\(store.server.port)/runbook_store"), "\(nothing.stderr)")
    }

    @Test func thePasswordFileIsUsedOnlyWhenOnlyItsOwnerMayReadIt() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: nil)
        defer { alice.remove() }
        try alice.write(runbook: "small", "name: small\nsteps:\n  - { id: a, action: pass }\n")
        let passfile = alice.home + "/.pgpass"
        let escapedPassword = store.server.password.replacingOccurrences(of: ":", with: "\\:")
        try "# team store\nother-host:5432:*:*:nope\n127.0.0.1:\(store.server.port):runbook_store:runbook_test:\(escapedPassword)\n"
            .write(toFile: passfile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passfile)
        let ignored = try await alice.runbook(["run", "small"])
        #expect(ignored.exitCode == 2)
        #expect(ignored.stderr.contains("the password file \(passfile) may be read by group or others; it was ignored"), "\(ignored.stderr)")
        #expect(ignored.stderr.contains("no password was given"), "\(ignored.stderr)")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passfile)
        let used = try await alice.runbook(["run", "small"])
        #expect(used.exitCode == 0, "\(used.stderr)")
        #expect(!used.stdout.contains(store.server.password) && !used.stderr.contains(store.server.password))
    }

    @Test func storeCopyMovesRunsWithTheirHashesAndNeverOverwritesOne() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
        defer { alice.remove() }
        let laptop = alice.root + "/laptop.sqlite"
        try alice.write(runbook: "gated", """
            name: gated
            steps:
              - { id: check, action: shell, with: { run: 'echo "checked=yes" >> "$RUNBOOK_OUTPUT"' } }
              - { id: go, needs: [check], approval: required, action: shell, with: { run: 'echo went >> log' } }
            """)
        let finished = try await alice.runbook(["run", "gated", "--yes", "--json"], db: laptop)
        let paused = try await alice.runbook(["run", "gated", "--json"], db: laptop)
        #expect(paused.exitCode == 3)
        let ids = [try #require(finished.json?["id"] as? String), try #require(paused.json?["id"] as? String)]
        let initialized = try await alice.runbook(["store", "init"])
        #expect(initialized.exitCode == 0 && initialized.stdout.contains("the run store \(store.url) is ready (schema runbook, version 2)"),
                "\(initialized.stdout) \(initialized.stderr)")
        #expect(try await alice.runbook(["store", "init"], db: laptop).exitCode == 2, "store init is for PostgreSQL stores")
        let copied = try await alice.plain(["store", "copy", "--from", laptop, "--to", store.url])
        #expect(copied.exitCode == 0, "\(copied.stderr)")
        #expect(copied.stdout.contains("copied 2 of 2 runs"), "\(copied.stdout)")
        for id in ids {
            let here = try await alice.runbook(["history", id, "--json"], db: laptop)
            let there = try await alice.runbook(["history", id, "--json"])
            let hashes = { (result: CommandResult) in ((result.json?["events"] as? [[String: Any]]) ?? []).compactMap { $0["hash"] as? String } }
            #expect(!hashes(here).isEmpty && hashes(here) == hashes(there), "\(there.stderr)")
            let verify = try await alice.runbook(["audit", "verify", id])
            #expect(verify.exitCode == 0, "\(verify.stderr)")
        }
        // The paused run goes on from the shared store.
        let approved = try await alice.runbook(["approve", ids[1], "go"])
        #expect(approved.exitCode == 0, "\(approved.stderr)")
        #expect(alice.lines("log") == ["went", "went"], "once for the run started with --yes, once for the approved one")
        let again = try await alice.plain(["store", "copy", "--from", laptop, "--to", store.url])
        #expect(again.exitCode == 1)
        #expect(again.stderr.contains("run \(ids[1]) was not copied: \(store.url) already has a run \(ids[1]) (a run is never overwritten)"), "\(again.stderr)")
        let after = try await alice.runbook(["history", ids[1], "--json"])
        #expect((after.json?["run"] as? [String: Any])?["status"] as? String == "succeeded", "the copy in the store was not overwritten")
    }
}

/// Shell steps with parallel branches that each leave an idempotent mark in `ledger` and count real executions in `raw`.
private let killableRunbook = """
    name: killable
    steps:
    \((["a", "b", "c", "d", "e", "f"]).map { id in
        let needs = ["a": "[]", "b": "[a]", "c": "[a]", "d": "[b, c]", "e": "[d]", "f": "[e]"][id] ?? "[]"
        return """
          - id: \(id)
            needs: \(needs)
            action: shell
            with:
              run: 'sleep 1; echo "$STEP" >> raw; grep -qx "$STEP" ledger 2>/dev/null || echo "$STEP" >> ledger'
              env: { STEP: \(id) }
        """
    }.joined(separator: "\n"))
    """

extension PostgresStoreEndToEndTests {
    /// The SIGKILL test of the SQLite store, on the PostgreSQL store: killed at moments spread over the run and
    /// resumed each time, the run ends with every step's effect exactly once and its history intact.
    @Test func sigkillAtRandomMomentsThenResumeFinishesExactlyOnceInEffect() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
        defer { alice.remove() }
        try alice.write(runbook: "killable", killableRunbook)
        var current = try alice.start(["run", "killable"])
        #expect(try await eventually(30) { runID(current) != nil }, "\(current.stderr)")
        let id = try #require(runID(current))
        var kills = 0
        for progress in [0, 2, 4] {
            _ = try await eventually(30) { alice.lines("ledger").count >= progress || !isAlive(current) }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...600)))
            if !isAlive(current) { break }
            kill(current.process.processIdentifier, SIGKILL)
            await current.exited()
            kills += 1
            current = try alice.start(["resume", id])
        }
        await current.exited()
        var final = try await alice.runbook(["resume", id, "--json"])
        if final.json?["already_finished"] == nil { final = try await alice.runbook(["resume", id, "--json"]) }
        #expect(final.exitCode == 0, "\(final.stderr)")
        #expect(final.json?["status"] as? String == "succeeded")
        #expect(alice.lines("ledger").sorted() == ["a", "b", "c", "d", "e", "f"])
        #expect(kills >= 2)
        let verify = try await alice.runbook(["audit", "verify", id])
        #expect(verify.exitCode == 0, "\(verify.stderr)")
    }
}

/// The incident the shared store is for: the operator driving promote-secondary against AWS loses their machine in
/// the middle of the promotion; a colleague on another machine sees the run, waits for the lease to go stale,
/// resumes it and finishes the failover, promoted once.
@Suite(.serialized) struct PostgresStoreFailoverTakeoverTests {
    @Test func aPromotionWhoseDriverDiedIsFinishedByAColleagueOnAnotherMachine() async throws {
        let store = try await SharedStore.start()
        defer { store.stop() }
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.dedicated("pg-store-takeover"))
        defer { h.directory.remove() }
        let aws = h.emulator.environment
        let alice = try Operator("alice", host: "laptop-a", store: store.url, password: store.server.password)
        let bob = try Operator("bob", host: "bastion-b", store: store.url, password: store.server.password)
        defer { alice.remove(); bob.remove() }
        for runbook in ["provision", "promote-secondary"] {
            try alice.write(runbook: runbook, try String(contentsOfFile: h.runbooks + "/\(runbook).yaml", encoding: .utf8))
        }
        let name = LocalAWSEmulator.uniqueName("pt"), zone = "\(name).internal"
        let params = ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=200ms"]
        let provisioned = try await alice.runbook(["run", "provision"] + params, environment: aws)
        try #require(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        try await h.withAWS { aws in
            try await aws.cloudWatch(region: "us-west-2").putMetricData(namespace: "AWS/RDS", data: [
                .init(metricName: "ReplicaLag", value: 0, unit: "Seconds", dimensions: [.init("DBInstanceIdentifier", name + "-replica")]),
            ])
        }
        try await h.setTransitions(times: 60)  // the promotion takes 60 polls of 1 s: it outlasts the lease
        let driver = try alice.start(["run", "promote-secondary", "--yes", "--param", "measure=false", "--param", "outage_poll_interval=1s"] + params,
                                     environment: aws)
        #expect(try await eventually(60) { driver.stdout.contains("step promote started") }, "\(driver.stdout)\(driver.stderr)")
        let id = try #require(runID(driver))
        kill(driver.process.processIdentifier, SIGKILL)
        await driver.exited()

        #expect(try await bob.runbook(["runs"]).stdout.contains(id), "bob sees alice's run in the shared store")
        let refused = try await bob.runbook(["resume", id], environment: aws)
        #expect(refused.exitCode == 4 && refused.stderr.contains("alice@laptop-a"), "\(refused.stdout) \(refused.stderr)")
        var resumed = refused
        let giveUp = Date().addingTimeInterval(120)
        while resumed.exitCode == 4 && Date() < giveUp {
            try await Task.sleep(for: .seconds(3))
            resumed = try await bob.runbook(["resume", id, "--json"], environment: aws)
        }
        #expect(resumed.exitCode == 0 && resumed.json?["status"] as? String == "succeeded", "\(resumed.stdout) \(resumed.stderr)")
        let history = try await bob.runbook(["history", id])
        #expect(history.stdout.contains("lease taken over from alice@laptop-a pid \(driver.process.processIdentifier) by bob@bastion-b"), "\(history.stdout)")
        #expect(try await bob.runbook(["audit", "verify", id]).exitCode == 0)
        let instances = try await h.withAWS { aws in
            try await aws.rds(region: "us-west-2").describeDBInstances().items.filter { $0.identifier.hasPrefix(name) }
        }
        #expect(instances.count == 1 && instances.first?.readReplicaSourceDBInstanceIdentifier == nil, "promoted once, in place")
        let records = try await h.state(name, zone: zone).filter { $0.hasPrefix("record ") }
        #expect(records.contains { $0.hasPrefix("record db.NAME.internal. db-primary PRIMARY NAME-replica.") }, "\(records)")
    }
}
