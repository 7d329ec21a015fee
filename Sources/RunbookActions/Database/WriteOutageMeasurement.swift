import Foundation
import RunbookAWS
import RunbookEngine
import RunbookPostgres

/// Write availability across a disruption (a forced failover), measured from the client's side.
///
/// A canary writer commits one row every `interval` through the instance's endpoint, each write on a fresh session with
/// short time limits (a dropped connection or a dead host costs the limit, not TCP's minutes). Rows are this run's,
/// keyed by the step and a sequence number; a failed write is retried with the same number (the write is an upsert, so
/// a commit whose acknowledgement was lost is simply written again), which makes the acknowledged rows exactly
/// sequences 1…N, the set a later `db.check-canary` with `acknowledged: N` looks for.
///
/// The writer keeps going until writes have failed and then been acknowledged `resumeAcks` times in a row, or, when no
/// write has failed, until the instance is `available` again and `resumeAcks` more writes were acknowledged, or until
/// `maxOutage` has passed since the disruption was requested.
struct WriteOutageMeasurement: Sendable {
    let target: DatabaseTarget
    let runID: String
    let step: String
    let interval: Duration
    let maxOutage: Duration
    var resumeAcks = 3
    /// How often the instance's status is read while no write has failed yet.
    var settlePace: Duration = .seconds(5)

    /// The inputs an action that measures writes accepts (beside `identifier` and `region`, which it has already).
    static let inputs: [ActionInputSpec] = [
        ActionInputSpec("measure_writes", description: "true: a canary writer commits a row every write_interval through the endpoint "
                        + "while the reboot runs; outputs write_outage_seconds and canary_rows_acknowledged"),
        ActionInputSpec("write_interval", description: "with measure_writes, the time between canary writes (default 200ms)"),
        ActionInputSpec("max_outage", description: "with measure_writes, how long writes may keep failing after the reboot before the step fails (default 10m)"),
    ] + DatabaseConnector.inputs.compactMap { spec in
        switch spec.name {
        case "identifier", "region": return nil
        case "connect_timeout": return ActionInputSpec("connect_timeout", description: "with measure_writes, each write's connect and login time limit (default 2s)")
        case "statement_timeout": return ActionInputSpec("statement_timeout", description: "with measure_writes, each write's statement time limit (default 2s)")
        default: return spec
        }
    }

    /// The outputs of an action that was not asked to measure (so a runbook can always refer to them).
    static let notMeasured: [String: String] = [
        "writes_measured": "false", "write_outage_seconds": "", "canary_rows_acknowledged": "", "canary_step": "",
        "write_failures": "", "first_failure_at": "", "writes_resumed_at": "", "last_write_before_outage_at": "",
    ]

    /// The measurement a step's inputs ask for: endpoint and credentials resolved once, before the disruption.
    static func prepare(_ connector: DatabaseConnector, _ invocation: ActionInvocation) async throws -> WriteOutageMeasurement {
        let interval = try invocation.duration("write_interval") ?? .milliseconds(200)
        let maxOutage = try invocation.duration("max_outage") ?? .seconds(600)
        guard interval > .zero, maxOutage > .zero else {
            throw ActionFailure("write_interval and max_outage must be longer than zero", retryable: false)
        }
        var (_, target) = try await connector.target(invocation)
        target.connectTimeout = try invocation.duration("connect_timeout") ?? .seconds(2)
        target.statementTimeout = try invocation.duration("statement_timeout") ?? .seconds(2)
        return WriteOutageMeasurement(target: target, runID: invocation.runID, step: invocation.stepID, interval: interval, maxOutage: maxOutage)
    }

    /// For a re-run after a crash: whether the server restarted after this step's first canary row of an earlier attempt
    /// (which was committed before that attempt requested the reboot), i.e. that reboot already happened. Nil when no
    /// earlier attempt committed a row or the server cannot be asked (the baseline write then decides).
    ///
    /// A forced failover starts PostgreSQL afresh (on RDS on the standby's host, in the emulator the one server), so
    /// `pg_postmaster_start_time()` moves past the row's commit time; both times are the server's clock.
    func restartedSinceEarlierAttempt() async -> Bool? {
        try? await DatabaseSession.with(target) { session -> Bool? in
            let rows = try await session.canaries(runID: runID).filter { $0.step == step }
            guard let first = rows.map(\.writtenAt).min() else { return nil }
            let started = try await session.value("SELECT extract(epoch FROM pg_postmaster_start_time())::text", doing: "reading the server's start time")
            guard let started = started.flatMap(Double.init) else { return nil }
            return Date(timeIntervalSince1970: started) > first
        } ?? nil
    }

    /// What the writer saw.
    struct Outcome: Sendable {
        var writes: [WriteLog.Write]
        /// When the disruption was requested (epoch ms, taken right before the call).
        var requestedAt: Int64
        /// False when writes were still failing at `maxOutage`.
        var resumed: Bool

        var acknowledged: Int { writes.filter(\.acknowledged).count }
        var failures: [WriteLog.Write] { writes.filter { !$0.acknowledged } }
        var firstFailureIndex: Int? { writes.firstIndex { !$0.acknowledged } }
        /// The last acknowledged write before the first failure.
        var lastAckBeforeOutage: WriteLog.Write? { firstFailureIndex.flatMap { index in writes[..<index].last { $0.acknowledged } } }
        /// The first acknowledged write after the first failure.
        var firstAckAfterOutage: WriteLog.Write? { firstFailureIndex.flatMap { index in writes[index...].first { $0.acknowledged } } }

