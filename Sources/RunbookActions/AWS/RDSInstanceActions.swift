import Foundation
import RunbookAWS
import RunbookEngine

// MARK: - Shared instance helpers

/// A DB instance by identifier in one region: the lookup and the waits every instance action shares.
struct DBInstanceTarget: Sendable {
    let rds: RDS
    let identifier: String

    init(_ rds: RDS, _ identifier: String) {
        self.rds = rds
        self.identifier = identifier.lowercased()
    }

    /// The instance named by the step's `identifier` in its `region`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(try RDSSupport.rds(provider, invocation), try invocation.requiredString("identifier"))
    }

    var description: String { "DB instance \(identifier) in \(rds.region)" }

    /// Statuses in which an instance accepts ModifyDBInstance/DeleteDBInstance again (or never leaves by itself).
    static let settledStatuses = ["available", "failed", "stopped", "incompatible-parameters", "incompatible-restore", "storage-full"]

    /// The instance, or nil when it does not exist.
    func find() async throws -> RDS.DBInstance? {
        do {
            return try await rds.describeDBInstance(identifier: identifier)
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return nil
        } catch {
            throw AWSStep.failure(error, description)
        }
    }

    /// The instance; a non-retryable failure when it does not exist.
    func require() async throws -> RDS.DBInstance {
        guard let db = try await find() else { throw ActionFailure("DB instance \(identifier) not found in \(rds.region)", retryable: false) }
        return db
    }

    /// Waits until the instance is in one of `statuses`: the instance then, or nil when it is gone.
    func settle(_ statuses: [String], _ pacing: WaitPacing) async throws -> RDS.DBInstance? {
        let waiter = rds.dbInstanceSettledWaiter(identifier: identifier, statuses: statuses, delay: pacing.pace, maxAttempts: pacing.maxAttempts)
        let poll = try await pacing.wait(waiter, for: "\(description) to be \(statuses.sorted().joined(separator: " or "))")
        return poll.output?.items.first { statuses.contains($0.status) }
    }

    /// ModifyDBInstance with the fields `change` sets, applied immediately: the instance as RDS answers it.
    @discardableResult
    func modifyNow(_ change: (inout RDS.ModifyDBInstanceRequest) -> Void) async throws -> RDS.DBInstance {
        var request = RDS.ModifyDBInstanceRequest(identifier: identifier, applyImmediately: true)
        change(&request)
        return try await rds.modifyDBInstance(request)
    }

    /// Sets deletion protection to `enabled`, applied immediately.
    func modifyDeletionProtection(_ enabled: Bool) async throws {
        try await modifyNow { $0.deletionProtection = enabled }
    }

    /// Turns deletion protection off and waits until the instance is available again (nil: gone meanwhile).
    func disableDeletionProtection(_ pacing: WaitPacing) async throws -> RDS.DBInstance? {
        try await modifyDeletionProtection(false)
        return try await settle(["available"], pacing)
    }

    /// Deletes the instance (`status` as last described) once it has settled, turning deletion protection off first,
    /// with a final snapshot named `finalSnapshot` (nil: none), and waits until it is gone; false when it vanished first.
    func deleteSettled(status: String, finalSnapshot: String?, _ pacing: WaitPacing) async throws -> Bool {
        if status != "deleting" {
            guard let settled = try await settle(Self.settledStatuses, pacing) else { return false }
            if settled.deletionProtection, try await disableDeletionProtection(pacing) == nil { return false }
            _ = try await rds.deleteDBInstance(identifier: identifier, skipFinalSnapshot: finalSnapshot == nil, finalDBSnapshotIdentifier: finalSnapshot)
        }
        try await waitUntilDeleted(pacing)
        return true
    }

    /// Waits until the instance is gone (botocore's DBInstanceDeleted).
    func waitUntilDeleted(_ pacing: WaitPacing) async throws {
        let waiter = rds.dbInstanceDeletedWaiter(identifier: identifier, delay: pacing.pace, maxAttempts: pacing.maxAttempts)
        _ = try await pacing.wait(waiter, for: "\(description) to be deleted")
    }

    /// The instance's outputs (every describe-like action uses these names).
    static func outputs(_ db: RDS.DBInstance) -> [String: String] {
        var out: [String: String] = [
            "identifier": db.identifier, "status": db.status, "multi_az": db.multiAZ ? "true" : "false",
            "deletion_protection": db.deletionProtection ? "true" : "false",
            "replica_source": db.readReplicaSourceDBInstanceIdentifier ?? "",
            "replicas": db.readReplicaDBInstanceIdentifiers.joined(separator: ","),
            "is_replica": db.readReplicaSourceDBInstanceIdentifier == nil ? "false" : "true",
            "availability_zone": db.availabilityZone ?? "", "secondary_availability_zone": db.secondaryAvailabilityZone ?? "",
            "endpoint": db.endpointAddress ?? "", "port": db.endpointPort.map(String.init) ?? "",
        ]
        if let arn = db.arn { out["arn"] = arn }
        if let engine = db.engine { out["engine"] = engine }
        return out
    }

    /// The instance's outputs with `more` (e.g. `result` and `owned`).
    static func outputs(_ db: RDS.DBInstance, _ more: [String: String]) -> [String: String] {
        outputs(db).merging(more) { _, new in new }
    }

    /// The ARN of the IAM role `monitoring_role` when enhanced monitoring is on (`interval` > 0).
    static func monitoringRoleARN(_ provider: AWSClientProvider, _ invocation: ActionInvocation, interval: Int?) async throws -> String? {
        guard let role = invocation.string("monitoring_role"), !role.isEmpty, (interval ?? 0) > 0 else { return nil }
        return try await AWSStep.run("IAM role \(role)") { try await provider.client().iam.getRole(name: role).arn }
    }

    /// Sets `request`'s Performance Insights and enhanced-monitoring fields from the step's `performance_insights`,
    /// `performance_insights_retention`, `monitoring_interval` and `monitoring_role`.
    static func setMonitoring(_ request: inout some DBInstanceMonitoringFields, _ provider: AWSClientProvider,
                              _ invocation: ActionInvocation) async throws {
        request.enablePerformanceInsights = try invocation.bool("performance_insights")
        request.performanceInsightsRetentionPeriod = try invocation.int("performance_insights_retention")
        request.monitoringInterval = try invocation.int("monitoring_interval")
        request.monitoringRoleARN = try await monitoringRoleARN(provider, invocation, interval: request.monitoringInterval)
    }
}

