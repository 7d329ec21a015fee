import Foundation
import PostgresNIO
@testable import RunbookPostgresStore
import RunbookEngine
import RunbookStoreContract
import RunbookTestSupport
import Testing

private let me = ActorIdentity.current()

private func newRun(_ id: String) -> (RunRecord, NewEvent) {
    let run = RunRecord(id: id, runbook: "store", definition: "name: store", definitionHash: AuditChain.sha256Hex("name: store"),
                        origin: "store.yaml", parameters: [:], providedSecrets: [], options: RunOptions(workingDirectory: "/tmp"),
                        status: .running, createdAt: 1_000, startedBy: me)
    let created = NewEvent(kind: .runCreated, detail: [
        "runbook": run.runbook, "definition_hash": run.definitionHash, "parameters": AuditChain.canonicalParameters(run.parameters),
        "started_by": run.startedBy.description,
    ], at: 1_000, actor: me)
    return (run, created)
}

@discardableResult
private func create(_ store: PostgresRunStore, _ id: String, holder: ActorIdentity = me, heartbeat: Int64 = 1_000) async throws -> Lease {
    let (run, created) = newRun(id)
    let lease = Lease(runID: id, token: UUID().uuidString, holder: holder, heartbeatAt: heartbeat)
    try await store.createRun(run, steps: [StepRecord(runID: id, stepID: "a")], lease: lease, events: [created])
    return lease
}

private func step(_ id: String, _ seq: Int64) -> RunChanges {
    RunChanges(steps: [StepRecord(runID: id, stepID: "a", status: .running, attempts: Int(seq))],
               events: [NewEvent(stepID: "a", attempt: Int(seq), kind: .attemptStarted, at: 2_000 + seq, actor: me)])
}

/// What the PostgreSQL store adds to the contract: its schema's versioning, append-only events enforced by
/// the server, fencing numbers, and writes that survive a lost connection without being applied twice.
@Suite(.serialized) struct PostgresStoreTests {
    @Test func aRunbookSchemaMadeBySomeoneElseIsRefusedAndLeftUntouched() async throws {
        try await StoreServer.with { server in
            try server.admin("CREATE SCHEMA runbook AUTHORIZATION runbook_test; CREATE TABLE runbook.theirs (x int); INSERT INTO runbook.theirs VALUES (7)")
            let error = #expect(throws: PostgresStoreError.self) { try server.open() }
            #expect(error?.message.contains("has a schema named runbook that runbook did not make") == true, "\(error?.message ?? "")")
            #expect(error?.exitCode == ExitCodes.usage)
            #expect(try server.admin("SELECT x FROM runbook.theirs") == "7")
            #expect(try server.admin("SELECT count(*) FROM pg_tables WHERE schemaname = 'runbook'") == "1")
        }
    }

    @Test func aStoreWrittenByANewerRunbookIsRefused() async throws {
        try await StoreServer.with { server in
            _ = try server.open()
            try server.admin("UPDATE runbook.schema_info SET version = 99")
            let error = #expect(throws: PostgresStoreError.self) { try server.open() }
            #expect(error?.message.contains("written by a newer runbook (schema version 99; this runbook knows up to \(PostgresSchema.currentVersion))") == true, "\(error?.message ?? "")")
            #expect(try server.admin("SELECT version FROM runbook.schema_info") == "99")
        }
    }

