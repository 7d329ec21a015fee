import Foundation

/// The figure users see: `runbook run FILE --json` of the chain as a child process, start to exit.
enum ProcessBenchmark {
    /// `runbook` beside this `runbook-bench` (`swift build -c release` builds both), if there is one.
    static func siblingExecutable(of benchmark: String?) -> String? {
        guard let benchmark else { return nil }
        let candidate = (benchmark as NSString).deletingLastPathComponent + "/runbook"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    /// Write the chain runbook once; every repetition runs it against a fresh database.
    static func writeRunbook(directory: String, steps: Int) throws -> String {
        let path = directory + "/bench-process.yaml"
        try RunbookGenerator.chain(name: "bench-process", count: steps).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Wall time of one whole `runbook run`, checked to have succeeded with every step.
    static func run(executable: String, runbook: String, directory: String, steps: Int, store: BenchmarkStore = .sqlite,
                    environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Sample {
        let (database, remove) = store.processDatabase(directory: directory)
        defer { remove() }
        let child = try ChildRun.timed(executable, ["--db", database, "run", runbook, "--json"], directory: directory, environment: environment)
        let report = (try? JSONSerialization.jsonObject(with: child.output)) as? [String: Any]
        let succeeded = ((report?["steps"] as? [[String: Any]]) ?? []).filter { $0["status"] as? String == "succeeded" }.count
        guard child.status == 0, report?["status"] as? String == "succeeded", succeeded == steps else {
            throw BenchmarkFailure("process: runbook exited \(child.status) with \(succeeded) of \(steps) steps succeeded")
        }
        return Sample(seconds: child.seconds, units: steps)
    }
}

/// One child process run to its end: what it wrote to standard output, how it exited, and its wall time.
struct ChildRun {
    var output: Data
    var status: Int32
    var seconds: Double

    /// Runs `executable` with `arguments`, timing it from launch to exit; standard error is discarded unless
    /// `keepStandardError` (then the child writes to ours).
    static func timed(_ executable: String, _ arguments: [String], directory: String? = nil,
                      environment: [String: String]? = nil, keepStandardError: Bool = false) throws -> ChildRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        if !keepStandardError { process.standardError = FileHandle.nullDevice }
        let clock = ContinuousClock()
        let start = clock.now
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ChildRun(output: output, status: process.terminationStatus, seconds: (clock.now - start).seconds)
    }
}