/// The Performance Insights and enhanced-monitoring fields that CreateDBInstance and CreateDBInstanceReadReplica share.
protocol DBInstanceMonitoringFields: Sendable {
    var enablePerformanceInsights: Bool? { get set }
    var performanceInsightsRetentionPeriod: Int? { get set }
    var monitoringInterval: Int? { get set }
    var monitoringRoleARN: String? { get set }
}

extension RDS.CreateDBInstanceRequest: DBInstanceMonitoringFields {}
extension RDS.CreateDBInstanceReadReplicaRequest: DBInstanceMonitoringFields {}

/// A DB instance an action creates (primary, read replica, restore): found by DescribeDBInstances, owned by its tags.
/// Undo deletes it once it has settled, turning deletion protection off first (this run created it), without a final
/// snapshot, and waits until it is gone.
protocol DBInstanceResource: ManagedResource where Found == RDS.DBInstance {
    var instance: DBInstanceTarget { get }
    /// The step's invocation: its inputs make the create request, its `pace` and `settle_timeout` pace the undo.
    var invocation: ActionInvocation { get }
}

extension DBInstanceResource {
    var name: String { instance.identifier }
    var description: String { instance.description }
    static var notFoundCodes: Set<String> { [AWSErrorCode.dbInstanceNotFound] }
    static var alreadyExistsCodes: Set<String> { [AWSErrorCode.dbInstanceAlreadyExists] }

    func fetch() async throws -> RDS.DBInstance? { try await instance.find() }
    func tags(of db: RDS.DBInstance) async throws -> [AWSTag] { db.tags }

    func delete(_ db: RDS.DBInstance) async throws {
        guard try await instance.deleteSettled(status: db.status, finalSnapshot: nil, try WaitPacing(invocation)) else { throw ResourceVanished() }
    }
}

