import Foundation
import RunbookEngine
import RunbookPostgres

/// `db.recovery-point`: what a promotion of `identifier` (a standby) would lose, measured from the databases,
/// and the `max_lag` gate on it.
///
/// With the old writer's final LSN (from its fence) the loss is exact: `rpo_bytes` = final LSN − what the
/// standby has received (a promotion replays all of it first), `rpo_basis: lsn`, and `rpo_seconds` is 0 when nothing is missing, else at most the time from
/// the standby's last replayed commit to the fence. Without it (the writer did not answer) `rpo_bytes` is
/// `unknown` and `rpo_seconds` is the upper bound from the last replayed commit to now (`replay_timestamp`),
/// or the CloudWatch lag given in `lag_metric_seconds` when the standby has replayed no commit
/// (`replica_lag_metric`). A standby that has not replayed the final LSN yet is given `catch_up` to do so.
public struct RecoveryPointAction: StepAction {
    let connector: DatabaseConnector
    public init(provider: AWSClientProvider) { connector = DatabaseConnector(provider: provider) }
    public let name = "db.recovery-point"
    public let summary = "measure what promoting a standby loses (LSN distance, commit-time gap) and gate on max_lag"
    public var inputs: [ActionInputSpec] {
        DatabaseConnector.inputs + [
            ActionInputSpec("writer_final_lsn", description: "the old writer's WAL position after its fence (empty: it did not answer)"),
            ActionInputSpec("fenced_at", description: "when the old writer was fenced (epoch ms)"),
            ActionInputSpec("lag_metric_seconds", description: "the ReplicaLag metric, used when nothing better is known"),
            ActionInputSpec("catch_up", description: "how long the standby may take to replay writer_final_lsn (default 30s)"),
            ActionInputSpec("max_lag", description: "refuse when the loss may exceed this duration (unless force)"),
            ActionInputSpec("force", description: "true: report, never refuse"),
        ]
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let final = try invocation.string("writer_final_lsn").flatMap { $0.isEmpty ? nil : $0 }.map { text -> WALPosition in
            guard let position = WALPosition(text) else { throw ActionFailure("writer_final_lsn '\(text)' is not a WAL position", retryable: false) }
            return position
        }
        let status = try await replayStatus(toward: final, invocation)
        let measured = try measure(status, final: final, invocation)
        try gate(measured, invocation)
        return measured.outputs(status)
    }

    /// The standby's status once it has replayed `final` or `catch_up` has passed.
    private func replayStatus(toward final: WALPosition?, _ invocation: ActionInvocation) async throws -> ReplicationStatus {
        let deadline = ContinuousClock.now + (try invocation.duration("catch_up") ?? .seconds(30))
        while true {
            let status = try await connector.withSession(invocation) { _, session in try await session.replicationStatus() }
            guard status.isStandby else {
                throw ActionFailure("\(try invocation.requiredString("identifier")) is not a standby (it takes writes): nothing to measure", retryable: false)
            }
            let kept = [status.receivedPosition, status.replayedPosition].compactMap { $0 }.max()
            guard let final, let kept, kept < final, ContinuousClock.now < deadline else { return status }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    struct Measurement {
        var bytes: UInt64?
        var seconds: Double?
        var basis: String

        func outputs(_ status: ReplicationStatus) -> [String: String] {
            [
                "rpo_bytes": bytes.map(String.init) ?? "unknown",
                "rpo_seconds": seconds.map { String(format: "%.1f", $0) } ?? "unknown",
                "rpo_basis": basis,
                "replay_lsn": status.replayedPosition?.description ?? "",
                "received_lsn": status.receivedPosition?.description ?? "",
                "last_replay_at": status.lastReplayedCommit.map(DatabaseOutput.milliseconds) ?? "",
            ]
        }
    }

    private func measure(_ status: ReplicationStatus, final: WALPosition?, _ invocation: ActionInvocation) throws -> Measurement {
        let lastCommit = status.lastReplayedCommit
        // A promotion replays everything the standby has received before it takes writes, so what is lost
        // is what it never received.
        if let final, let kept = [status.receivedPosition, status.replayedPosition].compactMap({ $0 }).max() {
            let bytes = final.bytesAhead(of: kept)
            let fencedAt = try invocation.string("fenced_at").flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) } ?? Date()
            let seconds = bytes == 0 ? 0 : lastCommit.map { max(0, fencedAt.timeIntervalSince($0)) }
            return Measurement(bytes: bytes, seconds: seconds, basis: "lsn")
        }
        if let lastCommit {
            return Measurement(bytes: nil, seconds: max(0, Date().timeIntervalSince(lastCommit)), basis: "replay_timestamp")
        }
        let metric = invocation.string("lag_metric_seconds").flatMap(Double.init)
        return Measurement(bytes: nil, seconds: metric, basis: "replica_lag_metric")
    }

    private func gate(_ measured: Measurement, _ invocation: ActionInvocation) throws {
        guard try invocation.bool("force") != true, let maxLag = try invocation.duration("max_lag") else { return }
        let limit = Double(maxLag.components.seconds) + Double(maxLag.components.attoseconds) / 1e18
        if measured.bytes == 0 { return }
        guard let seconds = measured.seconds else {
            throw ActionFailure("the data loss of a promotion is unknown (no LSN, no replayed commit, no lag metric); set force=true to promote anyway",
                                retryable: false)
        }
        guard seconds <= limit else {
            let bytes = measured.bytes.map { "\($0) bytes of WAL, " } ?? ""
            throw ActionFailure("promoting now would lose \(bytes)up to \(String(format: "%.1f", seconds)) s of commits "
                                + "(\(measured.basis)), over max_lag \(DurationText.format(maxLag)); set force=true to promote anyway",
                                retryable: false)
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only measurement") }
}
