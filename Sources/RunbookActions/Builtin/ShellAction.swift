import CRunbookProcess
import Foundation
import RunbookEngine

#if canImport(Glibc)
import Glibc
#endif

/// `shell`: runs `/bin/sh -c RUN` with `env` in the run's working directory.
///
/// Values reach the command only through the environment (`env:` and `RUNBOOK_PARAM_<NAME>`), never by
/// splicing into `run`. Outputs: `exit_code`, `stdout` (trimmed, capped at 4 KiB) and every `key=value`
/// line the command appends to the file named by `$RUNBOOK_OUTPUT`. A non-zero exit fails the attempt.
/// The command's process group is recorded before it runs and dies with the driver; `RUNBOOK_PROCESS_MARKER`
/// in its environment tells the attempt's processes apart (see `StepProcess`).
public struct ShellAction: StepAction {
    public let name = "shell"
    public let summary = "Run a POSIX shell command; values arrive through environment variables"
    public let inputs = [
        ActionInputSpec("run", required: true, literalOnly: true, description: "the command, run by /bin/sh -c"),
        ActionInputSpec("env", kind: .map, description: "environment variables for the command"),
        ActionInputSpec("working_directory", description: "directory to run in (default: the run's)"),
    ]

    /// Largest `stdout` output kept, in bytes.
    public static let stdoutCap = 4096