/// A DB instance made from the step's inputs, with the provider's clients for what else it needs (a source, a role).
protocol StepDBInstanceResource: DBInstanceResource {
    init(instance: DBInstanceTarget, invocation: ActionInvocation, provider: AWSClientProvider)
}

/// A create action for the DB instance the step's `identifier` names in its `region`: plan says create or adopt.
protocol DBInstanceCreatingAction: ResourceCreatingAction where Resource: StepDBInstanceResource {
    var provider: AWSClientProvider { get }
    /// What the plan calls a new instance, e.g. `read replica`.
    var createdNoun: String { get }
}

extension DBInstanceCreatingAction {
    func resource(_ invocation: ActionInvocation) throws -> Resource {
        Resource(instance: try DBInstanceTarget(provider, invocation), invocation: invocation, provider: provider)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let db = try resource(invocation)
        return try await ResourceLifecycle.plan(db, create: "\(createdNoun) \(db.name) in \(db.instance.rds.region)") {
            "DB instance \(db.name) exists (\($0.status))"
        }
    }
}

// MARK: - Primary

/// A Multi-AZ primary made by CreateDBInstance from the step's inputs.
struct PrimaryDBInstance: StepDBInstanceResource {
    let instance: DBInstanceTarget
    let invocation: ActionInvocation
    let provider: AWSClientProvider

    func create() async throws -> RDS.DBInstance {
        try await instance.rds.createDBInstance(try request())
    }

    func request() async throws -> RDS.CreateDBInstanceRequest {
        var request = RDS.CreateDBInstanceRequest(identifier: instance.identifier, instanceClass: try invocation.requiredString("instance_class"),
                                                  engine: try invocation.requiredString("engine"),
                                                  tags: AWSTags.ownership(invocation) + (try DeploymentTags.from(invocation)))
        request.engineVersion = invocation.string("engine_version")
        request.masterUsername = invocation.string("master_username")
        if let param = invocation.string("master_password_param"), !param.isEmpty, let password = invocation.parameters[param], !password.isEmpty {
            request.masterUserPassword = password
        } else {
            request.manageMasterUserPassword = true
        }
        request.allocatedStorage = try invocation.int("allocated_storage")
        request.storageType = invocation.string("storage_type")
        request.storageEncrypted = try invocation.bool("storage_encrypted")
        request.multiAZ = try invocation.bool("multi_az")
        request.dbSubnetGroupName = invocation.string("subnet_group")
        request.dbParameterGroupName = invocation.string("parameter_group")
        request.backupRetentionPeriod = try invocation.int("backup_retention")
        request.preferredBackupWindow = invocation.string("backup_window")
        request.preferredMaintenanceWindow = invocation.string("maintenance_window")
        try await DBInstanceTarget.setMonitoring(&request, provider, invocation)
        request.deletionProtection = try invocation.bool("deletion_protection")
        return request
    }
}

/// `aws.rds.create-db-instance`: the Multi-AZ primary. The master password comes from the secret parameter named by
/// `master_password_param` (it reaches only the CreateDBInstance call); without one RDS manages it in Secrets Manager.
public struct CreateDBInstanceAction: DBInstanceCreatingAction {
    public let name = "aws.rds.create-db-instance"
    public let summary = "Create a DB instance (adopt an existing one); undo deletes it if this run created it"
    public let inputs = RDSSupport.instanceInputs([
        ActionInputSpec("instance_class", required: true), ActionInputSpec("engine", required: true), ActionInputSpec("engine_version"),
        ActionInputSpec("master_username"), ActionInputSpec("master_password_param", description: "name of a secret parameter holding the password; empty: ManageMasterUserPassword"),
        ActionInputSpec("allocated_storage"), ActionInputSpec("storage_type"), ActionInputSpec("storage_encrypted"), ActionInputSpec("multi_az"),
        ActionInputSpec("subnet_group"), ActionInputSpec("parameter_group"), ActionInputSpec("backup_retention"), ActionInputSpec("backup_window"),
        ActionInputSpec("maintenance_window"), ActionInputSpec("performance_insights"), ActionInputSpec("performance_insights_retention"),
        ActionInputSpec("monitoring_interval"), ActionInputSpec("monitoring_role", description: "IAM role name for enhanced monitoring"),
        ActionInputSpec("deletion_protection"),
    ] + DeploymentTags.inputs)
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    typealias Resource = PrimaryDBInstance
    var createdNoun: String { "DB instance" }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let adoption = try await ResourceLifecycle.createOrAdopt(try resource(invocation), runID: invocation.runID)
        return DBInstanceTarget.outputs(adoption.resource, adoption.outputs)
    }
}

