import Foundation
import RunbookActions
import RunbookEngine
import RunbookSQLite

/// A benchmark case produced a wrong result (the figures would mean nothing).
public struct BenchmarkFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Problem sizes. `full` is what the issue asks for; `quick` keeps tests to a few seconds.
public struct BenchmarkSizes: Sendable, Equatable {
    public var chainSteps: Int
    public var fanOutSteps: Int
    public var fanOutParallelism: Int
    /// Finished steps before the one left for the resume case.
    public var resumeFinishedSteps: Int
    public var validateSteps: Int
    public var polls: Int
    public var floorCommits: Int

    public static let full = BenchmarkSizes(chainSteps: 1_000, fanOutSteps: 1_000, fanOutParallelism: 8, resumeFinishedSteps: 10_000, validateSteps: 10_000, polls: 5_000, floorCommits: 1_000)
    public static let quick = BenchmarkSizes(chainSteps: 40, fanOutSteps: 40, fanOutParallelism: 8, resumeFinishedSteps: 40, validateSteps: 200, polls: 40, floorCommits: 40)
}

/// One repetition of one case.
public struct Sample: Sendable {
    /// Wall time of the measured part.
    public var seconds: Double
    /// Units of work in it (steps, polls, commits).
    public var units: Int
    /// Durable write calls the engine made during the measured part.
    public var writes: Int = 0
    /// Wall time inside those write calls.
    public var writeSeconds: Double = 0
    /// Case-specific figures (e.g. peak memory).
    public var extra: [String: Double] = [:]
}

/// The cases, one repetition each, every one on a fresh store (an SQLite file in `directory`, or a run on the
/// benchmark's PostgreSQL database).
public enum BenchmarkCases {
    /// The built-in actions plus the benchmark-only `bench-poll`.
    public static func registry() -> ActionRegistry {
        var registry = BuiltinActions.registry()
        registry.register(PollUntilAction())
        return registry
    }

    static func engine(_ base: any RunStore) -> (RunEngine, CountingStore) {
        let store = CountingStore(base)
        let registry = registry()
        let env = EngineEnvironment(store: store, registry: registry)
        return (RunEngine(environment: env), store)
    }

    static func parse(_ source: String, name: String) throws -> RunbookDefinition {
        try RunbookParser.parse(source: source, file: "\(name).yaml", registry: registry())
    }