    public init() {}

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let command = try invocation.requiredString("run")
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in invocation.parameters {
            environment["RUNBOOK_PARAM_\(Self.environmentName(name))"] = value
        }
        environment["RUNBOOK_RUN_ID"] = invocation.runID
        environment["RUNBOOK_RUNBOOK"] = invocation.runbook
        environment["RUNBOOK_STEP"] = invocation.stepID
        environment["RUNBOOK_ATTEMPT"] = String(invocation.attempt)
        for (key, value) in try invocation.stringMap("env") { environment[key] = value }
        let marker = UUID().uuidString
        environment[StepProcess.markerVariable] = marker

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-shell-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputFile = scratch.appendingPathComponent("output").path
        let stdoutFile = scratch.appendingPathComponent("stdout").path
        let stderrFile = scratch.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: outputFile, contents: nil, attributes: [.posixPermissions: 0o600])
        environment["RUNBOOK_OUTPUT"] = outputFile

        let directory = invocation.string("working_directory") ?? invocation.workingDirectory
        let status = try await ChildProcess.run(
            executable: "/bin/sh", arguments: ["-c", command], environment: environment,
            directory: directory, stdoutPath: stdoutFile, stderrPath: stderrFile, marker: marker,
            record: invocation.recordProcess, clock: invocation.clock)

        // Secrets are masked before anything is cut to size: a cut through a secret would keep its prefix.
        let redactor = Redactor(secrets: invocation.secretParameterNames.compactMap { invocation.parameters[$0] })
        var outputs = redactor.redact(Self.parseOutputFile((try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""))
        let stdout = Self.capped(redactor.redact((try? String(contentsOfFile: stdoutFile, encoding: .utf8)) ?? ""))
        outputs["exit_code"] = String(status)
        outputs["stdout"] = stdout
        guard status == 0 else {
            let stderr = redactor.redact((try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let lastLine = stderr.split(separator: "\n").last.map(String.init) ?? ""
            let reason = status > 128 && status < 160 ? "was killed by signal \(status - 128)" : "exited with code \(status)"
            throw ActionFailure("command \(reason)" + (lastLine.isEmpty ? "" : ": \(Self.capped(lastLine))"), retryable: true, outputs: outputs)
        }
        return outputs
    }

    /// `key=value` lines (the GitHub Actions convention); later lines win; other lines are ignored.
    static func parseOutputFile(_ text: String) -> [String: String] {
        var outputs: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key != "exit_code", key != "stdout" else { continue }
            outputs[key] = String(line[line.index(after: equals)...])
        }
        return outputs
    }

    static func capped(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count > stdoutCap else { return trimmed }
        var cut = String(decoding: trimmed.utf8.prefix(stdoutCap), as: UTF8.self)
        while cut.utf8.count > stdoutCap { cut.removeLast() }
        return cut + "… [truncated]"
    }

    /// `NAME` for `RUNBOOK_PARAM_NAME`: upper case, non-alphanumerics as `_`.
    static func environmentName(_ name: String) -> String {
        String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// Runs a command in its own process group under a supervisor (see `runbook_process.h`): a timeout or
/// Ctrl-C stops the whole command tree, and the tree dies with the driver even when the driver is killed.
enum ChildProcess {
    /// How long a stopped command has after SIGTERM before its group gets SIGKILL.
    static let killGrace: Duration = .seconds(5)

    /// - Parameters:
    ///   - marker: the invocation's `RUNBOOK_PROCESS_MARKER`, already in `environment`.
    ///   - record: makes the group's record durable; the command runs only after it returns.
    ///   - clock: times the grace between SIGTERM and SIGKILL when the step is stopped.
    static func run(executable: String, arguments: [String], environment: [String: String], directory: String,
                    stdoutPath: String, stderrPath: String, marker: String,
                    record: (@Sendable (StepProcess) async throws -> Void)?, clock: any RunClock) async throws -> Int32 {
        guard FileManager.default.fileExists(atPath: directory) else {
            throw ActionFailure("working directory \(directory) does not exist", retryable: false)
        }
        var child = try spawn(executable: executable, arguments: arguments, environment: environment, directory: directory,
                              stdoutPath: stdoutPath, stderrPath: stderrPath)
        do {
            try await record?(StepProcess.started(group: child.pid, marker: marker))
            try Task.checkCancellation()
            let rc = runbook_child_release(&child)
            guard rc == 0 else { throw ActionFailure("cannot start \(executable): \(String(cString: strerror(rc)))", retryable: false) }
        } catch {
            // Withdrawn before it ran: the supervisor exits without running the command.
            runbook_child_close(&child)
            _ = await exitStatus(of: child.pid)
            throw error
        }
        let group = child.pid
        let running = RunningFlag()
        let status = try await withTaskCancellationHandler {
            let status = await exitStatus(of: group)
            running.clear()
            if Task.isCancelled { throw CancellationError() }
            return status
        } onCancel: {
            kill(-group, SIGTERM)
            let grace = clock.monotonicNow + killGrace
            Task {
                try? await clock.sleep(until: grace)
                // Unless the supervisor has been reaped meanwhile: its number may then belong to another group.
                running.ifSet { kill(-group, SIGKILL) }
            }
        }
        runbook_child_close(&child)
        return status
    }

    /// Whether the supervisor is still unreaped (its pid, the group id, cannot be reused until then).
    private final class RunningFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var running = true

        func clear() { lock.withLock { running = false } }

        /// Run `body` while holding the flag, if it is still set.
        func ifSet(_ body: () -> Void) { lock.withLock { if running { body() } } }
    }

    /// Start the supervisor, set up and waiting to be released.
    private static func spawn(executable: String, arguments: [String], environment: [String: String], directory: String,
                              stdoutPath: String, stderrPath: String) throws -> runbook_child {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child = runbook_child(pid: 0, control: -1)
        let rc = runbook_child_spawn(executable, argv, envp, directory, stdoutPath, stderrPath, &child)
        guard rc == 0 else {
            throw ActionFailure("cannot start \(executable) in \(directory): \(String(cString: strerror(rc)))", retryable: false)
        }
        return child
    }

    /// Wait (off the cooperative pool) for the supervisor to exit; its code is the command's, or 128 + N
    /// when signal N killed the command (or the supervisor).
    private static func exitStatus(of pid: pid_t) async -> Int32 {
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (macros are not imported).
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}
