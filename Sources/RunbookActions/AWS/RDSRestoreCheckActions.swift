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

/// A cross-region copy of `source_snapshot` (an identifier in `source_region`, or an ARN) named
/// `target_snapshot_identifier` in the step's region. Its delete waits for a copy in progress to finish first.
struct DBSnapshotCopyResource: ManagedResource {
    /// The copy CopyDBSnapshot answered and the source it was made from.
    struct Created: Sendable {
        var copy: RDS.DBSnapshot
        var source: RDS.DBSnapshot
        var sourceARN: String
    }

    let target: DBSnapshotResource
    let provider: AWSClientProvider

    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        target = DBSnapshotResource(try RDSSupport.rds(provider, invocation), try invocation.requiredString("target_snapshot_identifier"), invocation)
        self.provider = provider
    }

    var name: String { target.name }
    var description: String { "copy \(target.name) in \(target.rds.region)" }
    static var notFoundCodes: Set<String> { DBSnapshotResource.notFoundCodes }
    static var alreadyExistsCodes: Set<String> { DBSnapshotResource.alreadyExistsCodes }

    func fetch() async throws -> RDS.DBSnapshot? { try await ResourceLifecycle.find(target) }
    func tags(of snapshot: RDS.DBSnapshot) async throws -> [AWSTag] { try await target.tags(of: snapshot) }

    func create() async throws -> Created {
        let invocation = target.invocation, rds = target.rds
        let sourceRegion = try invocation.requiredString("source_region")
        let sourceRef = try invocation.requiredString("source_snapshot")
        let sourceID = sourceRef.hasPrefix("arn:") ? String(sourceRef.split(separator: ":").last ?? "") : sourceRef
        let sourceSnapshot = DBSnapshotResource(try RDSSupport.rds(provider, region: sourceRegion), sourceID, invocation)
        guard let source = try await ResourceLifecycle.find(sourceSnapshot), let sourceARN = source.arn else {
            throw ActionFailure("\(description): source snapshot \(sourceRef) not found in \(sourceRegion)", retryable: false)
        }
        var kmsKeyID = invocation.string("kms_key_id").flatMap { $0.isEmpty ? nil : $0 }
        if kmsKeyID == nil && source.encrypted && sourceRegion != rds.region { kmsKeyID = "alias/aws/rds" }
        let copy = try await rds.copyDBSnapshot(sourceSnapshotIdentifier: sourceARN, targetSnapshotIdentifier: target.name,
                                                sourceRegion: sourceRegion == rds.region ? nil : sourceRegion, kmsKeyID: kmsKeyID,
                                                tags: AWSTags.ownership(invocation))
        return Created(copy: copy, source: source, sourceARN: sourceARN)
    }

    /// AWS deletes a snapshot only once it is available: a copy in progress is let finish first.
    func delete(_ snapshot: RDS.DBSnapshot) async throws {
        let settled = ["available", "failed"]
        if !settled.contains(snapshot.status) {
            let pacing = try WaitPacing(target.invocation)
            let waiter = target.rds.dbSnapshotSettledWaiter(snapshotIdentifier: target.name, statuses: settled, delay: pacing.pace, maxAttempts: pacing.maxAttempts)
            let poll = try await pacing.wait(waiter, for: "\(target.description) to be available")
            guard poll.output?.items.contains(where: { settled.contains($0.status) }) == true else { throw ResourceVanished() }
        }
        try await target.delete(snapshot)
    }

    /// The outputs of a copy found in place: this run's, or refused (a check must not reuse a stale copy).
    func recovered(_ snapshot: RDS.DBSnapshot, _ ownership: Ownership) throws -> [String: String] {
        guard ownership == .thisRun else {
            throw ActionFailure("DB snapshot \(snapshot.identifier) already exists in \(target.rds.region) and was not created by this run; "
                                + "delete it (a leftover of an earlier check?) or choose another target", retryable: false)
        }
        return ["snapshot_identifier": snapshot.identifier, "snapshot_arn": snapshot.arn ?? "", "status": snapshot.status,
                "engine": snapshot.engine ?? "", AWSOutput.result: CreateResult.recovered.rawValue, AWSOutput.owned: ownership.owned]
    }
}

/// `aws.rds.copy-db-snapshot`: copies `source_snapshot` (an identifier in `source_region`, or an ARN) to
/// `target_snapshot_identifier` in `region`, tagged with the run. A copy carrying this run's tag is recovered; one
/// without it is refused (a check must not reuse a stale copy, and the runbook deletes the copy afterwards).
/// Undo deletes the copy only if it carries this run's tag.
public struct CopyDBSnapshotAction: ResourceCreatingAction {
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