// MARK: - Read replica

/// A (cross-region) read replica of `source_identifier` in `source_region`, created from the source's ARN with an
/// explicit parameter group and no deletion protection unless asked.
struct ReadReplicaDBInstance: StepDBInstanceResource {
    /// The replica CreateDBInstanceReadReplica answered and the source ARN it was made from.
    struct Created: Sendable {
        var replica: RDS.DBInstance
        var sourceARN: String
    }

    let instance: DBInstanceTarget
    let invocation: ActionInvocation
    let provider: AWSClientProvider

    var description: String { "read replica \(instance.identifier) in \(instance.rds.region)" }

    func create() async throws -> Created {
        let sourceRegion = try invocation.requiredString("source_region")
        let source = DBInstanceTarget(try RDSSupport.rds(provider, region: sourceRegion), try invocation.requiredString("source_identifier"))
        guard let found = try await source.find(), let sourceARN = found.arn else {
            throw ActionFailure("\(description): source DB instance \(source.identifier) not found in \(sourceRegion)", retryable: false)
        }
        var request = RDS.CreateDBInstanceReadReplicaRequest(identifier: instance.identifier, sourceDBInstanceIdentifier: sourceARN,
                                                             sourceRegion: sourceRegion,
                                                             tags: AWSTags.ownership(invocation) + (try DeploymentTags.from(invocation)))
        request.instanceClass = invocation.string("instance_class")
        request.storageEncrypted = try invocation.bool("storage_encrypted")
        // AWS needs a key in the destination region for a cross-region replica of an encrypted source.
        if let key = invocation.string("kms_key_id"), !key.isEmpty {
            request.kmsKeyID = key
        } else if found.storageEncrypted && sourceRegion != instance.rds.region {
            request.kmsKeyID = "alias/aws/rds"
        }
        request.dbSubnetGroupName = invocation.string("subnet_group")
        request.dbParameterGroupName = invocation.string("parameter_group")
        try await DBInstanceTarget.setMonitoring(&request, provider, invocation)
        request.deletionProtection = try invocation.bool("deletion_protection") ?? false
        return Created(replica: try await instance.rds.createDBInstanceReadReplica(request), sourceARN: sourceARN)
    }
}

/// `aws.rds.create-db-instance-read-replica`: a cross-region read replica of `source_identifier` in `source_region`,
/// created in `region` from the source's ARN, with an explicit parameter group and no deletion protection unless asked.
public struct CreateDBInstanceReadReplicaAction: DBInstanceCreatingAction {
    public let name = "aws.rds.create-db-instance-read-replica"
    public let summary = "Create a (cross-region) read replica (adopt an existing one); undo deletes it if this run created it"
    public let inputs = RDSSupport.instanceInputs([
        ActionInputSpec("source_identifier", required: true), ActionInputSpec("source_region", required: true),
        ActionInputSpec("instance_class"), ActionInputSpec("storage_encrypted"), ActionInputSpec("subnet_group"),
        ActionInputSpec("parameter_group"), ActionInputSpec("performance_insights"), ActionInputSpec("performance_insights_retention"),
        ActionInputSpec("monitoring_interval"), ActionInputSpec("monitoring_role"), ActionInputSpec("deletion_protection"),
        ActionInputSpec("kms_key_id", description: "KMS key in the replica's region for an encrypted source (default alias/aws/rds when the regions differ)"),
    ] + DeploymentTags.inputs)
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    typealias Resource = ReadReplicaDBInstance
    var createdNoun: String { "read replica" }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let adoption = try await ResourceLifecycle.createOrAdopt(try resource(invocation), runID: invocation.runID)
        switch adoption {
        case let .created(created):
            return DBInstanceTarget.outputs(created.replica, adoption.outputs(["source_arn": created.sourceARN]))
        case let .found(db, _):
            return DBInstanceTarget.outputs(db, adoption.outputs)
        }
    }
}

