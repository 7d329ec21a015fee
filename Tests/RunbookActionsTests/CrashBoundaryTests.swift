import Foundation
import RunbookActions
import RunbookEngine
import RunbookSQLite
import Testing

/// Thrown by the checkpoint hook to stop the engine dead at one boundary, as a power cut would.
struct SimulatedCrash: Error {}

/// Counts checkpoint boundaries and crashes at the `crashAt`-th one (1-based); 0 never crashes.
final class BoundaryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var seen: [String] = []
    let crashAt: Int

    init(crashAt: Int) { self.crashAt = crashAt }

    func hit(_ point: Checkpoint) throws {
        let crash: Bool = lock.withLock {
            count += 1
            seen.append(point.description)
            return count == crashAt
        }
        if crash { throw SimulatedCrash() }
    }

    var total: Int { lock.withLock { count } }
    var points: [String] { lock.withLock { seen } }
}

/// A 10-step runbook of `shell` steps with two parallel branches and compensations. Every side effect is
/// idempotent (`ledger` gains a line only if absent), so re-running a step after a crash changes nothing
/// in effect; `raw` counts real executions.
func crashRunbook(failAtEnd: Bool) -> String {
    func step(_ id: String, needs: [String]) -> String {
        """
          - id: \(id)
            needs: [\(needs.joined(separator: ", "))]
            action: shell
            with:
              run: 'echo "$STEP" >> raw; grep -qx "$STEP" ledger 2>/dev/null || echo "$STEP" >> ledger; echo "done=$STEP" >> "$RUNBOOK_OUTPUT"'
              env: { STEP: \(id) }
            compensate:
              action: shell
              with:
                run: 'echo "undo-$STEP" >> raw; if [ -f ledger ]; then grep -vx "$STEP" ledger > ledger.tmp || true; mv ledger.tmp ledger; fi'
                env: { STEP: \(id) }

        """
    }
    var yaml = "name: crash\nsteps:\n"
    yaml += step("setup", needs: [])
    yaml += step("left-1", needs: ["setup"])
    yaml += step("left-2", needs: ["left-1"])
    yaml += step("left-3", needs: ["left-2"])
    yaml += step("right-1", needs: ["setup"])
    yaml += step("right-2", needs: ["right-1"])
    yaml += step("middle", needs: ["setup"])
    yaml += step("join", needs: ["left-3", "right-2", "middle"])
    yaml += step("publish", needs: ["join"])
    if failAtEnd {
        yaml += """
              - id: verify
                needs: [publish]
                action: shell
                with: { run: 'echo "verify" >> raw; exit 3' }

            """
    } else {
        yaml += step("verify", needs: ["publish"])
    }
    return yaml
}

struct CrashScenario {
    let directory: String
    let database: String

    init() throws {
        directory = NSTemporaryDirectory() + "runbook-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        database = directory + "/state.sqlite"
    }

    func engine(actor: ActorIdentity, hook: (@Sendable (Checkpoint) throws -> Void)?) throws -> RunEngine {
        let registry = BuiltinActions.registry()
        return RunEngine(environment: EngineEnvironment(
            store: try SQLiteRunStore(path: database), registry: registry, actor: actor, checkpointHook: hook))
    }