    func resource(_ invocation: ActionInvocation) throws -> DBSnapshotCopyResource { try DBSnapshotCopyResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let copy = try resource(invocation)
        switch try await ResourceLifecycle.createOrAdopt(copy, runID: invocation.runID) {
        case let .found(snapshot, ownership):
            return try copy.recovered(snapshot, ownership)
        case let .created(created):
            return ["snapshot_identifier": copy.name, "snapshot_arn": created.copy.arn ?? "", "status": created.copy.status,
                    "source_arn": created.sourceARN, "engine": created.source.engine ?? "",
                    AWSOutput.result: CreateResult.created.rawValue, AWSOutput.owned: Ownership.thisRun.owned]
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let copy = try resource(invocation)
        let targetID = copy.name, region = copy.target.rds.region
        guard let existing = try await ResourceLifecycle.find(copy) else { return ActionPlan(.create, "copy snapshot to \(targetID) in \(region)") }
        return try await copy.ownership(of: existing, runID: invocation.runID) == .thisRun ? ActionPlan(.nothing, "\(targetID) is this run's copy")
            : ActionPlan(.unknown, "\(targetID) already exists in \(region) and is not this run's: the copy would be refused")
    }
}

// MARK: - Restore

/// A new instance restored from `snapshot_identifier`, tagged with the run, single-AZ and without deletion protection
/// unless asked.
struct RestoredDBInstance: DBInstanceResource {
    /// The instance RestoreDBInstanceFromDBSnapshot answered and when it was asked for (epoch ms).
    struct Created: Sendable {
        var instance: RDS.DBInstance
        var requestedAt: Int64
    }

    let instance: DBInstanceTarget
    let invocation: ActionInvocation
    let snapshotID: String

    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        instance = try DBInstanceTarget(provider, invocation)
        snapshotID = try invocation.requiredString("snapshot_identifier")
        self.invocation = invocation
    }

    func create() async throws -> Created {
        var request = RDS.RestoreDBInstanceFromDBSnapshotRequest(identifier: instance.identifier, snapshotIdentifier: snapshotID,
                                                                 tags: AWSTags.ownership(invocation))
        request.instanceClass = invocation.string("instance_class").flatMap { $0.isEmpty ? nil : $0 }
        request.dbSubnetGroupName = invocation.string("subnet_group").flatMap { $0.isEmpty ? nil : $0 }
        request.dbParameterGroupName = invocation.string("parameter_group").flatMap { $0.isEmpty ? nil : $0 }
        request.multiAZ = try invocation.bool("multi_az") ?? false
        request.deletionProtection = try invocation.bool("deletion_protection") ?? false
        let requestedAt = invocation.clock.nowMilliseconds
        return Created(instance: try await instance.rds.restoreDBInstanceFromDBSnapshot(request), requestedAt: requestedAt)
    }

    /// The outputs of an instance found in place: this run's restore, or refused (a restore check needs a fresh one).
    func recovered(_ db: RDS.DBInstance, _ ownership: Ownership) throws -> [String: String] {
        guard ownership == .thisRun else {
            throw ActionFailure("\(description) already exists and was not created by this run; a restore check needs a fresh instance "
                                + "(delete it, or choose another identifier)", retryable: false)
        }
        // requested_at: from this (resumed) attempt; the original request time is not known.
        return DBInstanceTarget.outputs(db, [AWSOutput.result: CreateResult.recovered.rawValue, AWSOutput.owned: ownership.owned,
                                             "requested_at": String(invocation.clock.nowMilliseconds),
                                             "snapshot_identifier": invocation.string("snapshot_identifier") ?? ""])
    }
}