    @Test func aMigrationThatFailsHalfwayLeavesNoTrace() async throws {
        try await StoreServer.with { server in
            let url = try PostgresStoreURL(server.url, home: "/nonexistent")
            let link = StoreLink(target: url.target(password: server.server.password), place: url.description)
            let broken = [PostgresSchema.migrations[0] + ["SELECT 1/0"]]
            #expect(throws: (any Error).self) {
                try link.openBlocking { run in try PostgresSchema.migrate(place: url.description, create: true, migrations: broken, run: run) }
            }
            #expect(try server.admin("SELECT to_regnamespace('runbook') IS NULL") == "t", "nothing of the migration stayed")
            // The same database then migrates cleanly.
            let store = try server.open()
            try await create(store, "r1")
            #expect(try server.admin("SELECT application || ' ' || version FROM runbook.schema_info") == "runbook \(PostgresSchema.currentVersion)")
        }
    }

    @Test func aVersion1StoreIsUpgradedInPlaceAndItsRunsGoOn() async throws {
        try await StoreServer.with { server in
            let url = try PostgresStoreURL(server.url, home: "/nonexistent")
            let link = StoreLink(target: url.target(password: server.server.password), place: url.description)
            try link.openBlocking { run in
                try PostgresSchema.migrate(place: url.description, create: true, migrations: Array(PostgresSchema.migrations.prefix(1)), run: run)
            }
            #expect(try server.admin("SELECT version FROM runbook.schema_info") == "1")
            let store = try server.open()
            #expect(try server.admin("SELECT version FROM runbook.schema_info") == "\(PostgresSchema.currentVersion)")
            let lease = try await create(store, "r1")
            try await store.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            let events = try await store.events(runID: "r1")
            #expect(events.map(\.kind) == ["run_created", "attempt_started"])
            #expect(AuditChain.verify(run: try await store.run(id: "r1"), events: events) == nil)
        }
    }

    /// A driver links a checkpoint's events to the head its own last write left; when another process wrote
    /// to the run in between (an approval, a cancel request), the server refuses that link and the driver reads
    /// the head and the cancel flag first: the chain stays linear and a cancelled run launches nothing.
    @Test func aCheckpointAfterAnotherProcessWroteToTheRunIsLinkedToItsEvent() async throws {
        try await StoreServer.with { server in
            let driver = try server.open()
            let colleague = try server.open()
            let lease = try await create(driver, "r1")
            try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            try await colleague.appendUnleased(runID: "r1", steps: [], events: [NewEvent(stepID: "a", kind: .stepApproved, at: 3_000, actor: me)])
            try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 2))
            try await colleague.requestCancel(runID: "r1", event: NewEvent(kind: .cancelRequested, at: 4_000, actor: me))
            let cancelSeen = try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 3), launching: step("r1", 4))
            #expect(cancelSeen)
            try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 5))
            let events = try await driver.events(runID: "r1")
            #expect(events.map(\.kind) == ["run_created", "attempt_started", "step_approved", "attempt_started", "cancel_requested",
                                           "attempt_started", "attempt_started"])
            #expect(events.compactMap(\.attempt) == [1, 2, 3, 5], "the launch refused by the cancel left nothing")
            #expect(AuditChain.verify(run: try await driver.run(id: "r1"), events: events) == nil)
            #expect(try await driver.steps(runID: "r1").first?.attempts == 5)
        }
    }

    /// The one-call checkpoint reads the cancel flag itself, not only the chain's head (a cancel request moves
    /// both): a flag set behind runbook's back, with no event, still refuses the launches.
    @Test func theOneCallCheckpointRefusesLaunchesOfARunWhoseCancelFlagIsSet() async throws {
        try await StoreServer.with { server in
            let driver = try server.open()
            let lease = try await create(driver, "r1")
            try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            try server.admin("UPDATE runbook.runs SET cancel_requested = true WHERE id = 'r1'")
            let cancelSeen = try await driver.commit(runID: "r1", leaseToken: lease.token, step("r1", 2), launching: step("r1", 3))
            #expect(cancelSeen)
            let events = try await driver.events(runID: "r1")
            #expect(events.compactMap(\.attempt) == [1, 2], "the refused launch left nothing")
            // A flag with no cancel_requested event is not something runbook writes: the audit names it.
            let problem = AuditChain.verify(run: try await driver.run(id: "r1"), events: events).map { String(describing: $0) } ?? ""
            #expect(problem.contains("cancel request flag does not match its history"), "\(problem)")
        }
    }

    @Test func eventsCannotBeUpdatedDeletedOrTruncatedEvenByTheirOwner() async throws {
        try await StoreServer.with { server in
            let store = try server.open()
            try await create(store, "r1")
            for statement in ["UPDATE runbook.events SET kind = 'x'", "DELETE FROM runbook.events", "TRUNCATE runbook.events CASCADE",
                              "DELETE FROM runbook.runs", "UPDATE runbook.runs SET parameters = '{}'"] {
                let refused = await #expect(throws: (any Error).self) {
                    try await store.link.withConnection { _ = try await $0.rows(PostgresQuery(unsafeSQL: statement)) }
                }
                let text = String(reflecting: refused.map { DatabaseErrorText.of($0) } ?? "")
                #expect(text.contains("refused") || text.contains("immutable"), "\(statement): \(text)")
            }
            #expect(try await store.events(runID: "r1").count == 1)
        }
    }

    @Test func everyClaimOfALeaseRaisesItsFencingNumber() async throws {
        try await StoreServer.with { server in
            let store = try server.open()
            let colleague = ActorIdentity(user: "colleague", host: "elsewhere.example", pid: 42)
            try await create(store, "r1", holder: colleague, heartbeat: 0)
            #expect(try server.admin("SELECT fence FROM runbook.leases") == "1")
            let mine = try await store.acquireLease(runID: "r1", holder: colleague, staleAfter: 30_000, now: 60_000)
            #expect(mine.replaced?.holder == colleague)
            let again = try await store.acquireLease(runID: "r1", holder: me, staleAfter: 30_000, now: 100_000)
            #expect(again.replaced?.token == mine.lease.token)
            #expect(try server.admin("SELECT fence FROM runbook.leases") == "3")
            try await store.releaseLease(runID: "r1", leaseToken: again.lease.token)
            #expect(try await store.lease(runID: "r1") == nil)
            let after = try await store.acquireLease(runID: "r1", holder: me, staleAfter: 30_000, now: 100_001)
            #expect(after.replaced == nil)
            #expect(try server.admin("SELECT fence || ' ' || holder_user FROM runbook.leases") == "4 \(me.user)")
        }
    }

    /// The set-up in docs/postgres-store.md, statement by statement: the owner creates the schema, the
    /// application role then drives runs but can neither edit events nor disable the trigger.
    @Test func theDocumentedGrantsLetTheApplicationRoleDriveRunsButNotRewriteHistory() async throws {
        try await StoreServer.with { server in
            let docs = try String(contentsOfFile: RunbookBinary.repositoryRoot() + "/docs/postgres-store.md", encoding: .utf8)
            let blocks = docs.components(separatedBy: "```sql\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
            try #require(blocks.count == 2, "the set-up and the grants")
            let ownerPassword = "owner-\(UUID().uuidString.prefix(8))"
            let appPassword = "app-\(UUID().uuidString.prefix(8))"
            func statements(_ block: String) -> [String] {
                block.replacingOccurrences(of: "change-me-owner", with: ownerPassword).replacingOccurrences(of: "change-me-app", with: appPassword)
                    .components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            }
            for statement in statements(blocks[0]) { try server.server.admin(statement) }
            let port = server.server.port
            let owner = try PostgresStoreURL("postgres://runbook_owner@127.0.0.1:\(port)/runbook", home: "/nonexistent")
            _ = try PostgresRunStore(url: owner, password: ownerPassword, create: true)
            for statement in statements(blocks[1]) { try server.server.admin(database: "runbook", statement) }
            let app = try PostgresRunStore(url: try PostgresStoreURL("postgres://runbook_app@127.0.0.1:\(port)/runbook", home: "/nonexistent"),
                                           password: appPassword, create: false)
            try await RunStoreContract.everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords(app)
            try await RunStoreContract.aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt(app)
            try await RunStoreContract.runIDPrefixesResolveByOneRule(app)
            for (statement, says) in [("ALTER TABLE runbook.events DISABLE TRIGGER ALL", "must be owner"),
                                      ("UPDATE runbook.events SET kind = 'x'", "permission denied"),
                                      ("DELETE FROM runbook.events", "permission denied"),
                                      ("UPDATE runbook.definitions SET source = ''", "permission denied")] {
                let refused = await #expect(throws: (any Error).self) {
                    try await app.link.withConnection { _ = try await $0.rows(PostgresQuery(unsafeSQL: statement)) }
                }
                #expect(refused.map { DatabaseErrorText.of($0) }?.contains(says) == true, "\(statement): \(refused.map { DatabaseErrorText.of($0) } ?? "")")
            }
        }
    }

    /// The COMMIT reached the server but its reply did not come back (the server died right after): the
    /// write is retried on a new connection, finds its receipt, and is not applied again.
    @Test func aWriteWhoseCommitReplyWasLostIsNotAppliedTwice() async throws {
        try await StoreServer.with { server in
            let store = try server.open()
            let lease = try await create(store, "r1")
            store.link.faults.loseCommitReplies(1)
            try await store.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            store.link.faults.loseCommitReplies(1)
            let cancelSeen = try await store.commit(runID: "r1", leaseToken: lease.token, step("r1", 2), launching: step("r1", 3))
            #expect(!cancelSeen)
            store.link.faults.loseCommitReplies(1)
            try await store.appendUnleased(runID: "r1", steps: [], events: [NewEvent(stepID: "a", kind: .stepApproved, at: 3_000, actor: me)])
            store.link.faults.loseCommitReplies(1)
            let claim = try await store.acquireLease(runID: "r1", holder: me, staleAfter: -1, now: 4_000)
            #expect(claim.replaced?.token == lease.token)
            #expect(try await store.lease(runID: "r1")?.token == claim.lease.token)
            let (second, created) = newRun("r2")
            store.link.faults.loseCommitReplies(1)
            try await store.createRun(second, steps: [], lease: Lease(runID: "r2", token: "t2", holder: me, heartbeatAt: 1), events: [created])
            let events = try await store.events(runID: "r1")
            #expect(events.map(\.kind) == ["run_created", "attempt_started", "attempt_started", "attempt_started", "step_approved"])
            #expect(AuditChain.verify(run: try await store.run(id: "r1"), events: events) == nil)
            #expect(try await store.events(runID: "r2").count == 1)
        }
    }

    @Test func aWriteGivesUpAfterItsRetryWindowAndTheStoreReconnectsLater() async throws {
        try await StoreServer.with { server in
            let store = try server.open(retryWindow: .seconds(1))
            let lease = try await create(store, "r1")
            server.server.crash()
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresStoreError.self) {
                try await store.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            }
            #expect(ContinuousClock.now - started < .seconds(15), "bounded, never a hang")
            #expect(error?.exitCode == ExitCodes.interrupted)
            #expect(error?.message.contains("lost the connection to the run store postgres://runbook_test@127.0.0.1:\(server.server.port)/runbook_store") == true,
                    "\(error?.message ?? "")")
            #expect(error?.message.contains(server.server.password) == false)
            let read = await #expect(throws: PostgresStoreError.self) { try await store.runs(limit: 5) }
            #expect(read?.exitCode == ExitCodes.usage)
            try await server.server.restart()
            try await store.commit(runID: "r1", leaseToken: lease.token, step("r1", 1))
            #expect(try await store.events(runID: "r1").count == 2)
        }
    }

    /// From another host a lease is taken over once its heartbeat is 30 s old: a driver that cannot refresh
    /// it for its retry window (at most 20 s) is told to stop (exit 5), so its steps are not still running then.
    @Test func aDriverThatCannotRefreshItsLeaseIsToldToStop() async throws {
        try await StoreServer.with { server in
            let store = try server.open(retryWindow: .seconds(1))
            let lease = try await create(store, "r1")
            #expect(try await store.heartbeat(runID: "r1", leaseToken: lease.token, now: 2_000) == false)
            server.server.crash()
            let started = ContinuousClock.now
            var told: PostgresStoreError?
            while told == nil && ContinuousClock.now - started < .seconds(20) {
                do {
                    _ = try await store.heartbeat(runID: "r1", leaseToken: lease.token, now: 3_000)
                } catch let error as PostgresStoreError where error.exitCode == ExitCodes.interrupted {
                    told = error
                } catch {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(told?.message.contains("while driving run r1, so its lease could not be kept") == true, "\(told?.message ?? "never told")")
        }
    }

    /// Ctrl-C cancels the driving task, which then records the run as interrupted: that write must commit.
    @Test func aCancelledCallerStillCommitsItsCheckpoint() async throws {
        try await StoreServer.with { server in
            let store = try server.open()
            let lease = try await create(store, "r1")
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await store.commit(runID: "r1", leaseToken: lease.token, RunChanges(runStatus: .interrupted))
            }
            try await task.value
            #expect(try await store.run(id: "r1")?.status == .interrupted)
        }
    }
}

