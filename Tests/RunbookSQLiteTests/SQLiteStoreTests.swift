import CSQLite
import Foundation
import RunbookEngine
import Testing
@testable import RunbookSQLite

/// A fresh directory per test.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "runbook-sqlite-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Raw access with the sqlite3 C API, as someone with the sqlite3 shell would have.
func rawExecute(_ path: String, _ sql: String) -> (ok: Bool, message: String) {
    var db: OpaquePointer?
    guard sqlite3_open(path, &db) == SQLITE_OK else { return (false, "open failed") }
    defer { sqlite3_close(db) }
    // A store the test has just let go of may still be closing (its last checkpoint) on its own thread.
    sqlite3_busy_timeout(db, 10_000)
    var error: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(db, sql, nil, nil, &error)
    let message = error.map { String(cString: $0) } ?? ""
    sqlite3_free(error)
    return (rc == SQLITE_OK, message)
}

/// `echo`: outputs its `value` input.
struct EchoAction: StepAction {
    var name: String { "echo" }
    var summary: String { "outputs its value" }
    var inputs: [ActionInputSpec] { [ActionInputSpec("value", required: true), ActionInputSpec("fail")] }
    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        if invocation.string("fail") == "true" { throw ActionFailure("refused: \(invocation.string("value") ?? "")", retryable: false) }
        return ["value": try invocation.requiredString("value")]
    }
}

func runEngine(store: SQLiteRunStore, yaml: String, parameters: [String: String] = [:]) async throws -> RunOutcome {
    let registry = ActionRegistry([EchoAction()])
    let engine = RunEngine(environment: EngineEnvironment(store: store, registry: registry))
    let definition = try RunbookParser.parse(source: yaml, file: "test.yaml", registry: registry)
    let resolved = try ParameterResolver.resolve(definition: definition, provided: parameters)
    return try await engine.start(definition: definition, parameters: resolved, options: RunOptions(workingDirectory: "/tmp"))
}

@Suite struct SQLiteStoreTests {
    @Test func createsTheDatabaseAndItsDirectoryPrivately() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("state/runbook/runbook.sqlite")
        _ = try SQLiteRunStore(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let directory = try FileManager.default.attributesOfItem(atPath: scratch.file("state/runbook"))
        #expect((directory[.posixPermissions] as? Int) == 0o700)
        #expect(rawExecute(path, "SELECT 1").ok)
    }

