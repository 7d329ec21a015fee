import Foundation
import RunbookEngine

/// The validate case: read a generated runbook file, parse and validate it.
public enum ValidateBenchmark {
    public struct Result: Sendable, Codable {
        public var steps: Int
        /// Wall time of read + parse + validate.
        public var seconds: Double
        /// Peak resident set size of the process (VmHWM) at the end, in kilobytes.
        public var peakKB: Int
    }

    /// Write the generated `count`-step runbook into `directory`; returns its path.
    public static func writeRunbook(directory: String, steps count: Int) throws -> String {
        let name = "bench-validate"
        let path = (directory as NSString).appendingPathComponent("\(name).yaml")
        try RunbookGenerator.large(name: name, count: count).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Load and validate `file` in this process.
    public static func inProcess(file: String) throws -> Result {
        let registry = BenchmarkCases.registry()
        let clock = ContinuousClock()
        let start = clock.now
        let source = try String(contentsOfFile: file, encoding: .utf8)
        let definition = try RunbookParser.parse(source: source, file: file, registry: registry)
        let elapsed = (clock.now - start).seconds
        return Result(steps: definition.steps.count, seconds: elapsed, peakKB: MachineInfo.peakResidentKB() ?? 0)
    }

    /// The `validate-only FILE` sub-mode: validate in this (fresh) process and print the result as JSON.
    public static func childMain(file: String) -> Int32 {
        do {
            let result = try inProcess(file: file)
            let data = try JSONEncoder().encode(result)
            print(String(decoding: data, as: UTF8.self))
            return 0
        } catch {
            FileHandle.standardError.write(Data("validate-only: \(error)\n".utf8))
            return 1
        }
    }

    /// Run `executable validate-only file` as a child process, so the peak memory is that of a process that
    /// did nothing but load and validate. Also returns the child's whole wall time and ru_maxrss.
    public static func inChild(executable: String, file: String) throws -> (Result, wallSeconds: Double, maxRSSKB: Int) {
        let child = try ChildRun.timed(executable, ["validate-only", file], keepStandardError: true)
        guard child.status == 0 else {
            throw BenchmarkFailure("validate-only child exited with status \(child.status)")
        }
        let result = try JSONDecoder().decode(Result.self, from: child.output)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        // ru_maxrss of RUSAGE_CHILDREN is the largest child so far (kilobytes on Linux).
        return (result, child.seconds, Int(usage.ru_maxrss))
    }
}