// MARK: - Describe, check, reboot, promote, delete

/// `aws.rds.describe-db-instance`: the waiter/pre-check action. Not found is `status: deleted` (an output, not an error),
/// as botocore's DBInstanceDeleted waiter treats DBInstanceNotFound. With `since` (epoch ms or ISO-8601) it also outputs
/// `seconds_since`, the time from that moment to this poll.
public struct DescribeDBInstanceAction: StepAction {
    public let name = "aws.rds.describe-db-instance"
    public let summary = "Describe a DB instance: status, endpoint, AZs, Multi-AZ, replica source (not found = status deleted)"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput,
                         ActionInputSpec("since", description: "a timestamp (epoch ms or ISO-8601); outputs seconds_since")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        var out = try await target.find().map { DBInstanceTarget.outputs($0, ["exists": "true"]) }
            ?? ["identifier": target.identifier, "status": "deleted", "exists": "false"]
        if let since = invocation.string("since"), let start = AWSStep.parseTimestamp(since) { out["seconds_since"] = AWSStep.secondsSince(start, now: invocation.clock.nowMilliseconds) }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

/// `aws.rds.assert-db-instance`: fails (not retryable) unless the instance matches every expectation given.
public struct AssertDBInstanceAction: StepAction {
    public let name = "aws.rds.assert-db-instance"
    public let summary = "Check a DB instance: exists, status, writer or replica of a source, Multi-AZ"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput,
                         ActionInputSpec("status"), ActionInputSpec("writer", description: "true: not a read replica"),
                         ActionInputSpec("replica_of", description: "the source's identifier (matches identifier or ARN)"),
                         ActionInputSpec("multi_az"), ActionInputSpec("engine", description: "the engine it must run (e.g. postgres)"),
                         ActionInputSpec("backups", description: "true: automated backups are on (retention > 0)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let db = try await target.require()
        let problems = try Self.problems(db, invocation)
        guard problems.isEmpty else { throw ActionFailure("\(target.description): " + problems.joined(separator: "; "), retryable: false) }
        return DBInstanceTarget.outputs(db, ["checked": "true"])
    }