/// `aws.rds.restore-db-instance-from-snapshot`: a new instance from a snapshot in `region`, tagged with the run,
/// single-AZ and without deletion protection unless asked. An instance of the same name carrying this run's tag is
/// recovered; one without it is refused (a restore check must test a fresh restore). Undo (the guarantee that a
/// check leaves nothing behind): wait for it to settle, delete it without a final snapshot, wait until it is gone.
public struct RestoreDBInstanceFromSnapshotAction: ResourceCreatingAction {
    public let name = "aws.rds.restore-db-instance-from-snapshot"
    public let summary = "Restore a new DB instance from a snapshot; undo deletes it if this run created it"
    public let inputs = RDSSupport.instanceInputs([
        ActionInputSpec("snapshot_identifier", required: true, description: "a snapshot in this region"),
        ActionInputSpec("instance_class"), ActionInputSpec("subnet_group"), ActionInputSpec("parameter_group"),
        ActionInputSpec("multi_az", description: "default false"), ActionInputSpec("deletion_protection", description: "default false"),
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> RestoredDBInstance { try RestoredDBInstance(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let restored = try resource(invocation)
        switch try await ResourceLifecycle.createOrAdopt(restored, runID: invocation.runID) {
        case let .found(db, ownership):
            return try restored.recovered(db, ownership)
        case let .created(created):
            return DBInstanceTarget.outputs(created.instance, [AWSOutput.result: CreateResult.created.rawValue, AWSOutput.owned: Ownership.thisRun.owned,
                                                               "snapshot_identifier": restored.snapshotID, "requested_at": String(created.requestedAt)])
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let restored = try resource(invocation)
        let id = restored.name
        guard let db = try await ResourceLifecycle.find(restored) else { return ActionPlan(.create, "restore DB instance \(id) in \(restored.instance.rds.region)") }
        return try await restored.ownership(of: db, runID: invocation.runID) == .thisRun ? ActionPlan(.nothing, "\(id) is this run's restore")
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
        let target = try DBInstanceTarget(provider, invocation)
        guard let wanted = try invocation.bool("enabled") else { throw ActionFailure("input 'enabled' is required", retryable: false) }
        let what = "deletion protection of \(target.description)"
        let absent = [AWSOutput.result: DeleteResult.absent.rawValue, "identifier": target.identifier]
        guard let db = try await target.find() else { return absent }
        let previous = Self.recorded(db, invocation) ?? db.deletionProtection
        var out = ["identifier": target.identifier, "previous_deletion_protection": previous ? "true" : "false", "deletion_protection": wanted ? "true" : "false"]
        if db.deletionProtection == wanted {
            out[AWSOutput.result] = previous == wanted ? "unchanged" : "changed"
            return out
        }
        guard let settled = try await target.settle(DBInstanceTarget.settledStatuses, try WaitPacing(invocation)), let arn = settled.arn else { return absent }
        try await AWSStep.run(what) { try await target.rds.addTagsToResource(arn: arn, tags: [AWSTag(Self.recordTag, Self.record(invocation, previous))]) }
        _ = try await AWSStep.run(what) { try await target.modifyDeletionProtection(wanted) }
        out[AWSOutput.result] = "changed"
        return out
    }

    /// What undo restores: the value from before this step changed it, or (nil) nothing, with the reason.
    static func previous(_ db: RDS.DBInstance, _ invocation: ActionInvocation) -> (value: Bool?, reason: String) {
        if let text = invocation.stepOutputs["previous_deletion_protection"], let result = invocation.stepOutputs[AWSOutput.result] {
            guard result == "changed" else { return (nil, "nothing: deletion protection was not changed by this step") }
            return (BooleanText.parse(text) ?? db.deletionProtection, "")
        }
        return (recorded(db, invocation), "nothing: no change recorded by this step")
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        guard let db = try await target.find() else { return UndoOutcome.alreadyGone.outputs }
        let found = Self.previous(db, invocation)
        guard let previous = found.value else { return [AWSOutput.undo: found.reason] }
        var result = [AWSOutput.undo: "nothing: deletion protection is already \(previous)"]
        if db.deletionProtection != previous {
            guard try await restore(previous, target, invocation) else { return UndoOutcome.alreadyGone.outputs }
            result = [AWSOutput.undo: "restored deletion protection of \(target.identifier) to \(previous)"]
        }
        if let arn = db.arn, Self.recorded(db, invocation) != nil {
            try? await target.rds.removeTagsFromResource(arn: arn, tagKeys: [Self.recordTag])
        }
        return result
    }

    /// Sets deletion protection back to `previous` once the instance has settled: false when it is gone.
    func restore(_ previous: Bool, _ target: DBInstanceTarget, _ invocation: ActionInvocation) async throws -> Bool {
        guard try await target.settle(DBInstanceTarget.settledStatuses, try WaitPacing(invocation)) != nil else { return false }
        do {
            try await target.modifyDeletionProtection(previous)
            return true
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return false
        } catch {
            throw AWSStep.failure(error, "deletion protection of \(target.description)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try DBInstanceTarget(provider, invocation)
        let id = target.identifier
        guard let db = try await target.find() else { return ActionPlan(.nothing, "\(id) is absent") }
        let wanted = try invocation.bool("enabled")
        return db.deletionProtection == wanted ? ActionPlan(.nothing, "deletion protection of \(id) is already \(db.deletionProtection)")
            : ActionPlan(.change, "deletion protection of \(id): \(db.deletionProtection) -> \(wanted.map(String.init) ?? "?")")
    }
}