    func ledger() -> [String] {
        ((try? String(contentsOfFile: directory + "/ledger", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The state a user can see after a run: statuses, outputs, the ledger.
struct FinalState: Equatable, CustomStringConvertible {
    var run: RunStatus
    var steps: [String: StepStatus]
    var outputs: [String: [String: String]]
    var ledger: [String]

    var description: String { "run \(run.rawValue) steps \(steps.sorted { $0.key < $1.key }) ledger \(ledger)" }
}

func finalState(_ outcome: RunOutcome, _ scenario: CrashScenario) -> FinalState {
    FinalState(
        run: outcome.run.status,
        steps: Dictionary(uniqueKeysWithValues: outcome.steps.map { ($0.stepID, $0.status) }),
        outputs: Dictionary(uniqueKeysWithValues: outcome.steps.map { ($0.stepID, $0.outputs.filter { $0.key != "stdout" }) }),
        ledger: scenario.ledger())
}

@Suite(.serialized) struct CrashBoundaryTests {
    /// A process that no longer exists on this host: its lease is abandoned, as after a real crash.
    static let deadActor = ActorIdentity(user: "crashed", host: ProcessInfo.processInfo.hostName, pid: Int32.max - 7)
    static let liveActor = ActorIdentity.current()

    func runOnce(failAtEnd: Bool, crashAt: Int, parallelism: Int) async throws -> (FinalState, Int, CrashScenario) {
        let scenario = try CrashScenario()
        let registry = BuiltinActions.registry()
        let definition = try RunbookParser.parse(source: crashRunbook(failAtEnd: failAtEnd), file: "crash.yaml", registry: registry)
        let options = RunOptions(parallelism: parallelism, workingDirectory: scenario.directory)
        let counter = BoundaryCounter(crashAt: crashAt)
        let crashing = try scenario.engine(actor: Self.deadActor, hook: counter.hit)
        let runID = "crash-run"
        var outcome: RunOutcome
        do {
            outcome = try await crashing.start(definition: definition, parameters: [:], options: options, runID: runID)
        } catch is SimulatedCrash {
            // Resume with a fresh engine and store on the same database; if the crash came before the run
            // was recorded, the operator simply starts it again.
            let fresh = try scenario.engine(actor: Self.liveActor, hook: nil)
            let store = try SQLiteRunStore(path: scenario.database)
            if try await store.run(id: runID) == nil {
                outcome = try await fresh.start(definition: definition, parameters: [:], options: options, runID: runID)
            } else {
                outcome = try await fresh.resume(runID: runID)
            }
        }
        let store = try SQLiteRunStore(path: scenario.database)
        let problem = AuditChain.verify(run: try await store.run(id: runID), events: try await store.events(runID: runID))
        #expect(problem == nil, "audit chain broken after a crash at boundary \(crashAt): \(problem?.description ?? "")")
        return (finalState(outcome, scenario), counter.total, scenario)
    }

    @Test(arguments: [false, true])
    func crashAtEveryBoundaryThenResumeEqualsTheUninterruptedRun(failAtEnd: Bool) async throws {
        let (reference, boundaries, referenceScenario) = try await runOnce(failAtEnd: failAtEnd, crashAt: 0, parallelism: 1)
        referenceScenario.remove()
        #expect(reference.run == (failAtEnd ? .rolledBack : .succeeded))
        #expect(reference.ledger == (failAtEnd ? [] : ["setup", "left-1", "left-2", "left-3", "right-1", "right-2", "middle", "join", "publish", "verify"]))
        #expect(boundaries > 40)
        for crashAt in 1...boundaries {
            let (state, _, scenario) = try await runOnce(failAtEnd: failAtEnd, crashAt: crashAt, parallelism: 1)
            #expect(state == reference, "crash at boundary \(crashAt) of \(boundaries)")
            scenario.remove()
        }
    }

    @Test func crashesAtRandomBoundariesWithParallelBranchesConverge() async throws {
        let (reference, boundaries, referenceScenario) = try await runOnce(failAtEnd: false, crashAt: 0, parallelism: 3)
        referenceScenario.remove()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<12 {
            let crashAt = Int.random(in: 1...boundaries, using: &generator)
            let (state, _, scenario) = try await runOnce(failAtEnd: false, crashAt: crashAt, parallelism: 3)
            #expect(state.run == reference.run, "crash at \(crashAt)")
            #expect(state.steps == reference.steps, "crash at \(crashAt)")
            #expect(state.ledger.sorted() == reference.ledger.sorted(), "crash at \(crashAt)")
            scenario.remove()
        }
    }
}