    /// Every expectation of `invocation` that `db` does not meet.
    static func problems(_ db: RDS.DBInstance, _ invocation: ActionInvocation) throws -> [String] {
        var problems: [String] = []
        if let status = invocation.string("status"), db.status != status { problems.append("status is \(db.status), expected \(status)") }
        if try invocation.bool("backups") == true, (db.backupRetentionPeriod ?? 0) == 0 { problems.append("automated backups are off (retention 0)") }
        if try invocation.bool("writer") == true, let source = db.readReplicaSourceDBInstanceIdentifier {
            problems.append("is a read replica of \(source), expected a writer")
        }
        if let source = invocation.string("replica_of")?.lowercased() {
            let actual = db.readReplicaSourceDBInstanceIdentifier ?? ""
            if actual != source && !actual.hasSuffix(":db:\(source)") { problems.append("replica source is '\(actual)', expected \(source)") }
        }
        if let multiAZ = try invocation.bool("multi_az"), db.multiAZ != multiAZ { problems.append("MultiAZ is \(db.multiAZ), expected \(multiAZ)") }
        if let engine = invocation.string("engine"), !engine.isEmpty, (db.engine ?? "").lowercased() != engine.lowercased() {
            problems.append("engine is '\(db.engine ?? "")', expected \(engine)")
        }
        return problems
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only check") }
}

/// `aws.rds.reboot-db-instance`: reboot, with `force_failover: true` a Multi-AZ failover. Outputs `requested_at` (epoch ms)
/// and the AZ before the reboot. Re-run after a crash: an instance already rebooting counts as requested.
///
/// With `measure_writes: true` a canary writer commits a row every `write_interval` through the instance's endpoint
/// (see ``WriteOutageMeasurement``): first until one is acknowledged (else the reboot is not requested), then while the
/// reboot runs, until the instance is available again and writes are acknowledged again. Outputs `write_outage_seconds` (the last acknowledged
/// write before the first failure to the first acknowledged one after it), `canary_rows_acknowledged` (rows 1…N of this
/// step, for `db.check-canary`'s `acknowledged`), `write_failures`, `first_failure_at`, `writes_resumed_at`. Writes still
/// failing at `max_outage` fail the step (not retryable: the reboot happened). A re-run of an instance already rebooting
/// measures nothing (the crashed attempt's measurement is lost) and requests nothing; nor does a re-run whose server
/// restarted after an earlier attempt's first canary row (`already-rebooted`), which that attempt committed before it
/// requested the reboot.
public struct RebootDBInstanceAction: StepAction {
    public let name = "aws.rds.reboot-db-instance"
    public let summary = "Reboot a DB instance (force_failover: Multi-AZ failover; measure_writes: the write outage seen by a canary writer); outputs requested_at"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput, ActionInputSpec("force_failover")]
        + WriteOutageMeasurement.inputs
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let before = try await target.require()
        var out = ["requested_at": String(invocation.clock.nowMilliseconds), "az_before": before.availabilityZone ?? "",
                   "secondary_az_before": before.secondaryAvailabilityZone ?? ""].merging(WriteOutageMeasurement.notMeasured) { $1 }
        if before.status == "rebooting" && invocation.attempt > 1 {
            out[AWSOutput.result] = "already-rebooting"
            return out
        }
        let forceFailover = try invocation.bool("force_failover")
        let reboot = {
            _ = try await AWSStep.run("reboot of \(target.description)") {
                try await target.rds.rebootDBInstance(identifier: target.identifier, forceFailover: forceFailover)
            }
        }
        guard try invocation.bool("measure_writes") == true else {
            try await reboot()
            out[AWSOutput.result] = "rebooted"
            return out
        }
        let measurement = try await WriteOutageMeasurement.prepare(DatabaseConnector(provider: provider), invocation)
        if invocation.attempt > 1, await measurement.restartedSinceEarlierAttempt() == true {
            out[AWSOutput.result] = "already-rebooted"
            return out
        }
        let outcome = try await measurement.measure(around: reboot) { try await target.find()?.status == "available" }
        out.merge(outcome.outputs) { $1 }
        out["requested_at"] = String(outcome.requestedAt)
        out["canary_step"] = invocation.stepID
        out[AWSOutput.result] = "rebooted"
        guard outcome.resumed else {
            throw ActionFailure("\(target.description) was rebooted, but writes through \(measurement.target) were still failing "
                                + "\(invocation.string("max_outage") ?? "10m") later: \(outcome.failures.last?.error ?? "")",
                                retryable: false, outputs: out)
        }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "reboot \(invocation.string("identifier") ?? "?")" + ((try? invocation.bool("force_failover")) == true ? " with failover" : "")
                   + ((try? invocation.bool("measure_writes")) == true ? ", measuring writes with canary rows" : ""))
    }
}

/// `aws.rds.promote-read-replica`: promote; already standalone = done (idempotent). Outputs `requested_at`.
public struct PromoteReadReplicaAction: StepAction {
    public let name = "aws.rds.promote-read-replica"
    public let summary = "Promote a read replica to a standalone instance (already promoted is fine)"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput, ActionInputSpec("backup_retention")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let db = try await target.require()
        let requestedAt = String(invocation.clock.nowMilliseconds)
        guard let source = db.readReplicaSourceDBInstanceIdentifier else {
            return [AWSOutput.result: "already-standalone", "requested_at": requestedAt, "previous_source": ""]
        }
        _ = try await AWSStep.run("promotion of \(target.description)") {
            try await target.rds.promoteReadReplica(identifier: target.identifier, backupRetentionPeriod: try invocation.int("backup_retention"))
        }
        return [AWSOutput.result: "promoted", "requested_at": requestedAt, "previous_source": source]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try DBInstanceTarget(provider, invocation)
        let id = target.identifier
        guard let db = try await target.find() else { return ActionPlan(.unknown, "DB instance \(id) not found") }
        guard let source = db.readReplicaSourceDBInstanceIdentifier else { return ActionPlan(.nothing, "\(id) is already standalone") }
        return ActionPlan(.change, "promote \(id) (replica of \(source))")
    }
}