/// The text of an error as a user would see it.
enum DatabaseErrorText {
    static func of(_ error: any Error) -> String {
        if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] { return message }
        return String(describing: error)
    }
}

/// URLs and the password file, read as libpq reads them.
@Suite struct StoreURLTests {
    @Test func aURLNamesUserHostPortDatabaseAndTLS() throws {
        let local = try PostgresStoreURL("postgres://runbook%40ops@127.0.0.1:6543/runs", home: "/nonexistent")
        #expect(local.user == "runbook@ops" && local.host == "127.0.0.1" && local.port == 6543 && local.database == "runs")
        #expect(local.caBundlePath == nil, "plaintext to loopback by default")
        #expect(local.description == "postgres://runbook@ops@127.0.0.1:6543/runs")
        let remote = try PostgresStoreURL("postgresql://app@db.example.com/runs?sslmode=verify-full&sslrootcert=~/ca.pem", home: "/home/op")
        #expect(remote.port == 5432 && remote.caBundlePath == "/home/op/ca.pem")
        let ipv6 = try PostgresStoreURL("postgres://app@[::1]:5433/runs", home: "/nonexistent")
        #expect(ipv6.host == "::1" && ipv6.description == "postgres://app@[::1]:5433/runs")
    }

    @Test func aURLThatCannotBeUsedSafelyIsRefusedInASentence() {
        let cases: [(String, String)] = [
            ("postgres://app:s3cret-pw@127.0.0.1/runs", "carries a password"),
            ("postgres://127.0.0.1/runs", "names no user"),
            ("postgres://app@127.0.0.1", "names no database"),
            ("postgres://app@db.example.com/runs", "needs sslrootcert=FILE"),
            ("postgres://app@db.example.com/runs?sslmode=require", "asks for sslmode=require"),
            ("postgres://app@db.example.com/runs?sslmode=disable", "plaintext is allowed only to this machine"),
            ("postgres://app@127.0.0.1/runs?application_name=x", "parameter 'application_name'"),
        ]
        for (text, says) in cases {
            let error = #expect(throws: PostgresStoreError.self) { try PostgresStoreURL(text, home: "/nonexistent") }
            #expect(error?.message.contains(says) == true, "\(text): \(error?.message ?? "")")
            #expect(error?.message.contains("s3cret-pw") == false)
        }
    }

