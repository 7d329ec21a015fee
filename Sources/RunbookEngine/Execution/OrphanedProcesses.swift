import Foundation

extension RunEngine {
    /// How long a driver taking over waits for a killed process group to be gone.
    static let orphanKillTimeout: Duration = .seconds(20)

    /// Stop what is left of the process groups recorded for the steps that were in flight when the previous
    /// driver stopped, so a step never runs twice at once: each group still running on this machine and
    /// still that invocation's is killed (SIGKILL) and awaited. Returns the events recording the kills.
    /// Throws when a group outlives the wait; the step must not be run again while it runs.
    func stopOrphanedProcesses(_ run: RunRecord, _ steps: [StepRecord]) async throws -> [NewEvent] {
        let env = environment
        let inFlight = Set(steps.filter { [.running, .waiting, .compensating].contains($0.status) }.map(\.stepID))
        guard !inFlight.isEmpty else { return [] }
        var events: [NewEvent] = []
        for recorded in try await env.store.events(runID: run.id, kind: .processStarted) {
            guard let step = recorded.stepID, inFlight.contains(step), let process = StepProcess(detail: recorded.detail),
                  process.host == env.actor.host else { continue }
            let survivors = ProcessTable.survivors(of: process)
            guard !survivors.isEmpty else { continue }
            kill(-process.group, SIGKILL)
            let left = try await Self.awaitGone(process, within: Self.orphanKillTimeout, clock: env.clock)
            guard left.isEmpty else {
                throw EngineError(.notAllowed, "step '\(step)' of run \(run.id) still has processes \(left.map { String($0.pid) }.joined(separator: ", ")) of process group \(process.group), left by the driver that stopped, running after SIGKILL; run the command again once they have exited")
            }
            events.append(NewEvent(stepID: step, attempt: recorded.attempt, kind: .processStopped, detail: [
                "process_group": String(process.group), "pids": survivors.map { String($0.pid) }.joined(separator: " "),
                "signal": "SIGKILL", "reason": "left running by a driver that stopped",
            ], at: env.clock.nowMilliseconds, actor: env.actor))
        }
        return events
    }

    /// Poll until nothing of `process`'s group is left, or `limit` passes; returns what is left.
    private static func awaitGone(_ process: StepProcess, within limit: Duration, clock: any RunClock) async throws -> [ProcessTable.Entry] {
        let deadline = clock.monotonicNow + limit
        while true {
            let left = ProcessTable.members(of: process.group)
            if left.isEmpty || clock.monotonicNow >= deadline { return left }
            try await clock.sleep(for: .milliseconds(10))
        }
    }
}
