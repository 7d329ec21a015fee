import CSQLite
import Foundation
import RunbookTestSupport
import Testing

/// What happens to a step's processes when its driver dies, is signalled, or is asked to cancel.
@Suite struct ProcessHardeningTests {
    /// A step that logs `start SH_PID SLEEP_PID` when it starts and `end SH_PID` when it ends, 8 s apart
    /// (long enough that a resume on a busy machine starts it again while the first copy would still run).
    static let sleeperRunbook = """
        name: sigs
        steps:
          - id: sleeper
            action: shell
            with: { run: 'sleep 8 & echo "start $$ $!" >> log; wait $!; echo "end $$" >> log' }
        """

    // MARK: - A killed driver's step does not run twice

    @Test func aKilledDriversStepIsGoneBeforeTheResumeRunsItAgain() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "sigs", Self.sleeperRunbook)
        let first = try Job(ws, ["run", "sigs"])
        #expect(try await eventually { ws.lines("log").count == 1 })
        let id = try #require(first.runID)
        try await Task.sleep(for: .seconds(1))
        first.send(SIGKILL)
        #expect(await first.exitCode(within: 5) == 128 + SIGKILL)

        try await expectOneCopyAtATime(ws, resumeOf: id)
    }

    @Test func anOrphanWhoseWatchdogDiedToo() async throws {
        // The driver is frozen, then the step's process-group leader and the driver are killed: nothing is
        // left to stop the command, so the resume must find the recorded group and kill it itself.
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "sigs", Self.sleeperRunbook)
        let first = try Job(ws, ["run", "sigs"])
        #expect(try await eventually { ws.lines("log").count == 1 })
        let id = try #require(first.runID)
        let shell = try #require(Self.pids(ws.lines("log")[0]).first)
        let group = try #require(ProcessTable.group(of: shell))
        first.send(SIGSTOP)
        kill(group, SIGKILL)
        first.send(SIGKILL)
        #expect(await first.exitCode(within: 5) == 128 + SIGKILL)

        try await expectOneCopyAtATime(ws, resumeOf: id)
    }

    /// Resume at once; when the second copy starts the first copy's processes must be gone, and the first
    /// copy must never log its end.
    private func expectOneCopyAtATime(_ ws: Workspace, resumeOf id: String) async throws {
        let firstCopy = Self.pids(ws.lines("log")[0])
        let resumed = try Job(ws, ["resume", id])
        #expect(try await eventually(30) { ws.lines("log").filter { $0.hasPrefix("start ") }.count >= 2 }, "\(resumed.stderr)")
        let stillRunning = firstCopy.filter { !ProcessTable.isGone($0) }
        #expect(stillRunning.isEmpty, "processes \(stillRunning) of the first copy still run while the resume runs the step again")
        let code = await resumed.exitCode(within: 30)
        #expect(code == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        let lines = ws.lines("log")
        let secondShell = Self.pids(lines.last { $0.hasPrefix("start ") } ?? "").first ?? -1
        #expect(lines.count == 3 && lines[0].hasPrefix("start ") && lines[1].hasPrefix("start ") && lines[2] == "end \(secondShell)",
                "expected exactly one copy running at any time; the log says \(lines)")
        for pid in firstCopy { #expect(ProcessTable.isGone(pid)) }
    }

    // MARK: - Signals

    /// A step whose shell and `sleep` pids are logged to `pids`, then a long sleep.
    static let slowRunbook = """
        name: slow
        steps:
          - id: long
            action: shell
            with: { run: 'sleep 30 & echo "$$ $!" >> pids; wait $!' }
        """

    @Test(arguments: [SIGHUP, SIGQUIT])
    func aSignalRecordsInterruptedStopsTheStepAndExits5(signal: Int32) async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "slow", Self.slowRunbook)
        let driver = try Job(ws, ["run", "slow"])
        #expect(try await eventually { ws.lines("pids").count == 1 })
        let children = Self.pids(ws.lines("pids").first ?? "")
        driver.send(signal)
        let code = await driver.exitCode(within: 20)
        #expect(code == 5, "signal \(signal): \(driver.stderr)")
        #expect(!driver.stderr.contains("crashed"), "\(driver.stderr)")
        #expect(try await runStatus(ws) == "interrupted")
        #expect(try await eventually(10) { children.allSatisfy(ProcessTable.isGone) }, "children \(children) of the step outlived the driver")
    }

    @Test func aClosedStdoutRecordsInterruptedStopsTheStepAndExits5() async throws {
        // `runbook run slow | head -1`: the reader goes away while a step is running; the next progress
        // line (a parallel step finishing once the reader is gone) finds stdout closed.
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "slow", Self.slowRunbook + "\n  - { id: tick, action: shell, with: { run: 'until [ -f go ]; do sleep 0.05; done' } }\n")
        let driver = try Job(ws, ["run", "slow"], pipedStdout: true)
        #expect(try await eventually { ws.lines("pids").count == 1 })
        let children = Self.pids(ws.lines("pids").first ?? "")
        driver.closeReadEnd()
        _ = FileManager.default.createFile(atPath: ws.file("go"), contents: nil)
        let code = await driver.exitCode(within: 20)
        #expect(code == 5, "\(driver.stderr)")
        #expect(try await runStatus(ws) == "interrupted")
        #expect(try await eventually(10) { children.allSatisfy(ProcessTable.isGone) }, "children \(children) of the step outlived the driver")
    }

    // MARK: - Cancel

    @Test func cancelIsSeenBeforeTheNextStepStartsAndReportsTheOutcome() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "quick", """
            name: quick
            steps:
              - { id: first, action: shell, with: { run: 'echo first >> started; i=0; until [ -f go ] || [ $i -ge 600 ]; do sleep 0.05; i=$((i+1)); done' } }
              - { id: s2, needs: [first], action: shell, with: { run: 'echo s2 >> log' } }
              - { id: s3, needs: [s2], action: shell, with: { run: 'echo s3 >> log' } }
              - { id: s4, needs: [s3], action: shell, with: { run: 'echo s4 >> log' } }
            """)
        let driver = try Job(ws, ["run", "quick"])
        #expect(try await eventually { ws.lines("started") == ["first"] })
        let id = try #require(driver.runID)
        // The first step ends once the cancel request is in the database, well before the next heartbeat.
        let cancelling = try ws.start(["cancel", id])
        #expect(try await eventually(30) { cancelRecorded(ws, id) })
        _ = FileManager.default.createFile(atPath: ws.file("go"), contents: nil)
        let cancel = CommandResult(exitCode: await cancelling.exited(), stdout: cancelling.stdout, stderr: cancelling.stderr)
        #expect(cancel.exitCode == 0, "\(cancel.stdout)\n\(cancel.stderr)")
        #expect(cancel.stdout.contains("cancelled and rolled back"), "\(cancel.stdout)")
        #expect(ws.lines("log").isEmpty, "steps after the one in flight ran: \(ws.lines("log"))")
        #expect(try await runStatus(ws) == "cancelled")
        #expect(await driver.exitCode(within: 20) == 1)
        #expect(ws.lines("log").isEmpty)
    }

    @Test func cancelStopsTheStepInFlightAndReturnsAfterTheRollback() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "cancellable", """
            name: cancellable
            steps:
              - id: made
                action: shell
                with: { run: 'echo made >> log' }
                compensate: { action: shell, with: { run: 'echo unmade >> log' } }
              - { id: long, needs: [made], action: shell, with: { run: 'sleep 60 & echo "$$ $!" >> pids; wait $!' } }
            """)
        let driver = try Job(ws, ["run", "cancellable"])
        #expect(try await eventually { ws.lines("pids").count == 1 })
        let children = Self.pids(ws.lines("pids").first ?? "")
        let id = try #require(driver.runID)
        let cancel = try await ws.runbook(["cancel", id])
        #expect(cancel.exitCode == 0, "\(cancel.stdout)\n\(cancel.stderr)")
        #expect(cancel.stdout.contains("waiting"), "\(cancel.stdout)")
        #expect(cancel.stdout.contains("cancelled and rolled back"), "\(cancel.stdout)")
        #expect(ws.lines("log") == ["made", "unmade"])
        #expect(children.allSatisfy(ProcessTable.isGone), "the cancelled step's processes \(children) still run")
        #expect(try await runStatus(ws) == "cancelled")
        #expect(await driver.exitCode(within: 20) == 1)
    }

    // MARK: - Helpers

    /// The integers in a logged line (`start 12 13` → [12, 13]).
    static func pids(_ line: String) -> [pid_t] {
        line.split(separator: " ").compactMap { pid_t($0) }
    }

    /// The status of the workspace's only run, from `runs --json`.
    /// Whether the run's history holds a cancel request (read with the sqlite3 C API, as an observer).
    private func cancelRecorded(_ ws: Workspace, _ id: String) -> Bool {
        var db: OpaquePointer?
        guard sqlite3_open_v2(ws.database, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { return false }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE run_id = ? AND kind = 'cancel_requested'", -1, &statement, nil) == SQLITE_OK else { return false }
        defer { sqlite3_finalize(statement) }
        sqlite3_bind_text(statement, 1, id, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        return sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_int64(statement, 0) > 0
    }

    private func runStatus(_ ws: Workspace) async throws -> String? {
        let runs = try await ws.runbook(["runs", "--json"])
        let list = (try? JSONSerialization.jsonObject(with: Data(runs.stdout.utf8))) as? [[String: Any]]
        return list?.first?["status"] as? String
    }

}

/// Reads /proc: whether a process is gone, and its process group.
enum ProcessTable {
    /// Fields after the command name in /proc/PID/stat (state first), or nil when there is no such process.
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// True when `pid` has exited (a zombie waiting to be reaped counts as gone).
    static func isGone(_ pid: pid_t) -> Bool {
        guard let fields = statFields(pid) else { return true }
        return fields.first == "Z" || fields.first == "X"
    }

    static func group(of pid: pid_t) -> pid_t? {
        guard let fields = statFields(pid), fields.count > 2 else { return nil }
        return pid_t(fields[2])
    }
}

/// `runbook ARGS` started the way a shell starts a job: `posix_spawn`, then `waitpid` as soon as it exits
/// (Foundation's `Process` may not notice a killed child until its grandchildren exit).
final class Job: @unchecked Sendable {
    let pid: pid_t
    private let stdoutFile: String
    private let stderrFile: String
    /// The read end when stdout is a pipe (`runbook … | head`).
    private var readEnd: Int32 = -1

    /// - Parameter pipedStdout: stdout is a pipe nobody reads until `closeReadEnd()`.
    init(_ ws: Workspace, _ arguments: [String], pipedStdout: Bool = false) throws {
        let base = NSTemporaryDirectory() + "runbook-job-\(UUID().uuidString)"
        stdoutFile = base + ".out"
        stderrFile = base + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if pipedStdout {
            // A named pipe, so that only the job opens its write end and the read end can be close-on-exec:
            // a process another test starts meanwhile must not hold either open.
            let fifo = base + ".fifo"
            guard mkfifo(fifo, 0o600) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
            readEnd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard readEnd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
            posix_spawn_file_actions_addopen(&actions, 1, fifo, O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // `cd` then `exec`: the job's pid is the runbook process's.
        let argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", ws.work, try RunbookBinary.path(),
                    "--db", ws.database, "--runbooks", ws.runbooks] + arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        // Default signal dispositions and no blocked signals, as a shell gives its jobs (the test runner
        // ignores some signals, SIGPIPE among them).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/bin/sh", &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        pid = child
    }

    var stdout: String { (try? String(contentsOfFile: stdoutFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }
    var runID: String? { CommandResult(exitCode: 0, stdout: stdout, stderr: "").runID }

    func send(_ signal: Int32) { kill(pid, signal) }

    func closeReadEnd() {
        if readEnd >= 0 { close(readEnd) }
        readEnd = -1
    }

    /// The exit code (128 + N when killed by signal N), or -1 after killing the job when it has not exited
    /// within `seconds`.
    func exitCode(within seconds: Double) async -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return -1
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    deinit {
        closeReadEnd()
        try? FileManager.default.removeItem(atPath: stdoutFile)
        try? FileManager.default.removeItem(atPath: stderrFile)
        try? FileManager.default.removeItem(atPath: stdoutFile.replacingOccurrences(of: ".out", with: ".fifo"))
    }
}
