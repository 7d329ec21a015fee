import Foundation
import Testing
@testable import RunbookEngine

/// Records what test actions did, in order, across tasks.
final class EffectLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []

    func append(_ entry: String) {
        lock.lock()
        entries.append(entry)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }

    func count(_ entry: String) -> Int { all.filter { $0 == entry }.count }
}

/// `note`: logs `do:<key>`, outputs `key` and any `echo` input; its undo logs `undo:<key>`.
/// `fail_first` input: fail attempts up to N (retryable).
struct NoteAction: StepAction {
    let log: EffectLog
    var name: String { "note" }
    var summary: String { "test action with an undo" }
    var inputs: [ActionInputSpec] { [ActionInputSpec("key", required: true), ActionInputSpec("echo"), ActionInputSpec("fail_first"), ActionInputSpec("fatal")] }
    var hasUndo: Bool { true }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let key = try invocation.requiredString("key")
        if let limit = try invocation.int("fail_first"), invocation.attempt <= limit {
            log.append("fail:\(key)")
            throw ActionFailure("\(key) failed on attempt \(invocation.attempt)")
        }
        if invocation.string("fatal") == "true" {
            log.append("fatal:\(key)")
            throw ActionFailure("\(key) failed for good", retryable: false)
        }
        log.append("do:\(key)")
        var outputs = ["key": key]
        if let echo = invocation.string("echo") { outputs["echo"] = echo }
        return outputs
    }

    func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        log.append("undo:\(invocation.stepOutputs["key"] ?? invocation.string("key") ?? "?")")
        return [:]
    }
}

/// `probe`: a waiter action returning `state` = the poll's entry in `states` (comma list; the last repeats).
struct ProbeAction: StepAction {
    let log: EffectLog
    var name: String { "probe" }
    var summary: String { "test waiter" }
    var inputs: [ActionInputSpec] { [ActionInputSpec("states", required: true), ActionInputSpec("key")] }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let states = try invocation.requiredString("states").split(separator: ",").map(String.init)
        let state = states[min(invocation.attempt - 1, states.count - 1)]
        log.append("poll:\(invocation.string("key") ?? invocation.stepID):\(state)")
        return ["state": state, "seen_by": invocation.stepOutputs["key"] ?? ""]
    }
}

/// `undo_fails`: succeeds, but its compensation (explicit, via `compensate: {action: undo_fails}`) fails while `broken` says so.
struct BrokenUndoAction: StepAction {
    let log: EffectLog
    let broken: BrokenSwitch
    var name: String { "undo_fails" }
    var summary: String { "compensation that fails while the switch is on" }
    var inputs: [ActionInputSpec] { [ActionInputSpec("key", required: true)] }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let key = try invocation.requiredString("key")
        if broken.isOn {
            log.append("broken-undo:\(key)")
            throw ActionFailure("cannot undo \(key) right now")
        }
        log.append("undo:\(key)")
        return [:]
    }
}

final class BrokenSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var on = true
    var isOn: Bool {
        lock.lock()
        defer { lock.unlock() }
        return on
    }
    func set(_ value: Bool) {
        lock.lock()
        on = value
        lock.unlock()
    }
}

/// `hang`: sleeps (really) for `duration`, so tests can interrupt it.
struct HangAction: StepAction {
    let log: EffectLog
    var name: String { "hang" }
    var summary: String { "sleep" }
    var inputs: [ActionInputSpec] { [ActionInputSpec("duration", required: true)] }

    func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        log.append("hang:\(invocation.stepID):\(invocation.attempt)")
        try await Task.sleep(for: try invocation.duration("duration") ?? .seconds(1))
        return [:]
    }
}

/// Checks `condition` every millisecond of real time until it holds or `limit` passes; says whether it held.
func eventually(within limit: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return try await condition()
}

/// An engine over an in-memory store with the test actions.
struct EngineHarness {
    let log = EffectLog()
    let broken = BrokenSwitch()
    /// By default the run's own waits take no time: each `sleep(for:)` moves the clock and is recorded.
    let clock: ManualClock
    let store: any RunStore
    let registry: ActionRegistry
    var actor = ActorIdentity(user: "tester", host: ProcessInfo.processInfo.hostName, pid: getpid())
    var hook: (@Sendable (Checkpoint) throws -> Void)? = nil
    var random: @Sendable () -> Double = { 0.5 }

    init(store: any RunStore = InMemoryRunStore(), clock: ManualClock = ManualClock(sleepsAdvance: true)) {
        self.store = store
        self.clock = clock
        registry = ActionRegistry([
            NoteAction(log: log), ProbeAction(log: log), BrokenUndoAction(log: log, broken: broken), HangAction(log: log),
        ])
    }

    var engine: RunEngine {
        let registry = self.registry
        return RunEngine(environment: EngineEnvironment(
            store: store, registry: registry, actor: actor, clock: clock, random: random, checkpointHook: hook,
            heartbeatInterval: .milliseconds(50)))
    }

    func definition(_ yaml: String) throws -> RunbookDefinition {
        try RunbookParser.parse(source: yaml, file: "test.yaml", registry: registry)
    }

    func start(_ yaml: String, parameters: [String: String] = [:], yes: Bool = false, parallelism: Int = 1) async throws -> RunOutcome {
        let definition = try definition(yaml)
        let resolved = try ParameterResolver.resolve(definition: definition, provided: parameters)
        return try await engine.start(definition: definition, parameters: resolved,
                                      options: RunOptions(autoApprove: yes, parallelism: parallelism, workingDirectory: "/tmp"))
    }
}

extension RunOutcome {
    func status(of step: String) -> StepStatus? { steps.first { $0.stepID == step }?.status }
    func record(_ step: String) -> StepRecord? { steps.first { $0.stepID == step } }
}
