import Foundation
import RunbookEngine
import RunbookPostgres

/// The data-plane actions: they read and write the database itself, not the AWS control plane.
public enum DatabaseActions {
    public static func all(provider: AWSClientProvider) -> [any StepAction] {
        [
            DatabaseStatusAction(provider: provider), WriteCanaryAction(provider: provider),
            CheckCanaryAction(provider: provider), FenceWriterAction(provider: provider), RecoveryPointAction(provider: provider),
        ]
    }
}

/// `db.status`: an instance's role and WAL positions; with `until_lsn`, whether a standby has replayed it
/// (use it as a waiter: `until: { output: caught_up, equals: "true" }`).
public struct DatabaseStatusAction: StepAction {
    let connector: DatabaseConnector
    public init(provider: AWSClientProvider) { connector = DatabaseConnector(provider: provider) }
    public let name = "db.status"
    public let summary = "read an instance's role, WAL positions and last replayed commit from the database"
    public var inputs: [ActionInputSpec] {
        DatabaseConnector.inputs + [ActionInputSpec("until_lsn", description: "a WAL position; outputs caught_up and behind_bytes")]
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let until = try invocation.string("until_lsn").flatMap { $0.isEmpty ? nil : $0 }.map { text -> WALPosition in
            guard let position = WALPosition(text) else { throw ActionFailure("until_lsn '\(text)' is not a WAL position such as 16/B374D848", retryable: false) }
            return position
        }
        let status = try await connector.withSession(invocation) { _, session in try await session.replicationStatus() }
        var out = Self.outputs(status)
        out["secret_arn"] = try await connector.secretARN(invocation) ?? ""
        if let until {
            let reached = (status.isStandby ? status.replayedPosition : status.writerPosition) ?? WALPosition(offset: 0)
            out["caught_up"] = reached >= until ? "true" : "false"
            out["behind_bytes"] = String(until.bytesAhead(of: reached))
        }
        return out
    }