/// `aws.rds.delete-db-instance`: not-found is done; deletion protection is turned off first only with
/// `disable_deletion_protection: true`; a final snapshot unless `skip_final_snapshot` or a read replica.
public struct DeleteDBInstanceAction: StepAction {
    public let name = "aws.rds.delete-db-instance"
    public let summary = "Delete a DB instance (absent is fine), optionally with a final snapshot"
    public let inputs = RDSSupport.instanceInputs([ActionInputSpec("skip_final_snapshot"), ActionInputSpec("final_snapshot_identifier"),
                                                   ActionInputSpec("disable_deletion_protection"),
                                                   ActionInputSpec("only_this_run", description: "true: refuse to delete an instance this run did not create"),
                                                   ActionInputSpec("only_if_replica", description: "true: delete it only if it is a read replica (and wait until it is gone); a standalone instance is kept")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    static let absent = [AWSOutput.result: DeleteResult.absent.rawValue, "status": "deleted"]

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let pacing = try WaitPacing(invocation)
        guard let db = try await target.find() else { return Self.absent }
        if try invocation.bool("only_this_run") == true, Ownership.of(db.tags, runID: invocation.runID) != .thisRun {
            throw ActionFailure("\(target.description) was not created by this run (no runbook:run-id \(invocation.runID) tag); refusing to delete it", retryable: false)
        }
        let onlyReplica = try invocation.bool("only_if_replica") == true
        if onlyReplica && (db.readReplicaSourceDBInstanceIdentifier ?? "").isEmpty {
            return [AWSOutput.result: "kept", "status": db.status, "kept": "\(target.identifier) is not a read replica"]
        }
        if db.status == "deleting" && !onlyReplica { return [AWSOutput.result: "deleting", "status": "deleting"] }
        guard let settled = try await target.settle(DBInstanceTarget.settledStatuses, pacing) else { return Self.absent }
        var out: [String: String] = [:]
        if settled.deletionProtection {
            guard try invocation.bool("disable_deletion_protection") == true else {
                throw ActionFailure("\(target.description) has deletion protection on; set disable_deletion_protection to turn it off first", retryable: false)
            }
            out["deletion_protection_disabled"] = "true"
            guard try await AWSStep.run(target.description, { try await target.disableDeletionProtection(pacing) }) != nil else { return Self.absent }
        }
        out = try await delete(target, invocation, out, replica: !(settled.readReplicaSourceDBInstanceIdentifier ?? "").isEmpty)
        if onlyReplica {
            try await target.waitUntilDeleted(pacing)
            out["status"] = "deleted"
        }
        return out
    }

    /// Deletes the settled instance, with a final snapshot unless `skip_final_snapshot` or it is a read replica
    /// (RDS takes none of a replica: its writer holds the data). So a runbook can ask for a final snapshot of
    /// both slots of a deployment and get one of whichever is the writer.
    func delete(_ target: DBInstanceTarget, _ invocation: ActionInvocation, _ before: [String: String], replica: Bool) async throws -> [String: String] {
        var out = before
        let requested = !(try invocation.bool("skip_final_snapshot") ?? false)
        if requested && replica { out["final_snapshot_skipped"] = "a read replica has none (its writer holds the data)" }
        let skip = !requested || replica
        let snapshot = skip ? nil : (invocation.string("final_snapshot_identifier") ?? "\(target.identifier)-final")
        do {
            let deleted = try await target.rds.deleteDBInstance(identifier: target.identifier, skipFinalSnapshot: skip, finalDBSnapshotIdentifier: snapshot)
            out["status"] = deleted.status.isEmpty ? "deleting" : deleted.status
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return out.merging(Self.absent) { _, new in new }
        } catch {
            throw AWSStep.failure(error, target.description)
        }
        out[AWSOutput.result] = DeleteResult.deleted.rawValue
        out["final_snapshot"] = snapshot ?? ""
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try DBInstanceTarget(provider, invocation)
        return try await target.find() == nil ? ActionPlan(.nothing, "\(target.identifier) is absent") : ActionPlan(.change, "delete DB instance \(target.identifier)")
    }
}