        /// Seconds from the last acknowledged write before the first failure to the first acknowledged one after it;
        /// 0 when no write failed, nil when writes did not resume.
        var outageSeconds: Double? {
            guard firstFailureIndex != nil else { return 0 }
            guard let before = lastAckBeforeOutage, let after = firstAckAfterOutage else { return nil }
            let elapsed = (after.instant - before.instant).components
            return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }

        var outputs: [String: String] {
            [
                "writes_measured": "true",
                "write_outage_seconds": outageSeconds.map { String(format: "%.3f", $0) } ?? "",
                "canary_rows_acknowledged": String(acknowledged),
                "write_failures": String(failures.count),
                "first_failure_at": firstFailureIndex.map { DatabaseOutput.milliseconds(writes[$0].at) } ?? "",
                "writes_resumed_at": firstAckAfterOutage.map { DatabaseOutput.milliseconds($0.at) } ?? "",
                "last_write_before_outage_at": lastAckBeforeOutage.map { DatabaseOutput.milliseconds($0.at) } ?? "",
                "first_write_error": failures.first?.error ?? "",
            ]
        }
    }

    /// Writes until one row is acknowledged, runs `disruption` while the writer keeps writing, and returns once writes
    /// have resumed (or `maxOutage` passed). `settled` says whether the instance is available again (read only while no
    /// write has failed). A failure before the disruption was requested is retryable: nothing has been disrupted yet.
    func measure(around disruption: () async throws -> Void, settled: @escaping @Sendable () async throws -> Bool) async throws -> Outcome {
        let log = WriteLog()
        var lastError = ""
        for attempt in 1...3 {
            let write = await write(sequence: 1)
            if write.acknowledged {
                log.record(write)
                break
            }
            lastError = write.error ?? ""
            if attempt < 3 { try await Task.sleep(for: interval) }
        }
        guard log.acknowledged > 0 else {
            throw ActionFailure("no canary write to \(target) was acknowledged before the reboot, so it was not requested: \(lastError)", retryable: true)
        }

        let writer = Task { await writeUntilDone(log) }
        let requestedAt = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))  // a real outage is timed in real time
        log.markRequested()
        do {
            try await disruption()
        } catch {
            log.stop()
            _ = await writer.value
            throw error
        }
        let monitor = Task {
            while !Task.isCancelled && !log.isDone {
                if log.failureCount == 0, (try? await settled()) == true {
                    log.markSettled()
                    return
                }
                try? await Task.sleep(for: settlePace)
            }
        }
        let resumed = await writer.value
        monitor.cancel()
        return Outcome(writes: log.writes, requestedAt: requestedAt, resumed: resumed)
    }

    /// The writer: one write per `interval` (a slow write delays the next, never overlaps it) until the log says done.
    /// True when it ended with writes acknowledged, false when they were still failing at `maxOutage`.
    private func writeUntilDone(_ log: WriteLog) async -> Bool {
        let clock = ContinuousClock()
        var sequence = Int64(log.acknowledged + 1)
        while true {
            let started = clock.now
            if let verdict = log.verdict(now: started, maxOutage: maxOutage, resumeAcks: resumeAcks) { return verdict }
            let write = await write(sequence: sequence)
            log.record(write)
            if write.acknowledged { sequence += 1 }
            try? await clock.sleep(until: started + interval)
        }
    }

    /// One canary write on a session of its own.
    private func write(sequence: Int64) async -> WriteLog.Write {
        do {
            let ack = try await DatabaseSession.with(target) { session in
                _ = try await session.writeCanary(runID: runID, step: step, sequence: sequence)
                return (Date(), ContinuousClock.Instant.now)
            }
            return WriteLog.Write(sequence: sequence, acknowledged: true, at: ack.0, instant: ack.1, error: nil)
        } catch {
            return WriteLog.Write(sequence: sequence, acknowledged: false, at: Date(), instant: .now, error: "\(error)")
        }
    }
}

/// The writer's record, shared by the writer, the status monitor and the action.
final class WriteLog: @unchecked Sendable {
    struct Write: Sendable {
        var sequence: Int64
        var acknowledged: Bool
        /// When the acknowledgement (or the failure) arrived.
        var at: Date
        var instant: ContinuousClock.Instant
        var error: String?
    }

    private let lock = NSLock()
    private var log: [Write] = []
    private var requested: ContinuousClock.Instant?
    private var settled: ContinuousClock.Instant?
    private var stopped = false
    private var done = false

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var writes: [Write] { locked { log } }
    var acknowledged: Int { locked { log.filter(\.acknowledged).count } }
    var failureCount: Int { locked { log.filter { !$0.acknowledged }.count } }
    var isDone: Bool { locked { done } }

    func record(_ write: Write) { locked { log.append(write) } }
    func markRequested() { locked { requested = .now } }
    func markSettled() { locked { if settled == nil { settled = .now } } }
    func stop() { locked { stopped = true } }

    /// Nil while the writer must go on; else whether writes ended acknowledged.
    func verdict(now: ContinuousClock.Instant, maxOutage: Duration, resumeAcks: Int) -> Bool? {
        locked {
            let verdict = decide(now: now, maxOutage: maxOutage, resumeAcks: resumeAcks)
            if verdict != nil { done = true }
            return verdict
        }
    }

    private func decide(now: ContinuousClock.Instant, maxOutage: Duration, resumeAcks: Int) -> Bool? {
        if stopped { return true }
        guard let requested else { return nil }
        if let lastFailure = log.lastIndex(where: { !$0.acknowledged }) {
            if log.count - 1 - lastFailure >= resumeAcks { return true }
        } else if let settled, log.filter({ $0.acknowledged && $0.instant > settled }).count >= resumeAcks {
            return true
        }
        if now - requested >= maxOutage { return log.last?.acknowledged ?? false }
        return nil
    }
}
