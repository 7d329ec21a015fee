import CSQLite
import Foundation
import RunbookTestSupport
import Testing

private let smallRunbook = "name: small\nsteps:\n  - { id: a, action: pass }\n  - { id: b, needs: [a], action: pass }\n"
private let gateRunbook = "name: gate\nsteps:\n  - { id: a, action: pass, approval: required }\n  - { id: b, needs: [a], action: pass }\n"

/// The bytes of a file, or nil when it does not exist.
private func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// The permission bits of a file.
private func mode(_ path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}

/// Ids of the runs `runbook runs --json` lists for `database`, newest first.
private func listedRuns(_ ws: Workspace, database: String? = nil) async throws -> (CommandResult, [String]) {
    let result = try await CommandRunner.runDetached(try RunbookBinary.path(), ["runs", "--json", "--db", database ?? ws.database])
    let list = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
    return (result, list.compactMap { $0["id"] as? String })
}

/// Shell scripts run in a private mount namespace (`unshare -m`): a small tmpfs or a read-only bind mount made
/// there is seen by nothing else and disappears with the script. Tests run as root, which ignores file modes,
/// so a read-only mount is the way to make the state really read-only.
private enum PrivateMount {
    static let available: Bool = {
        guard getuid() == 0, exists("/usr/bin/unshare") else { return false }
        return (try? CommandRunner.run("/usr/bin/unshare", ["-m", "/bin/true"]).exitCode) == 0
    }()

    /// Run `script` with `$RUNBOOK` (the binary with this workspace's --db and --runbooks), `$STATE` (the
    /// database's directory) and `$OUT` (a directory outside it for the script's results).
    static func run(_ script: String, in ws: Workspace) async throws -> CommandResult {
        let runbook = "\(try RunbookBinary.path()) --db \(ws.database) --runbooks \(ws.runbooks)"
        try FileManager.default.createDirectory(atPath: ws.root + "/out", withIntermediateDirectories: true)
        return try await CommandRunner.runDetached("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script], environment: [
            "RUNBOOK": runbook, "STATE": ws.root + "/state", "OUT": ws.root + "/out",
        ], directory: ws.work)
    }

    /// What the script saved as `$OUT/name`.
    static func saved(_ name: String, in ws: Workspace) -> String {
        (try? String(contentsOfFile: ws.root + "/out/" + name, encoding: .utf8)) ?? ""
    }
}

@Suite struct StateFileHardeningTests {
    // MARK: - audit export --output

