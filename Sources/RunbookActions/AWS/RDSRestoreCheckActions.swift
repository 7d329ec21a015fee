import Foundation
import RunbookAWS
import RunbookEngine

// The actions of drill's backup-restore check (latest snapshot → cross-region copy → restore → verify → delete)
// and the captured deletion-protection change.

// MARK: - Latest snapshot

/// `aws.rds.find-latest-snapshot`: the newest available snapshot (manual or automated, by `SnapshotCreateTime`)
/// of an instance. Read-only; fails (not retryable) when the instance has no available snapshot.
public struct FindLatestSnapshotAction: StepAction {
    public let name = "aws.rds.find-latest-snapshot"
    public let summary = "Find the newest available snapshot (manual or automated) of a DB instance"
    public let inputs = [ActionInputSpec("identifier", required: true, description: "the DB instance whose snapshots to search"), AWSStep.regionInput,
                         ActionInputSpec("snapshot_type", description: "manual or automated (default: both)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let type = invocation.string("snapshot_type").flatMap { $0.isEmpty ? nil : $0 }
        let snapshots = try await AWSStep.run("snapshots of DB instance \(id) in \(rds.region)") {
            try await rds.describeAllDBSnapshots(instanceIdentifier: id, snapshotType: type)
        }
        let candidates = snapshots.filter { $0.instanceIdentifier.lowercased() == id && $0.status == "available" && $0.createdAt != nil }
        guard let latest = candidates.max(by: { ($0.createdAt ?? .distantPast, $0.identifier) < ($1.createdAt ?? .distantPast, $1.identifier) }) else {
            throw ActionFailure("DB instance \(id) in \(rds.region) has no available snapshot (\(snapshots.count) found in other states)", retryable: false)
        }
        let formatter = ISO8601DateFormatter()
        return [
            "snapshot_identifier": latest.identifier, "snapshot_arn": latest.arn ?? "", "snapshot_type": latest.snapshotType ?? "",
            "snapshot_created_at": latest.createdAt.map { formatter.string(from: $0) } ?? "", "engine": latest.engine ?? "",
            "encrypted": latest.encrypted ? "true" : "false", "region": rds.region, "candidates": String(candidates.count),
        ]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

// MARK: - Cross-region snapshot copy

/// `aws.rds.copy-db-snapshot`: copies `source_snapshot` (an identifier in `source_region`, or an ARN) to
/// `target_snapshot_identifier` in `region`, tagged with the run. A copy carrying this run's tag is recovered; one
/// without it is refused (a check must not reuse a stale copy, and the runbook deletes the copy afterwards).
/// Undo deletes the copy only if it carries this run's tag.
public struct CopyDBSnapshotAction: StepAction {
    public let name = "aws.rds.copy-db-snapshot"
    public let summary = "Copy a DB snapshot into this region (cross-region); undo deletes this run's copy"
    public let inputs = [
        ActionInputSpec("source_snapshot", required: true, description: "identifier (in source_region) or ARN of the snapshot to copy"),
        ActionInputSpec("source_region", required: true), ActionInputSpec("target_snapshot_identifier", required: true), AWSStep.regionInput,
        ActionInputSpec("kms_key_id", description: "KMS key in the destination region (default for an encrypted source: alias/aws/rds)"),
        AWSStep.paceInput, ActionInputSpec("settle_timeout", description: "how long undo waits for a copy in progress (default 60m)"),
    ]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let targetID = try invocation.requiredString("target_snapshot_identifier").lowercased()
        let what = "copy \(targetID) in \(rds.region)"
        if let existing = try await DBSnapshots.find(rds, targetID) {
            return try await found(rds, existing, invocation)
        }
        let sourceRegion = try invocation.requiredString("source_region")
        let sourceRDS = try AWSStep.sync("RDS") { try provider.client().rds(region: sourceRegion) }
        let sourceRef = try invocation.requiredString("source_snapshot")
        let sourceID = sourceRef.hasPrefix("arn:") ? String(sourceRef.split(separator: ":").last ?? "") : sourceRef
        guard let source = try await DBSnapshots.find(sourceRDS, sourceID.lowercased()), let sourceARN = source.arn else {
            throw ActionFailure("\(what): source snapshot \(sourceRef) not found in \(sourceRegion)", retryable: false)
        }
        var kmsKeyID = invocation.string("kms_key_id").flatMap { $0.isEmpty ? nil : $0 }
        if kmsKeyID == nil && source.encrypted && sourceRegion != rds.region { kmsKeyID = "alias/aws/rds" }
        do {
            let copy = try await rds.copyDBSnapshot(sourceSnapshotIdentifier: sourceARN, targetSnapshotIdentifier: targetID,
                                                    sourceRegion: sourceRegion == rds.region ? nil : sourceRegion, kmsKeyID: kmsKeyID,
                                                    tags: AWSTags.ownership(invocation))
            return ["snapshot_identifier": targetID, "snapshot_arn": copy.arn ?? "", "status": copy.status, "source_arn": sourceARN,
                    "engine": source.engine ?? "", "result": "created", "owned": "true"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSnapshotAlreadyExists) {
            guard let raced = try await DBSnapshots.find(rds, targetID) else { throw AWSStep.failure(error, what) }
            return try await found(rds, raced, invocation)
        } catch {
            throw AWSStep.failure(error, what)
        }
    }

    func found(_ rds: RDS, _ snapshot: RDS.DBSnapshot, _ invocation: ActionInvocation) async throws -> [String: String] {
        guard try await DBSnapshots.owner(rds, snapshot, invocation) == .thisRun else {
            throw ActionFailure("DB snapshot \(snapshot.identifier) already exists in \(rds.region) and was not created by this run; "
                                + "delete it (a leftover of an earlier check?) or choose another target", retryable: false)
        }
        return ["snapshot_identifier": snapshot.identifier, "snapshot_arn": snapshot.arn ?? "", "status": snapshot.status,
                "engine": snapshot.engine ?? "", "result": "recovered", "owned": "true"]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let targetID = try invocation.requiredString("target_snapshot_identifier").lowercased()
        guard let snapshot = try await DBSnapshots.find(rds, targetID) else { return ["undo": "already gone"] }
        guard try await DBSnapshots.owner(rds, snapshot, invocation) == .thisRun else { return ["undo": "kept \(targetID): not created by this run"] }
        if snapshot.status != "available" && snapshot.status != "failed" {
            // AWS deletes a snapshot only once it is available: let a copy in progress finish first.
            let settled = try await AWSStep.poll("DB snapshot \(targetID) in \(rds.region) to be available", pace: try RDSSupport.pace(invocation),
                                                 timeout: try RDSSupport.settleTimeout(invocation)) { () async throws -> Bool?? in
                guard let now = try await DBSnapshots.find(rds, targetID) else { return .some(false) }
                return ["available", "failed"].contains(now.status) ? .some(true) : nil
            }
            if settled == false { return ["undo": "already gone"] }
        }
        do {
            _ = try await rds.deleteDBSnapshot(snapshotIdentifier: targetID)
            return ["undo": "deleted \(targetID)"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSnapshotNotFound) {
            return ["undo": "already gone"]
        } catch {
            throw AWSStep.failure(error, "DB snapshot \(targetID) in \(rds.region)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let targetID = try invocation.requiredString("target_snapshot_identifier").lowercased()
        guard let existing = try await DBSnapshots.find(rds, targetID) else { return ActionPlan(.create, "copy snapshot to \(targetID) in \(rds.region)") }
        return try await DBSnapshots.owner(rds, existing, invocation) == .thisRun ? ActionPlan(.nothing, "\(targetID) is this run's copy")
            : ActionPlan(.unknown, "\(targetID) already exists in \(rds.region) and is not this run's: the copy would be refused")
    }
}

// MARK: - Restore

/// `aws.rds.restore-db-instance-from-snapshot`: a new instance from a snapshot in `region`, tagged with the run,
/// single-AZ and without deletion protection unless asked. An instance of the same name carrying this run's tag is
/// recovered; one without it is refused (a restore check must test a fresh restore). Undo (the guarantee that a
/// check leaves nothing behind): wait for it to settle, delete it without a final snapshot, wait until it is gone.
public struct RestoreDBInstanceFromSnapshotAction: StepAction {
    public let name = "aws.rds.restore-db-instance-from-snapshot"
    public let summary = "Restore a new DB instance from a snapshot; undo deletes it if this run created it"
    public let inputs = RDSSupport.instanceInputs([
        ActionInputSpec("snapshot_identifier", required: true, description: "a snapshot in this region"),
        ActionInputSpec("instance_class"), ActionInputSpec("subnet_group"), ActionInputSpec("parameter_group"),
        ActionInputSpec("multi_az", description: "default false"), ActionInputSpec("deletion_protection", description: "default false"),
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let snapshotID = try invocation.requiredString("snapshot_identifier")
        let what = "DB instance \(id) in \(rds.region)"
        if let existing = try await RDSSupport.find(rds, id) { return try found(existing, invocation, what) }
        var request = RDS.RestoreDBInstanceFromDBSnapshotRequest(identifier: id, snapshotIdentifier: snapshotID, tags: AWSTags.ownership(invocation))
        request.instanceClass = invocation.string("instance_class").flatMap { $0.isEmpty ? nil : $0 }
        request.dbSubnetGroupName = invocation.string("subnet_group").flatMap { $0.isEmpty ? nil : $0 }
        request.dbParameterGroupName = invocation.string("parameter_group").flatMap { $0.isEmpty ? nil : $0 }
        request.multiAZ = try invocation.bool("multi_az") ?? false
        request.deletionProtection = try invocation.bool("deletion_protection") ?? false
        let requestedAt = AWSStep.nowMilliseconds()
        do {
            let db = try await rds.restoreDBInstanceFromDBSnapshot(request)
            return RDSSupport.outputs(db).merging(["result": "created", "owned": "true", "snapshot_identifier": snapshotID,
                                                   "requested_at": String(requestedAt)]) { _, b in b }
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceAlreadyExists) {
            guard let raced = try await RDSSupport.find(rds, id) else { throw AWSStep.failure(error, what) }
            return try found(raced, invocation, what)
        } catch {
            throw AWSStep.failure(error, what)
        }
    }

    func found(_ db: RDS.DBInstance, _ invocation: ActionInvocation, _ what: String) throws -> [String: String] {
        guard Ownership.of(db.tags, runID: invocation.runID) == .thisRun else {
            throw ActionFailure("\(what) already exists and was not created by this run; a restore check needs a fresh instance "
                                + "(delete it, or choose another identifier)", retryable: false)
        }
        // requested_at: from this (resumed) attempt; the original request time is not known.
        return RDSSupport.outputs(db).merging(["result": "recovered", "owned": "true", "requested_at": String(AWSStep.nowMilliseconds()),
                                               "snapshot_identifier": invocation.string("snapshot_identifier") ?? ""]) { _, b in b }
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        return try await RDSSupport.deleteIfOwned(rds, try invocation.requiredString("identifier").lowercased(), invocation)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { return ActionPlan(.create, "restore DB instance \(id) in \(rds.region)") }
        return Ownership.of(db.tags, runID: invocation.runID) == .thisRun ? ActionPlan(.nothing, "\(id) is this run's restore")
            : ActionPlan(.unknown, "\(id) already exists (\(db.status)) and is not this run's: the restore would be refused")
    }
}

// MARK: - Deletion protection

/// `aws.rds.set-deletion-protection`: a captured change. Reads the current value, records it — in the outputs
/// (`previous_deletion_protection`) and, before modifying, in the instance tag `runbook:previous-deletion-protection`
/// (`RUN/STEP/VALUE`, so a step re-run after a crash between the modify and its outputs still knows the value from
/// before) — then applies `enabled` with ApplyImmediately. Undo restores exactly the previous value; it does nothing
/// when the instance is gone or when the step changed nothing. An absent instance is `result: absent`.
public struct SetDeletionProtectionAction: StepAction {
    public let name = "aws.rds.set-deletion-protection"
    public let summary = "Turn a DB instance's deletion protection on or off (previous value captured; undo restores it)"
    public let inputs = RDSSupport.instanceInputs([ActionInputSpec("enabled", required: true, description: "true or false")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    static let recordTag = "runbook:previous-deletion-protection"

    static func record(_ invocation: ActionInvocation, _ value: Bool) -> String { "\(invocation.runID)/\(invocation.stepID)/\(value)" }

    /// The previous value this run's step recorded on the instance, if any.
    static func recorded(_ db: RDS.DBInstance, _ invocation: ActionInvocation) -> Bool? {
        guard let tag = db.tags.first(where: { $0.key == recordTag }) else { return nil }
        let prefix = "\(invocation.runID)/\(invocation.stepID)/"
        guard tag.value.hasPrefix(prefix) else { return nil }
        return BooleanText.parse(String(tag.value.dropFirst(prefix.count)))
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let wanted = try invocation.bool("enabled") else { throw ActionFailure("input 'enabled' is required", retryable: false) }
        let what = "deletion protection of DB instance \(id) in \(rds.region)"
        guard let db = try await RDSSupport.find(rds, id) else { return ["result": "absent", "identifier": id] }
        let previous = Self.recorded(db, invocation) ?? db.deletionProtection
        var out = ["identifier": id, "previous_deletion_protection": previous ? "true" : "false", "deletion_protection": wanted ? "true" : "false"]
        if db.deletionProtection == wanted {
            out["result"] = previous == wanted ? "unchanged" : "changed"
            return out
        }
        let pace = try RDSSupport.pace(invocation), timeout = try RDSSupport.settleTimeout(invocation)
        guard let settled = try await RDSSupport.waitFor(rds, id, RDSSupport.settledStatuses, pace: pace, timeout: timeout), let arn = settled.arn else {
            return ["result": "absent", "identifier": id]
        }
        try await AWSStep.run(what) { try await rds.addTagsToResource(arn: arn, tags: [AWSTag(Self.recordTag, Self.record(invocation, previous))]) }
        _ = try await AWSStep.run(what) {
            try await rds.modifyDBInstance(RDS.ModifyDBInstanceRequest(identifier: id, applyImmediately: true, deletionProtection: wanted))
        }
        out["result"] = "changed"
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { return ["undo": "already gone"] }
        let previous: Bool
        if let text = invocation.stepOutputs["previous_deletion_protection"], invocation.stepOutputs["result"] != nil {
            if invocation.stepOutputs["result"] != "changed" { return ["undo": "nothing: deletion protection was not changed by this step"] }
            previous = BooleanText.parse(text) ?? db.deletionProtection
        } else if let recorded = Self.recorded(db, invocation) {
            previous = recorded
        } else {
            return ["undo": "nothing: no change recorded by this step"]
        }
        let what = "deletion protection of DB instance \(id) in \(rds.region)"
        var result = ["undo": "nothing: deletion protection is already \(previous)"]
        if db.deletionProtection != previous {
            let pace = try RDSSupport.pace(invocation), timeout = try RDSSupport.settleTimeout(invocation)
            guard try await RDSSupport.waitFor(rds, id, RDSSupport.settledStatuses, pace: pace, timeout: timeout) != nil else { return ["undo": "already gone"] }
            do {
                _ = try await rds.modifyDBInstance(RDS.ModifyDBInstanceRequest(identifier: id, applyImmediately: true, deletionProtection: previous))
            } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
                return ["undo": "already gone"]
            } catch {
                throw AWSStep.failure(error, what)
            }
            result = ["undo": "restored deletion protection of \(id) to \(previous)"]
        }
        if let arn = db.arn, Self.recorded(db, invocation) != nil {
            try? await rds.removeTagsFromResource(arn: arn, tagKeys: [Self.recordTag])
        }
        return result
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { return ActionPlan(.nothing, "\(id) is absent") }
        let wanted = try invocation.bool("enabled")
        return db.deletionProtection == wanted ? ActionPlan(.nothing, "deletion protection of \(id) is already \(db.deletionProtection)")
            : ActionPlan(.change, "deletion protection of \(id): \(db.deletionProtection) -> \(wanted.map(String.init) ?? "?")")
    }
}
