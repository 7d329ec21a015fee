import Foundation
import RunbookActions
import RunbookEngine
import RunbookPostgresStore
import Testing

/// Thrown by the checkpoint hook to stop the engine dead at one boundary, as a power cut would.
private struct SimulatedCrash: Error {}

/// Counts checkpoint boundaries and crashes at the `crashAt`-th one (1-based); 0 never crashes.
private final class BoundaryCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    let crashAt: Int

    init(crashAt: Int) { self.crashAt = crashAt }

    func hit(_ point: Checkpoint) throws {
        let crash = lock.withLock {
            count += 1
            return count == crashAt
        }
        if crash { throw SimulatedCrash() }
    }

    var total: Int { lock.withLock { count } }
}

/// Shell steps with two parallel branches; every side effect is idempotent (`ledger` gains a line only if
/// absent), so re-running a step after a crash changes nothing in effect.
private let crashRunbook: String = {
    func step(_ id: String, needs: [String]) -> String {
        """
          - id: \(id)
            needs: [\(needs.joined(separator: ", "))]
            action: shell
            with:
              run: 'grep -qx "$STEP" ledger 2>/dev/null || echo "$STEP" >> ledger; echo "done=$STEP" >> "$RUNBOOK_OUTPUT"'
              env: { STEP: \(id) }

        """
    }
    return "name: crash\nsteps:\n" + step("setup", needs: []) + step("left-1", needs: ["setup"]) + step("left-2", needs: ["left-1"])
        + step("right-1", needs: ["setup"]) + step("join", needs: ["left-2", "right-1"]) + step("publish", needs: ["join"])
}()

/// The crash-at-every-boundary test of the SQLite store (RunbookActionsTests), on the PostgreSQL store: a
/// crash at any checkpoint boundary, then a resume by another driver, ends exactly as the uninterrupted run.
@Suite(.serialized) struct PostgresCrashBoundaryTests {
    /// A process that no longer exists on this host: its lease is abandoned at once, as after a real crash.
    static let deadActor = ActorIdentity(user: "crashed", host: ActorIdentity.current().host, pid: Int32.max - 7)

    struct Outcome: Equatable {
        var status: RunStatus
        var steps: [String: StepStatus]
        var ledger: [String]
    }

    func runOnce(_ server: StoreServer, crashAt: Int) async throws -> (Outcome, Int) {
        let directory = NSTemporaryDirectory() + "runbook-pgcrash-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = BuiltinActions.registry()
        let definition = try RunbookParser.parse(source: crashRunbook, file: "crash.yaml", registry: registry)
        let options = RunOptions(parallelism: 1, workingDirectory: directory)
        let counter = BoundaryCounter(crashAt: crashAt)
        let runID = "crash-\(crashAt)"
        let crashing = RunEngine(environment: EngineEnvironment(store: try server.open(), registry: registry, actor: Self.deadActor, checkpointHook: counter.hit))
        let store = try server.open()
        var outcome: RunOutcome
        do {
            outcome = try await crashing.start(definition: definition, parameters: [:], options: options, runID: runID)
        } catch is SimulatedCrash {
            let fresh = RunEngine(environment: EngineEnvironment(store: store, registry: registry))
            if try await store.run(id: runID) == nil {
                outcome = try await fresh.start(definition: definition, parameters: [:], options: options, runID: runID)
            } else {
                outcome = try await fresh.resume(runID: runID)
            }
        }
        let problem = AuditChain.verify(run: try await store.run(id: runID), events: try await store.events(runID: runID),
                                        steps: try await store.steps(runID: runID))
        #expect(problem == nil, "audit chain broken after a crash at boundary \(crashAt): \(problem?.description ?? "")")
        let ledger = ((try? String(contentsOfFile: directory + "/ledger", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let steps = Dictionary(uniqueKeysWithValues: outcome.steps.map { ($0.stepID, $0.status) })
        return (Outcome(status: outcome.run.status, steps: steps, ledger: ledger), counter.total)
    }

    @Test func crashAtEveryBoundaryThenResumeEqualsTheUninterruptedRun() async throws {
        try await StoreServer.with { server in
            let (reference, boundaries) = try await runOnce(server, crashAt: 0)
            #expect(reference.status == .succeeded)
            #expect(reference.ledger == ["setup", "left-1", "left-2", "right-1", "join", "publish"])
            #expect(boundaries > 20)
            for crashAt in 1...boundaries {
                let (state, _) = try await runOnce(server, crashAt: crashAt)
                #expect(state == reference, "crash at boundary \(crashAt) of \(boundaries)")
            }
        }
    }
}
