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
            directory: directory, stdoutPath: stdoutFile, stderrPath: stderrFile)

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

/// glibc (2.29+) has it; the header hides it behind _GNU_SOURCE, so it is declared here.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32

/// Spawns a child in its own process group so a timeout or Ctrl-C stops the whole command tree.
enum ChildProcess {
    static func run(executable: String, arguments: [String], environment: [String: String], directory: String,
                    stdoutPath: String, stderrPath: String) async throws -> Int32 {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard FileManager.default.fileExists(atPath: directory) else {
            throw ActionFailure("working directory \(directory) does not exist", retryable: false)
        }
        _ = spawnAddChdir(&fileActions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard rc == 0 else {
            throw ActionFailure("cannot start \(executable): \(String(cString: strerror(rc)))", retryable: false)
        }
        let child = pid
        return try await withTaskCancellationHandler {
            let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
                DispatchQueue.global().async {
                    var status: Int32 = 0
                    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                    continuation.resume(returning: status)
                }
            }
            if Task.isCancelled { throw CancellationError() }
            // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (macros are not imported).
            let signal = status & 0x7f
            if signal == 0 { return (status >> 8) & 0xff }
            return 128 + signal
        } onCancel: {
            kill(-child, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { kill(-child, SIGKILL) }
        }
    }
}