    /// A fresh database path in `directory` (removing leftovers of an earlier run with the same name).
    static func freshDatabase(_ directory: String, _ name: String) -> String {
        let path = (directory as NSString).appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).sqlite")
        removeDatabase(path)
        return path
    }

    static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static func options(parallelism: Int, directory: String) -> RunOptions {
        RunOptions(autoApprove: false, parallelism: parallelism, workingDirectory: directory)
    }

    static func requireAllSucceeded(_ outcome: RunOutcome, count: Int, what: String) throws {
        guard outcome.run.status == .succeeded else {
            throw BenchmarkFailure("\(what): run ended \(outcome.run.status.rawValue): \(outcome.run.message ?? "")")
        }
        let succeeded = outcome.steps.filter { $0.status == .succeeded }.count
        guard outcome.steps.count == count, succeeded == count else {
            throw BenchmarkFailure("\(what): \(succeeded) of \(outcome.steps.count) steps succeeded, expected \(count)")
        }
    }

    // MARK: - Cases

    /// `steps` sequential `pass` steps; the sample is the wall time of `RunEngine.start` (run creation to done).
    public static func chain(directory: String, steps: Int, store place: BenchmarkStore = .sqlite) async throws -> Sample {
        try await timedStart(RunbookGenerator.chain(name: "bench-chain", count: steps), "bench-chain", place, directory, parallelism: 4) { outcome, _ in
            try requireAllSucceeded(outcome, count: steps, what: "chain")
            return steps
        }
    }

    /// `steps` independent `pass` steps under `parallelism`.
    public static func fanOut(directory: String, steps: Int, parallelism: Int, store place: BenchmarkStore = .sqlite) async throws -> Sample {
        try await timedStart(RunbookGenerator.fanOut(name: "bench-fanout", count: steps), "bench-fanout", place, directory,
                             parallelism: parallelism) { outcome, _ in
            try requireAllSucceeded(outcome, count: steps, what: "fan-out")
            return steps
        }
    }

    /// Starts `source` on a fresh store at `place` and times `RunEngine.start` (run creation to done); `check`, given
    /// the outcome and the store before it is removed, throws on a wrong result and answers the units of work.
    static func timedStart(_ source: String, _ name: String, _ place: BenchmarkStore, _ directory: String, parallelism: Int,
                           check: (RunOutcome, CountingStore) async throws -> Int) async throws -> Sample {
        let definition = try parse(source, name: name)
        let (base, remove) = try place.open(name, directory: directory)
        defer { remove() }
        let (engine, store) = engine(base)
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await engine.start(definition: definition, parameters: [:], options: options(parallelism: parallelism, directory: directory))
        let elapsed = (clock.now - start).seconds
        let units = try await check(outcome, store)
        return Sample(seconds: elapsed, units: units, writes: store.writes, writeSeconds: store.writeSeconds)
    }

    /// A `finished + 1`-step chain whose last step is an approval gate: the run is driven until it stops
    /// `awaiting_approval` with `finished` succeeded steps (not timed), then `RunEngine.approve` — which
    /// records the approval, loads the run, takes the lease, re-parses the stored definition and drives the
    /// last step to the end — is timed.
    public static func resume(directory: String, finished: Int, store place: BenchmarkStore = .sqlite) async throws -> Sample {
        let count = finished + 1
        let definition = try parse(RunbookGenerator.chain(name: "bench-resume", count: count, gateLast: true), name: "bench-resume")
        let (base, remove) = try place.open("resume", directory: directory)
        defer { remove() }
        let (engine, store) = engine(base)
        let stopped = try await engine.start(definition: definition, parameters: [:], options: options(parallelism: 4, directory: directory))
        guard stopped.run.status == .awaitingApproval else {
            throw BenchmarkFailure("resume: setup run ended \(stopped.run.status.rawValue), expected awaiting_approval")
        }
        let done = stopped.steps.filter { $0.status == .succeeded }.count
        guard done == finished else { throw BenchmarkFailure("resume: setup finished \(done) steps, expected \(finished)") }
        store.reset()
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await engine.approve(runID: stopped.run.id, stepID: "s\(count)")
        let elapsed = (clock.now - start).seconds
        try requireAllSucceeded(outcome, count: count, what: "resume")
        return Sample(seconds: elapsed, units: 1, writes: store.writes, writeSeconds: store.writeSeconds)
    }

    /// One waiter polling `polls` times with zero interval; every poll is a recorded (committed) transition.
    public static func polls(directory: String, polls: Int, store place: BenchmarkStore = .sqlite) async throws -> Sample {
        try await timedStart(RunbookGenerator.poller(name: "bench-polls", polls: polls), "bench-polls", place, directory, parallelism: 1) { outcome, store in
            try requireAllSucceeded(outcome, count: 1, what: "polls")
            let recorded = outcome.steps[0].polls
            guard recorded == polls else { throw BenchmarkFailure("polls: \(recorded) polls recorded, expected \(polls)") }
            let events = try await store.events(runID: outcome.run.id).filter { $0.kind == EventKind.waiterPoll.rawValue }.count
            guard events == polls else { throw BenchmarkFailure("polls: \(events) waiter_poll events, expected \(polls)") }
            return recorded
        }
    }

    /// The floor: `commits` single-INSERT WAL + synchronous=FULL transactions in `directory`.
    public static func floor(directory: String, commits: Int) throws -> Sample {
        let path = freshDatabase(directory, "floor")
        defer { removeDatabase(path) }
        let result = try FloorBenchmark.run(path: path, commits: commits)
        guard result.rows == commits + 20 else { throw BenchmarkFailure("floor: \(result.rows) rows, expected \(commits + 20)") }
        return Sample(seconds: result.seconds, units: commits, writes: commits, writeSeconds: result.seconds)
    }
}