    static func outputs(_ status: ReplicationStatus) -> [String: String] {
        let position = status.isStandby ? status.replayedPosition : status.writerPosition
        return [
            "role": status.isStandby ? "standby" : "writer",
            "lsn": position?.description ?? "",
            "received_lsn": status.receivedPosition?.description ?? "",
            "replay_lsn": status.replayedPosition?.description ?? "",
            "last_replay_at": status.lastReplayedCommit.map(DatabaseOutput.milliseconds) ?? "",
            "read_only": status.defaultReadOnly ? "true" : "false",
        ]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

/// `db.write-canary`: commits one canary row on a writer; fails (retryable) when the instance refuses writes.
/// Outputs the row's server time and the writer's WAL position after it.
public struct WriteCanaryAction: StepAction {
    let connector: DatabaseConnector
    public init(provider: AWSClientProvider) { connector = DatabaseConnector(provider: provider) }
    public let name = "db.write-canary"
    public let summary = "commit a canary row (proves the instance accepts writes) and read the writer's WAL position"
    public var inputs: [ActionInputSpec] {
        DatabaseConnector.inputs + [
            ActionInputSpec("sequence", description: "the row's sequence number (default 1)"),
            ActionInputSpec("through_fence", description: "true: write from a session that turns its own read-only default off (the final canary of a fenced writer)"),
            ActionInputSpec("since", description: "epoch ms; outputs since_seconds, from then to the row's commit"),
        ]
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let sequence = Int64(try invocation.int("sequence") ?? 1)
        return try await connector.withSession(invocation) { db, session in
            let row: CanaryRow
            do {
                if try invocation.bool("through_fence") == true {
                    try await session.rows("SET SESSION default_transaction_read_only = off", doing: "writing through the fence")
                }
                row = try await session.writeCanary(runID: invocation.runID, step: invocation.stepID, sequence: sequence)
            } catch let error as DatabaseError where error.isReadOnlyRefusal {
                throw ActionFailure("\(db.identifier) refused a write: it is read-only (SQLSTATE 25006)", retryable: true)
            }
            let position = try await session.replicationStatus().writerPosition
            var out = [
                "writable": "true", "canary_step": invocation.stepID, "canary_sequence": String(sequence),
                "written_at": DatabaseOutput.milliseconds(row.writtenAt), "lsn": position?.description ?? "",
            ]
            if let since = invocation.string("since").flatMap({ Double($0) }) {
                out["since_seconds"] = String(format: "%.3f", max(0, row.writtenAt.timeIntervalSince1970 - since / 1000))
            }
            return out
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.change, "writes one canary row") }
}

/// `db.check-canary`: whether this run's canary rows written by `canary_step` are on an instance. With `acknowledged: N`
/// (e.g. a measured reboot's `canary_rows_acknowledged`) every one of the rows 1…N, which the writer saw committed, must
/// be there: `lost_rows` counts those missing, and any missing fails the step (retryable on a standby, which may still
/// replay them; not on a writer, where they are lost). An empty `acknowledged` means nothing was measured: the step
/// checks nothing and connects to nothing (`checked: false`).
public struct CheckCanaryAction: StepAction {
    let connector: DatabaseConnector
    public init(provider: AWSClientProvider) { connector = DatabaseConnector(provider: provider) }
    public let name = "db.check-canary"
    public let summary = "check that this run's canary rows are present on an instance (e.g. the promoted one); acknowledged: N counts lost_rows"
    public var inputs: [ActionInputSpec] {
        DatabaseConnector.inputs + [
            ActionInputSpec("canary_step", required: true, description: "the step that wrote the rows"),
            ActionInputSpec("sequence", description: "the row that must be there (default: any)"),
            ActionInputSpec("acknowledged", description: "rows 1…N were acknowledged to the writer: outputs lost_rows, fails when any is missing; "
                            + "empty: nothing measured, nothing checked"),
        ]
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let step = try invocation.requiredString("canary_step")
        if let acknowledged = invocation.string("acknowledged") {
            return try await checkAcknowledged(acknowledged.trimmingCharacters(in: .whitespaces), step: step, invocation)
        }
        let sequence = try invocation.int("sequence").map(Int64.init)
        let rows = try await connector.withSession(invocation) { _, session in
            try await session.canaries(runID: invocation.runID).filter { $0.step == step }
        }
        let found = sequence.map { wanted in rows.contains { $0.sequence == wanted } } ?? !rows.isEmpty
        guard found else {
            let which = sequence.map { "row \($0)" } ?? "any row"
            throw ActionFailure("canary \(which) of step \(step) is not on \(try invocation.requiredString("identifier")) (\(rows.count) of its rows are)",
                                retryable: true)
        }
        return ["found": "true", "count": String(rows.count)]
    }

    private func checkAcknowledged(_ text: String, step: String, _ invocation: ActionInvocation) async throws -> [String: String] {
        guard !text.isEmpty else { return ["checked": "false", "acknowledged": "", "lost_rows": "", "found": "", "count": ""] }
        guard let acknowledged = Int64(text), acknowledged >= 0 else {
            throw ActionFailure("input 'acknowledged' must be a row count, got '\(text)'", retryable: false)
        }
        let (rows, standby) = try await connector.withSession(invocation) { _, session in
            (try await session.canaries(runID: invocation.runID).filter { $0.step == step }, try await session.replicationStatus().isStandby)
        }
        let present = Set(rows.map(\.sequence))
        let missing = acknowledged == 0 ? [] : (1...acknowledged).filter { !present.contains($0) }
        let out = [
            "checked": "true", "acknowledged": String(acknowledged), "lost_rows": String(missing.count),
            "found": missing.isEmpty ? "true" : "false", "count": String(rows.count),
            "missing_sequences": missing.prefix(20).map(String.init).joined(separator: ","),
        ]
        guard missing.isEmpty else {
            throw ActionFailure("\(missing.count) of the \(acknowledged) acknowledged canary rows of step \(step) are missing on "
                                + "\(try invocation.requiredString("identifier")) (sequences \(out["missing_sequences"] ?? ""))",
                                retryable: standby, outputs: out)
        }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}
