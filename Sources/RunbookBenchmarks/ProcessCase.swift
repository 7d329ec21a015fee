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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--db", database, "run", runbook, "--json"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let clock = ContinuousClock()
        let start = clock.now
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = (clock.now - start).seconds
        let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let succeeded = ((report?["steps"] as? [[String: Any]]) ?? []).filter { $0["status"] as? String == "succeeded" }.count
        guard process.terminationStatus == 0, report?["status"] as? String == "succeeded", succeeded == steps else {
            throw BenchmarkFailure("process: runbook exited \(process.terminationStatus) with \(succeeded) of \(steps) steps succeeded")
        }
        return Sample(seconds: elapsed, units: steps)
    }
}
