import Foundation

/// The built `runbook` executable, for end-to-end tests that run it as a user would.
public enum RunbookBinary {
    /// The path of `runbook` next to the test bundle (`swift build --build-tests` builds it there).
    public static func path() throws -> String {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent + "/runbook")
        }
        let argv0 = CommandLine.arguments.first ?? ""
        candidates.append((argv0 as NSString).deletingLastPathComponent + "/runbook")
        var directory = (argv0 as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            candidates.append(directory + "/runbook")
            directory = (directory as NSString).deletingLastPathComponent
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw BinaryNotFound(searched: candidates)
    }

    /// The repository root (the directory holding Package.swift).
    public static func repositoryRoot(from file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    public struct BinaryNotFound: Error, CustomStringConvertible {
        public var searched: [String]
        public var description: String { "the runbook binary was not found (run `swift build` first); looked in \(searched.joined(separator: ", "))" }
    }
}

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String

    public init(exitCode: Int32, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs the `runbook` binary (or any program) with arguments and environment, as a user would.
public enum CommandRunner {
    /// Run to completion and capture output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: String? = nil) throws -> CommandResult {
        let process = try start(executable, arguments, environment: environment, directory: directory)
        let out = process.stdoutFile, err = process.stderrFile
        let status = ChildExit.wait(process.process)
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        return CommandResult(
            exitCode: status,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Run to completion on a thread of its own: waiting for a child must not hold one of the few threads
    /// of Swift's cooperative pool that every other test running in parallel needs.
    public static func runDetached(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                                   directory: String? = nil) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try run(executable, arguments, environment: environment, directory: directory) })
            }.start()
        }
    }

    /// A started child process whose output goes to files.
    public struct Started: @unchecked Sendable {
        public let process: Process
        public let stdoutFile: String
        public let stderrFile: String

        public var stdout: String { (try? String(contentsOfFile: stdoutFile, encoding: .utf8)) ?? "" }
        public var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

        /// Wait for the process to exit without blocking the cooperative pool; returns its exit status.
        @discardableResult
        public func exited() async -> Int32 {
            let process = self.process
            return await withCheckedContinuation { continuation in
                Thread {
                    continuation.resume(returning: ChildExit.wait(process))
                }.start()
            }
        }
    }

    /// Start without waiting (for tests that kill it).
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                             directory: String? = nil) throws -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let base = NSTemporaryDirectory() + "runbook-cmd-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
        process.standardError = FileHandle(forWritingAtPath: base + ".err")
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Started(process: process, stdoutFile: base + ".out", stderrFile: base + ".err")
    }
}

/// Runs `python3` (e.g. botocore as a reference implementation) off the cooperative pool.
public enum Python {
    /// Run `python3 -c script args…`; returns the exit status and standard output.
    public static func run(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, stdout: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = ["python3", "-c", script] + arguments
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    return (ChildExit.wait(process), String(decoding: data, as: UTF8.self))
                })
            }.start()
        }
    }
}