    @Test func exportNeverOverwritesTheDatabaseOrItsSideFilesEvenWithForce() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        let run = try await ws.runbook(["run", "small"])
        let id = try #require(run.runID)
        let before = try #require(contents(ws.database))
        try FileManager.default.createSymbolicLink(atPath: ws.work + "/link.sqlite", withDestinationPath: ws.database)
        // The same file under other names: a detour through `..`, a symbolic link, and the -wal/-shm names.
        let aliases = [ws.root + "/state/../state/runbook.sqlite", "link.sqlite", ws.database + "-wal", ws.database + "-shm"]
        for alias in aliases {
            for force in [false, true] {
                let export = try await ws.runbook(["audit", "export", id, "--output", alias] + (force ? ["--force"] : []))
                #expect(export.exitCode == 2, "\(alias) force=\(force): \(export.stderr)")
                #expect(export.stderr.contains("state database"), "\(export.stderr)")
            }
        }
        #expect(contents(ws.database) == before)
        #expect(!exists(ws.database + "-wal") && !exists(ws.database + "-shm"))
        #expect(try await listedRuns(ws).1 == [id])
    }

    @Test func exportRefusesAnExistingFileUnlessForcedAndThenReplacesItWhole() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        let id = try #require(try await ws.runbook(["run", "small"]).runID)
        let target = ws.file("evidence.json")
        try Data("earlier evidence\n".utf8).write(to: URL(fileURLWithPath: target))
        let refused = try await ws.runbook(["audit", "export", id, "--output", "evidence.json"])
        #expect(refused.exitCode == 2)
        #expect(refused.stderr.contains("already exists") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(contents(target) == Data("earlier evidence\n".utf8))

        let forced = try await ws.runbook(["audit", "export", id, "--output", "evidence.json", "--force"])
        #expect(forced.exitCode == 0, "\(forced.stderr)")
        let written = try #require(contents(target))
        let json = try #require(try JSONSerialization.jsonObject(with: written) as? [String: Any])
        #expect((json["run"] as? [String: Any])?["id"] as? String == id)
        #expect(try mode(target) == 0o600)
        // Nothing but the export is left in the directory (no temporary file).
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.work).sorted() == ["evidence.json"])

        let fresh = try await ws.runbook(["audit", "export", id, "--format", "csv", "--output", "new.csv"])
        #expect(fresh.exitCode == 0, "\(fresh.stderr)")
        #expect(String(decoding: try #require(contents(ws.file("new.csv"))), as: UTF8.self).hasPrefix("seq,time,run_id"))
    }

    // MARK: - Damaged database

    @Test func aDatabaseCutShortIsRefusedUntouchedByWritersAndReaders() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        var id = ""
        for _ in 0..<6 { id = try #require(try await ws.runbook(["run", "small"]).runID) }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: ws.database)[.size] as? Int)
        #expect(!exists(ws.database + "-wal"))
        #expect(truncate(ws.database, off_t(size - 248)) == 0)
        let damaged = try #require(contents(ws.database))

        let commands = [["run", "small"], ["resume", id], ["runs"], ["history", id], ["audit", "verify"], ["audit", "export", id]]
        for command in commands {
            let result = try await ws.runbook(command)
            #expect(result.exitCode == 2, "\(command): \(result.exitCode) \(result.stderr)")
            #expect(result.stderr.contains("is damaged") && result.stderr.contains("backup"), "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("SQLite error"), "\(command): \(result.stderr)")
            #expect(contents(ws.database) == damaged, "\(command) changed the damaged file")
            #expect(!exists(ws.database + "-wal") && !exists(ws.database + "-shm"), "\(command) left -wal/-shm behind")
        }
    }

    @Test func aDatabaseWithAGarbledPageIsRefusedUntouched() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        let id = try #require(try await ws.runbook(["run", "small"]).runID)
        // Overwrite the first page of the events table (its size stays a whole number of pages).
        var db: OpaquePointer?
        #expect(sqlite3_open_v2(ws.database, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK)
        var statement: OpaquePointer?
        sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_master WHERE name = 'events'", -1, &statement, nil)
        #expect(sqlite3_step(statement) == SQLITE_ROW)
        let page = Int(sqlite3_column_int64(statement, 0))
        sqlite3_finalize(statement)
        sqlite3_close(db)
        #expect(!exists(ws.database + "-wal"))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: ws.database))
        try handle.seek(toOffset: UInt64((page - 1) * 4096))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
        try handle.close()
        let damaged = try #require(contents(ws.database))

        // Writers and `audit verify` check every page when they open it; `history` only reads, and meets the damage.
        for command in [["run", "small"], ["approve", id, "a"], ["audit", "verify", id], ["history", id]] {
            let result = try await ws.runbook(command)
            #expect(result.exitCode == 2, "\(command): \(result.exitCode) \(result.stderr)")
            #expect(result.stderr.contains("is damaged") && result.stderr.contains("backup"), "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("SQLite error"), "\(command): \(result.stderr)")
            #expect(contents(ws.database) == damaged)
            #expect(!exists(ws.database + "-wal") && !exists(ws.database + "-shm"))
        }
    }

    // MARK: - The main file holds everything after every command

    @Test func aCopyOfTheMainFileAloneHoldsEveryRunAfterEachCommand() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        try ws.write(runbook: "gate", gateRunbook)
        var ids: [String] = []
        for index in 0..<12 {
            let runbook = index.isMultiple(of: 4) ? "gate" : "small"
            let result = try await ws.runbook(["run", runbook])
            #expect(result.exitCode == (runbook == "gate" ? 3 : 0), "\(result.stderr)")
            ids.insert(try #require(result.runID), at: 0)
            if runbook == "gate" {
                #expect(try await ws.runbook(["approve", ids[0], "a"]).exitCode == 0)
            }
            // A backup that copies only the .sqlite file, as a careless backup job would.
            let backup = ws.root + "/backup-\(index).sqlite"
            try FileManager.default.copyItem(atPath: ws.database, toPath: backup)
            let (listing, copied) = try await listedRuns(ws, database: backup)
            #expect(copied == ids, "after run \(index + 1): the copy lists \(copied.count) runs: \(listing.stderr)")
            #expect(!exists(ws.database + "-wal"), "after run \(index + 1): the WAL was left behind")
        }
        let verify = try await CommandRunner.runDetached(try RunbookBinary.path(), ["audit", "verify", "--db", ws.root + "/backup-11.sqlite"])
        #expect(verify.exitCode == 0, "\(verify.stderr)")
    }

    // MARK: - Permissions

    @Test func aDatabaseReadableByOthersIsMadePrivateWithANote() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "small", smallRunbook)
        try ws.write(runbook: "waiting", """
            name: waiting
            steps:
              - { id: wait, action: shell, with: { run: 'while [ ! -e go ]; do sleep 0.05; done' } }
            """)
        #expect(try await ws.runbook(["run", "small"]).exitCode == 0)
        #expect(chmod(ws.database, 0o644) == 0)
        let driver = try ws.start(["run", "waiting"])
        #expect(try await eventually { exists(ws.database + "-wal") && exists(ws.database + "-shm") })
        #expect(try mode(ws.database) == 0o600)
        #expect(try mode(ws.database + "-wal") == 0o600)
        #expect(try mode(ws.database + "-shm") == 0o600)
        FileManager.default.createFile(atPath: ws.file("go"), contents: nil)
        #expect(await driver.exited() == 0)
        let notes = driver.stderr.split(separator: "\n").filter { $0.contains("readable by others") }
        #expect(notes.count == 1, "\(driver.stderr)")
        #expect(notes.first?.contains("0644") == true && notes.first?.contains("0600") == true)
        let again = try await ws.runbook(["runs"])
        #expect(!again.stderr.contains("readable by others"))
    }

    // MARK: - Read-only and full

    @Test(.enabled(if: PrivateMount.available)) func aReadOnlyDatabaseSaysSoInASentence() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gate", gateRunbook)
        let paused = try await ws.runbook(["run", "gate"])
        let id = try #require(paused.runID)
        let before = try #require(contents(ws.database))
        let script = """
            mount --bind "$STATE/runbook.sqlite" "$STATE/runbook.sqlite" && mount -o remount,bind,ro "$STATE/runbook.sqlite" || exit 99
            $RUNBOOK approve \(id) a >"$OUT/approve.out" 2>"$OUT/approve.err"; echo $? >"$OUT/approve.rc"
            $RUNBOOK runs >"$OUT/runs.out" 2>"$OUT/runs.err"; echo $? >"$OUT/runs.rc"
            umount "$STATE/runbook.sqlite"
            rm -f "$STATE/runbook.sqlite-wal" "$STATE/runbook.sqlite-shm"
            mount --bind "$STATE" "$STATE" && mount -o remount,bind,ro "$STATE" || exit 98
            $RUNBOOK resume \(id) >"$OUT/resume.out" 2>"$OUT/resume.err"; echo $? >"$OUT/resume.rc"
            $RUNBOOK history \(id) >"$OUT/history.out" 2>"$OUT/history.err"; echo $? >"$OUT/history.rc"
            """
        let mounted = try await PrivateMount.run(script, in: ws)
        #expect(mounted.exitCode == 0, "\(mounted.stderr)")
        let approve = PrivateMount.saved("approve.err", in: ws)
        #expect(PrivateMount.saved("approve.rc", in: ws) == "2\n", "\(approve)")
        #expect(approve.contains("read-only") && approve.contains("runbook resume \(id)"), "\(approve)")
        #expect(!approve.contains("SQLite error"), "\(approve)")
        #expect(PrivateMount.saved("runs.rc", in: ws) == "0\n", "\(PrivateMount.saved("runs.err", in: ws))")
        #expect(PrivateMount.saved("runs.out", in: ws).contains(id))
        let resume = PrivateMount.saved("resume.err", in: ws)
        #expect(PrivateMount.saved("resume.rc", in: ws) == "2\n", "\(resume)")
        #expect(resume.contains("not writable") && resume.contains("runbook resume \(id)"), "\(resume)")
        #expect(!resume.contains("SQLite error"), "\(resume)")
        // A read-only directory (a backup on read-only media) can still be read.
        #expect(PrivateMount.saved("history.rc", in: ws) == "0\n", "\(PrivateMount.saved("history.err", in: ws))")
        #expect(PrivateMount.saved("history.out", in: ws).contains("awaiting approval") || PrivateMount.saved("history.out", in: ws).contains("awaiting_approval"))
        #expect(contents(ws.database) == before)
        let approved = try await ws.runbook(["approve", id, "a"])
        #expect(approved.exitCode == 0, "\(approved.stderr)")
    }

    @Test(.enabled(if: PrivateMount.available)) func aFullDiskSaysSoAndResumeContinuesOnceThereIsSpace() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let state = ws.root + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try ws.write(runbook: "filler", """
            name: filler
            steps:
              - { id: before, action: pass }
              - id: fill
                needs: [before]
                action: shell
                with: { run: '[ -e \(state)/filled ] || { touch \(state)/filled; dd if=/dev/zero of=\(state)/fill bs=4k 2>/dev/null; true; }' }
              - { id: after, needs: [fill], action: pass }
            """)
        let script = """
            mount -t tmpfs -o size=1m tmpfs "$STATE" || exit 99
            $RUNBOOK run filler >"$OUT/run.out" 2>"$OUT/run.err"; echo $? >"$OUT/run.rc"
            ID=$(head -n 1 "$OUT/run.out" | cut -d ' ' -f 2)
            rm -f "$STATE/fill"
            $RUNBOOK resume "$ID" >"$OUT/resume.out" 2>"$OUT/resume.err"; echo $? >"$OUT/resume.rc"
            """
        let mounted = try await PrivateMount.run(script, in: ws)
        #expect(mounted.exitCode == 0, "\(mounted.stderr)")
        let id = try #require(CommandResult(exitCode: 0, stdout: PrivateMount.saved("run.out", in: ws), stderr: "").runID)
        let failure = PrivateMount.saved("run.err", in: ws)
        #expect(PrivateMount.saved("run.rc", in: ws) == "2\n", "\(failure)")
        #expect(failure.contains("disk") && failure.contains("full") && failure.contains("runbook resume \(id)"), "\(failure)")
        #expect(!failure.contains("SQLite error"), "\(failure)")
        #expect(PrivateMount.saved("resume.rc", in: ws) == "0\n", "\(PrivateMount.saved("resume.err", in: ws))")
        #expect(PrivateMount.saved("resume.out", in: ws).contains("succeeded"))
    }

    // MARK: - Ambiguous run-id prefixes

    @Test func anAmbiguousPrefixListsTheCandidatesNewestFirstInEveryCommand() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gate", gateRunbook)
        for _ in 0..<3 { #expect(try await ws.runbook(["run", "gate"]).exitCode == 3) }
        let (_, ids) = try await listedRuns(ws)
        #expect(ids.count == 3)
        let prefix = String(ids[0].prefix(4))
        let commands = [["history", prefix], ["resume", prefix], ["rollback", prefix], ["approve", prefix, "a"],
                        ["cancel", prefix], ["audit", "verify", prefix], ["audit", "export", prefix]]
        for command in commands {
            let result = try await ws.runbook(command)
            #expect(result.exitCode == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("3 runs"), "\(command): \(result.stderr)")
            let positions = ids.map { result.stderr.range(of: $0)?.lowerBound }
            #expect(positions.allSatisfy { $0 != nil }, "\(command): \(result.stderr)")
            let found = positions.compactMap { $0 }
            #expect(found == found.sorted(), "\(command): not newest first: \(result.stderr)")
        }
        // An unknown prefix still says there is no such run; a unique one is used.
        let unknown = try await ws.runbook(["history", "1999"])
        #expect(unknown.exitCode == 2 && unknown.stderr.contains("no run '1999'"), "\(unknown.stderr)")
        let unique = try await ws.runbook(["history", String(ids[1].dropLast())])
        #expect(unique.exitCode == 0, "\(unique.stderr)")
    }
}
