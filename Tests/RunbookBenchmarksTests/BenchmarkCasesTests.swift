import Foundation
import RunbookEngine
import Testing
@testable import RunbookBenchmarks

/// Every case runs at quick sizes and produces a correct result. No timing assertions.
@Suite final class BenchmarkCasesTests {
    let directory: String

    init() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("runbook-bench-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    let sizes = BenchmarkSizes.quick

    @Test func chainSucceedsWithEveryStep() async throws {
        // chain() throws unless the run ends succeeded with every step succeeded.
        let sample = try await BenchmarkCases.chain(directory: directory, steps: sizes.chainSteps)
        #expect(sample.units == sizes.chainSteps)
        #expect(sample.seconds > 0)
        // One durable commit per transition on the sequential path: about one per step.
        #expect(sample.writes >= sizes.chainSteps)
        #expect(sample.writes <= sizes.chainSteps + 4)
    }

    @Test func fanOutSucceedsWithEveryStep() async throws {
        let sample = try await BenchmarkCases.fanOut(directory: directory, steps: sizes.fanOutSteps, parallelism: sizes.fanOutParallelism)
        #expect(sample.units == sizes.fanOutSteps)
        #expect(sample.writes >= 2)
    }

    @Test func resumeFinishesTheLastStep() async throws {
        let sample = try await BenchmarkCases.resume(directory: directory, finished: sizes.resumeFinishedSteps)
        #expect(sample.units == 1)
        #expect(sample.seconds > 0)
    }

    @Test func pollsAreAllRecorded() async throws {
        let sample = try await BenchmarkCases.polls(directory: directory, polls: sizes.polls)
        #expect(sample.units == sizes.polls)
        #expect(sample.writes >= sizes.polls)
    }

    @Test func validateReturnsTheStepCount() throws {
        let file = try ValidateBenchmark.writeRunbook(directory: directory, steps: sizes.validateSteps)
        let result = try ValidateBenchmark.inProcess(file: file)
        #expect(result.steps == sizes.validateSteps)
        #expect(result.peakKB > 0)
    }

    @Test func generatedRunbooksValidate() throws {
        let registry = BenchmarkCases.registry()
        let chain = try RunbookParser.parse(source: RunbookGenerator.chain(name: "c", count: 5, gateLast: true), file: "c.yaml", registry: registry)
        #expect(chain.steps.count == 5)
        #expect(chain.steps.last?.approvalRequired == true)
        #expect(chain.steps[3].needs == ["s3"])
        let fan = try RunbookParser.parse(source: RunbookGenerator.fanOut(name: "f", count: 5), file: "f.yaml", registry: registry)
        #expect(fan.steps.allSatisfy { $0.needs.isEmpty })
        let large = try RunbookParser.parse(source: RunbookGenerator.large(name: "l", count: 120), file: "l.yaml", registry: registry)
        #expect(large.steps.count == 120)
    }

    @Test func floorCommits() throws {
        let sample = try BenchmarkCases.floor(directory: directory, commits: sizes.floorCommits)
        #expect(sample.seconds > 0)
        #expect(sample.units == sizes.floorCommits)
    }

    @Test func runnerReportsEveryCase() async throws {
        var options = BenchmarkOptions()
        options.quick = true
        options.repetitions = 1
        options.jsonOnly = true
        options.directory = directory
        let lines = Lines()
        let reports = try await BenchmarkRunner.run(options) { lines.append($0) }
        #expect(reports.map(\.name) == ["floor", "chain", "fanout", "polls", "resume", "validate"])
        #expect(reports.first?.median ?? 0 > 0)
        #expect(lines.all.count == reports.count)
        for line in lines.all {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["case"] is String)
            #expect(object?["median"] is Double)
        }
    }

    @Test func optionsParse() throws {
        let options = try BenchmarkOptions.parse(["--repetitions", "3", "--quick", "--json-only", "--dir", "/tmp/x", "--only", "chain,floor"])
        #expect(options.repetitions == 3)
        #expect(options.quick && options.jsonOnly)
        #expect(options.directory == "/tmp/x")
        #expect(options.only == ["chain", "floor"])
        #expect(throws: BenchmarkFailure.self) { try BenchmarkOptions.parse(["--only", "nope"]) }
        #expect(try BenchmarkOptions.parse(["--db", "postgres://u@h:5/d"]).database == "postgres://u@h:5/d")
        #expect(throws: BenchmarkFailure.self) { try BenchmarkOptions.parse(["--db", "runs.sqlite"]) }
    }
}

final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ line: String) { lock.withLock { items.append(line) } }
    var all: [String] { lock.withLock { items } }
}