    @Test func refusesADatabaseFromANewerRunbookAndLeavesItUntouched() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        _ = try SQLiteRunStore(path: path)
        #expect(rawExecute(path, "PRAGMA user_version = 99").ok)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteRunStore(path: path)
        } throws: { error in
            (error as? DatabaseOpenError)?.message.contains("newer runbook (schema version 99") == true
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func refusesAFileThatIsNotSQLite() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("notes.sqlite")
        try Data("these are my notes, not a database\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteRunStore(path: path)
        } throws: { error in
            (error as? DatabaseOpenError)?.message.contains("is not a runbook database") == true
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "these are my notes, not a database\n")
    }

    @Test func refusesAnotherProgramsSQLiteDatabase() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("other.sqlite")
        #expect(rawExecute(path, "CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);").ok)
        #expect {
            _ = try SQLiteRunStore(path: path)
        } throws: { error in
            (error as? DatabaseOpenError)?.message.contains("another program") == true
        }
        #expect(rawExecute(path, "SELECT count(*) FROM invoices").ok)
        #expect(!rawExecute(path, "SELECT count(*) FROM runs").ok)
    }

    @Test func usesWALAndFullSynchronousCommits() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = try SQLiteRunStore(path: scratch.file("db.sqlite"))
        let mode = try store.connectionForTests { try $0.query("PRAGMA journal_mode") { $0.text(0) }.first }
        let sync = try store.connectionForTests { try $0.scalarInt("PRAGMA synchronous") }
        #expect(mode == "wal")
        #expect(sync == 2)
    }

    @Test func auditEventsAreAppendOnly() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        let store = try SQLiteRunStore(path: path)
        let outcome = try await runEngine(store: store, yaml: """
            name: test
            steps:
              - { id: a, action: echo, with: { value: one } }
            """)
        #expect(outcome.run.status == .succeeded)
        let update = rawExecute(path, "UPDATE events SET detail = '{}' WHERE seq = 1")
        #expect(!update.ok)
        #expect(update.message.contains("append-only"))
        let delete = rawExecute(path, "DELETE FROM events")
        #expect(!delete.ok)
        #expect(!rawExecute(path, "DELETE FROM runs").ok)
    }

    @Test func verificationNamesTheEventEditedBehindTheTriggersBack() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        let store = try SQLiteRunStore(path: path)
        let outcome = try await runEngine(store: store, yaml: """
            name: test
            steps:
              - { id: a, action: echo, with: { value: one } }
              - { id: b, needs: [a], action: echo, with: { value: two } }
            """)
        let events = try await store.events(runID: outcome.run.id)
        #expect(AuditChain.verify(run: outcome.run, events: events) == nil)
        let target = try #require(events.first { $0.kind == "step_succeeded" && $0.stepID == "b" })
        // Someone with the sqlite3 shell drops the trigger and rewrites history.
        let edit = rawExecute(path, """
            DROP TRIGGER events_are_append_only_update;
            UPDATE events SET detail = '{"value":"forged"}' WHERE seq = \(target.seq);
            """)
        #expect(edit.ok, "\(edit.message)")
        let reopened = try SQLiteRunStore(path: path)
        let tampered = try await reopened.events(runID: outcome.run.id)
        let problem = try #require(AuditChain.verify(run: try await reopened.run(id: outcome.run.id), events: tampered))
        #expect(problem.seq == target.seq)
        #expect(problem.description.contains("event #\(target.seq) (step_succeeded)"))
    }

    @Test func concurrentCommitsOnAndOffTheStoreThreadAreEachDurableAndChained() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        let store = try SQLiteRunStore(path: path)
        let actor = ActorIdentity(user: "t", host: "h", pid: 1)
        let run = RunRecord(id: "r1", runbook: "test", definition: "x", definitionHash: AuditChain.sha256Hex("x"), origin: "o",
                            parameters: [:], providedSecrets: [], options: RunOptions(workingDirectory: "/"), status: .running,
                            createdAt: 1, startedBy: actor)
        let lease = Lease(runID: "r1", token: "tok", holder: actor, heartbeatAt: 1)
        try await store.createRun(run, steps: [], lease: lease, events: [NewEvent(kind: .runCreated, detail: [
            "runbook": "test", "definition_hash": run.definitionHash, "parameters": "{}", "started_by": actor.description,
        ], at: 1, actor: actor)])
        // Half the writers run on the store's own thread (as the engine's driver does) and commit in place;
        // the others queue from Swift's pool and are grouped. Both kinds interleave in one hash chain.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask(executorPreference: i.isMultiple(of: 2) ? store.preferredTaskExecutor : nil) {
                    try await store.commit(runID: "r1", leaseToken: "tok", RunChanges(
                        steps: [StepRecord(runID: "r1", stepID: "s\(i)", status: .succeeded)],
                        events: [NewEvent(stepID: "s\(i)", kind: .stepSucceeded, at: Int64(i), actor: actor)]))
                }
            }
            try await group.waitForAll()
        }
        // A write under a stale token in the same burst is refused without harming the others.
        await #expect(throws: RunStoreError.self) {
            try await store.commit(runID: "r1", leaseToken: "stale", RunChanges(events: [NewEvent(kind: .runStatus, at: 0, actor: actor)]))
        }
        let reopened = try SQLiteRunStore(path: path)
        let events = try await reopened.events(runID: "r1")
        #expect(events.count == 201)
        #expect(Set(events.compactMap(\.stepID)).count == 200)
        #expect(try await reopened.steps(runID: "r1").count == 200)
        #expect(AuditChain.verify(run: try await reopened.run(id: "r1"), events: events) == nil)
    }

    @Test func workForAClosedStoresThreadStillRuns() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var store: SQLiteRunStore? = try SQLiteRunStore(path: scratch.file("db.sqlite"))
        let executor = try #require(store?.preferredTaskExecutor)
        store = nil
        try await Task.sleep(for: .milliseconds(100)) // the idle thread has ended by now
        // A task that still prefers the stopped thread runs elsewhere instead of hanging. (Detached and
        // polled, so a regression fails this test instead of hanging the suite.)
        let finished = FinishedFlag()
        Task.detached {
            let value = await withTaskExecutorPreference(executor) {
                await Task.yield()
                return 42
            }
            finished.set(value == 42)
        }
        for _ in 0..<200 where !finished.value { try await Task.sleep(for: .milliseconds(25)) }
        #expect(finished.value, "the task never ran after the store's thread stopped")
    }

    @Test func secretValuesNeverReachTheDatabaseFile() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        let store = try SQLiteRunStore(path: path)
        let secret = "Pa55-w0rd-\(UUID().uuidString.prefix(8))"
        let outcome = try await runEngine(store: store, yaml: """
            name: test
            parameters:
              password: { type: string, secret: true }
            steps:
              - { id: a, action: echo, with: { value: "user=admin password=${{ params.password }}" } }
              - { id: b, needs: [a], action: echo, with: { value: "${{ params.password }}", fail: "true" } }
            """, parameters: ["password": secret])
        #expect(outcome.run.status == .rolledBack)
        #expect(outcome.steps.first?.outputs["value"] == "user=admin password=***")
        var bytes = Data()
        for suffix in ["", "-wal", "-shm"] {
            if let data = FileManager.default.contents(atPath: path + suffix) { bytes.append(data) }
        }
        #expect(!bytes.isEmpty)
        #expect(bytes.range(of: Data(secret.utf8)) == nil)
        #expect(bytes.range(of: Data("password=***".utf8)) != nil)
    }
}

/// Set by a detached task, read by the test.
final class FinishedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.withLock { flag } }
    func set(_ value: Bool) { lock.withLock { flag = value } }
}