    @Test func thePasswordFileFollowsLibpqsRules() {
        let file = """
            # comment:lines:are:skipped:x
            db.example.com:5432:other:app:wrong-database
            db.example.com:*:runs:app:pa\\:ss\\\\word:ignored
            *:*:*:app:fallback
            short:line
            """
        #expect(PassFile.match(file, host: "db.example.com", port: 5432, database: "runs", user: "app") == "pa:ss\\word")
        #expect(PassFile.match(file, host: "db.example.com", port: 5432, database: "other", user: "app") == "wrong-database")
        #expect(PassFile.match(file, host: "elsewhere", port: 1, database: "x", user: "app") == "fallback")
        #expect(PassFile.match(file, host: "elsewhere", port: 1, database: "x", user: "someone") == nil)
    }

    @Test func PGPASSWORDComesFirstAndAReadablePasswordFileIsIgnored() throws {
        let home = NSTemporaryDirectory() + "runbook-pgpass-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let url = try PostgresStoreURL("postgres://app@127.0.0.1/runs", home: home)
        try "127.0.0.1:5432:runs:app:from-file\n".write(toFile: home + "/.pgpass", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: home + "/.pgpass")
        let loose = PasswordLookup.password(for: url, environment: [:], home: home)
        #expect(loose.password == nil && loose.warnings.first?.contains("may be read by group or others; it was ignored") == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: home + "/.pgpass")
        #expect(PasswordLookup.password(for: url, environment: [:], home: home).password == "from-file")
        #expect(PasswordLookup.password(for: url, environment: ["PGPASSWORD": "from-env"], home: home).password == "from-env")
        #expect(PasswordLookup.password(for: url, environment: ["PGPASSFILE": home + "/none"], home: home).password == nil)
    }
}
