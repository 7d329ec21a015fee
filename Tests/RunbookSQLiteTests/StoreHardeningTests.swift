import CSQLite
import Foundation
import RunbookEngine
import Testing
@testable import RunbookSQLite

private let actor = ActorIdentity(user: "t", host: "h", pid: 1)

/// A run with `id`, created at `createdAt`, with one pending step.
private func createRun(_ id: String, createdAt: Int64, in store: any RunStore) async throws {
    let run = RunRecord(id: id, runbook: "test", definition: "x", definitionHash: AuditChain.sha256Hex("x"), origin: "o",
                        parameters: [:], providedSecrets: [], options: RunOptions(workingDirectory: "/"), status: .running,
                        createdAt: createdAt, startedBy: actor)
    try await store.createRun(run, steps: [StepRecord(runID: id, stepID: "a", status: .pending)],
                              lease: Lease(runID: id, token: "tok-\(id)", holder: actor, heartbeatAt: createdAt),
                              events: [NewEvent(kind: .runCreated, at: createdAt, actor: actor)])
}

private func fileMode(_ path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}

@Suite struct StoreHardeningTests {
    @Test func aFileCutShortIsRefusedAndLeftByteForByteAsItWas() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        do {
            let store = try SQLiteRunStore(path: path)
            for index in 0..<4 { try await createRun("r\(index)", createdAt: Int64(index), in: store) }
            store.close()
        }
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(truncate(path, off_t(size - 248)) == 0)
        let damaged = try #require(FileManager.default.contents(atPath: path))
        do {
            _ = try SQLiteRunStore(path: path)
            Issue.record("a database cut short was opened")
        } catch let error as DatabaseOpenError {
            #expect(error.message.contains("is damaged") && error.message.contains("restore it from a backup"), "\(error.message)")
        }
        #expect(FileManager.default.contents(atPath: path) == damaged)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
    }

    @Test func aFullDatabaseSaysSoAndNamesTheRunToResume() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = try SQLiteRunStore(path: scratch.file("db.sqlite"))
        try await createRun("r1", createdAt: 1, in: store)
        try store.connectionForTests { db in
            let pages = try db.scalarInt("PRAGMA page_count") ?? 0
            try db.execute("PRAGMA max_page_count = \(pages)")
        }
        let big = String(repeating: "x", count: 64 * 1024)
        do {
            try await store.commit(runID: "r1", leaseToken: "tok-r1", RunChanges(
                steps: [StepRecord(runID: "r1", stepID: "a", status: .succeeded, outputs: ["big": big])]))
            Issue.record("a commit past the database's size limit succeeded")
        } catch let error as RunStoreError {
            #expect(error.code == .storage)
            #expect(error.message.contains("disk") && error.message.contains("full"), "\(error.message)")
            #expect(error.message.contains("runbook resume r1"), "\(error.message)")
        }
        #expect(try await store.steps(runID: "r1").first?.status == .pending)
    }

    @Test func aDatabaseReadableByOthersIsMadePrivateAndSoAreItsWALAndSharedMemory() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        do { _ = try SQLiteRunStore(path: path) }
        #expect(chmod(path, 0o644) == 0)
        let store = try SQLiteRunStore(path: path)
        try await createRun("r1", createdAt: 1, in: store)
        #expect(try fileMode(path) == 0o600)
        #expect(try fileMode(path + "-wal") == 0o600)
        #expect(try fileMode(path + "-shm") == 0o600)
    }

    @Test func anAmbiguousPrefixListsTheNewestTenAndCountsTheRest() async throws {
        let memory = InMemoryRunStore()
        for index in 0..<12 { try await createRun(String(format: "run-%02d", index), createdAt: Int64(index), in: memory) }
        let match = await memory.resolveRunID("run-")
        #expect(match == .ambiguous(candidates: (2..<12).reversed().map { String(format: "run-%02d", $0) }, total: 12))
        let sentence = try #require(match.problem("run-", in: "db.sqlite"))
        #expect(sentence.contains("12 runs") && sentence.contains("run-11, run-10") && sentence.contains("and 2 older"), "\(sentence)")
    }

    @Test func closingCopiesTheWALIntoTheMainFile() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("db.sqlite")
        let store = try SQLiteRunStore(path: path)
        for index in 0..<5 { try await createRun("r\(index)", createdAt: Int64(index), in: store) }
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        store.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        let copy = scratch.file("copy.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        #expect(try await SQLiteRunStore(path: copy, create: false).allRunIDs() == ["r0", "r1", "r2", "r3", "r4"])
        // Calls after close fail instead of touching the closed connection.
        await #expect(throws: (any Error).self) { try await store.runs(limit: 1) }
    }
}
