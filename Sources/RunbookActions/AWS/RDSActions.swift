import Foundation
import RunbookAWS
import RunbookEngine

// MARK: - Shared RDS helpers

enum RDSSupport {
    /// Create a DB instance; an `AlreadyExists` from a race (another attempt, a crash before the outputs were
    /// saved) adopts what is there, as this run's or as pre-existing by its tags.
    static func createOrAdopt(_ rds: RDS, _ id: String, _ invocation: ActionInvocation, _ what: String, extra: [String: String] = [:],
                              _ create: () async throws -> RDS.DBInstance) async throws -> [String: String] {
        do {
            let db = try await create()
            return outputs(db).merging(["result": "created", "owned": "true"].merging(extra) { _, b in b }) { _, b in b }
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceAlreadyExists) {
            guard let raced = try await find(rds, id) else { throw AWSStep.failure(error, what) }
            let ownership = Ownership.of(raced.tags, runID: invocation.runID)
            return outputs(raced).merging(["result": ownership.foundResult, "owned": ownership.owned]) { _, b in b }
        } catch {
            throw AWSStep.failure(error, what)
        }
    }

    static func rds(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws -> RDS {
        do { return try provider.client().rds(region: invocation.string("region")) } catch { throw AWSStep.failure(error, "RDS") }
    }

    /// The instance, or nil when it does not exist.
    static func find(_ rds: RDS, _ identifier: String) async throws -> RDS.DBInstance? {
        do {
            return try await rds.describeDBInstance(identifier: identifier)
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return nil
        } catch {
            throw AWSStep.failure(error, "DB instance \(identifier) in \(rds.region)")
        }
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

    static func pace(_ invocation: ActionInvocation) throws -> Duration { try invocation.duration("pace") ?? .seconds(30) }
    static func settleTimeout(_ invocation: ActionInvocation) throws -> Duration { try invocation.duration("settle_timeout") ?? .seconds(3600) }

    /// Waits until the instance is in one of `statuses` (or gone, answered as nil when `goneOK`).
    static func waitFor(_ rds: RDS, _ id: String, _ statuses: Set<String>, pace: Duration, timeout: Duration) async throws -> RDS.DBInstance? {
        try await AWSStep.poll("DB instance \(id) to be \(statuses.sorted().joined(separator: " or "))", pace: pace, timeout: timeout) {
            () async throws -> RDS.DBInstance?? in
            guard let db = try await find(rds, id) else { return .some(nil) }
            return statuses.contains(db.status) ? .some(db) : nil
        }
    }

    /// Deletes the instance if it carries this run's tag: waits for it to settle, turns deletion protection off
    /// (this run created it), deletes it without a final snapshot and waits until it is gone.
    static func deleteIfOwned(_ rds: RDS, _ id: String, _ invocation: ActionInvocation) async throws -> [String: String] {
        guard var db = try await find(rds, id) else { return ["undo": "already gone"] }
        guard Ownership.of(db.tags, runID: invocation.runID) == .thisRun else { return ["undo": "kept \(id): not created by this run"] }
        let pace = try pace(invocation), timeout = try settleTimeout(invocation)
        let what = "DB instance \(id) in \(rds.region)"
        if db.status != "deleting" {
            guard let settled = try await waitFor(rds, id, settledStatuses, pace: pace, timeout: timeout) else {
                return ["undo": "already gone"]
            }
            db = settled
            if db.deletionProtection {
                _ = try await AWSStep.run(what) {
                    try await rds.modifyDBInstance(RDS.ModifyDBInstanceRequest(identifier: id, applyImmediately: true, deletionProtection: false))
                }
                guard try await waitFor(rds, id, ["available"], pace: pace, timeout: timeout) != nil else { return ["undo": "already gone"] }
            }
            do {
                _ = try await rds.deleteDBInstance(identifier: id, skipFinalSnapshot: true)
            } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
                return ["undo": "already gone"]
            } catch {
                throw AWSStep.failure(error, what)
            }
        }
        _ = try await AWSStep.poll("\(what) to be deleted", pace: pace, timeout: timeout) { () async throws -> Bool? in
            try await find(rds, id) == nil ? true : nil
        }
        return ["undo": "deleted \(id)"]
    }

    /// Statuses in which an instance accepts ModifyDBInstance/DeleteDBInstance again (or never leaves by itself).
    static let settledStatuses: Set<String> = ["available", "failed", "stopped", "incompatible-parameters", "incompatible-restore", "storage-full"]

    static func bool(_ invocation: ActionInvocation, _ name: String, _ fallback: Bool) throws -> Bool { try invocation.bool(name) ?? fallback }

    static func instanceInputs(_ extra: [ActionInputSpec]) -> [ActionInputSpec] {
        [ActionInputSpec("identifier", required: true, description: "the DB instance identifier"), AWSStep.regionInput,
         AWSStep.paceInput, ActionInputSpec("settle_timeout", description: "how long undo/delete wait for the instance to settle (default 60m)")] + extra
    }
}

// MARK: - Parameter groups

/// `aws.rds.create-db-parameter-group`: creates (or adopts) a parameter group and sets parameters on groups this run owns.
public struct CreateDBParameterGroupAction: StepAction {
    public let name = "aws.rds.create-db-parameter-group"
    public let summary = "Create a DB parameter group (adopt an existing one) and set its parameters"
    public let inputs = [
        ActionInputSpec("name", required: true), AWSStep.regionInput, ActionInputSpec("family", required: true),
        ActionInputSpec("description"), ActionInputSpec("parameters", kind: .map, description: "parameter name: value (applied immediately)"),
    ]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        let wanted = try invocation.stringMap("parameters")
        let what = "DB parameter group \(groupName) in \(rds.region)"
        var result = "created"
        var ownership = Ownership.thisRun
        var group: RDS.DBParameterGroup
        if let existing = try await find(rds, groupName) {
            ownership = try await owner(rds, existing, invocation)
            result = ownership.foundResult
            group = existing
        } else {
            do {
                group = try await rds.createDBParameterGroup(name: groupName, family: try invocation.requiredString("family"),
                                                             description: invocation.string("description") ?? "runbook \(invocation.runbook)",
                                                             tags: AWSTags.ownership(invocation))
            } catch where AWSStep.isError(error, AWSErrorCode.dbParameterGroupAlreadyExists) {
                guard let raced = try await find(rds, groupName) else { throw AWSStep.failure(error, what) }
                group = raced
                ownership = try await owner(rds, raced, invocation)
                result = ownership.foundResult
            } catch {
                throw AWSStep.failure(error, what)
            }
        }
        var out = ["name": group.name, "result": result, "owned": ownership.owned, "arn": group.arn ?? ""]
        let differing = try await differing(rds, groupName, wanted)
        if !differing.isEmpty {
            if ownership == .thisRun {
                try await AWSStep.run(what) {
                    try await rds.modifyDBParameterGroup(name: groupName, parameters: differing.sorted().map { RDS.Parameter(name: $0, value: wanted[$0]) })
                }
            } else {
                // A pre-existing group is never changed: report the difference instead.
                out["drift"] = differing.sorted().joined(separator: ",")
            }
        }
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        guard let group = try await find(rds, groupName) else { return ["undo": "already gone"] }
        guard try await owner(rds, group, invocation) == .thisRun else { return ["undo": "kept \(groupName): not created by this run"] }
        do {
            try await rds.deleteDBParameterGroup(name: groupName)
        } catch where AWSStep.isError(error, AWSErrorCode.dbParameterGroupNotFound) {
            return ["undo": "already gone"]
        } catch {
            throw AWSStep.failure(error, "DB parameter group \(groupName) in \(rds.region)")
        }
        return ["undo": "deleted \(groupName)"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        guard try await find(rds, groupName) != nil else { return ActionPlan(.create, "parameter group \(groupName) in \(rds.region)") }
        let differing = try await differing(rds, groupName, try invocation.stringMap("parameters"))
        return ActionPlan(.adopt, "parameter group \(groupName) exists" + (differing.isEmpty ? "" : "; differs in \(differing.sorted().joined(separator: ", ")) (left unchanged)"))
    }

    func find(_ rds: RDS, _ name: String) async throws -> RDS.DBParameterGroup? {
        do { return try await rds.describeDBParameterGroup(name: name) } catch where AWSStep.isError(error, AWSErrorCode.dbParameterGroupNotFound) {
            return nil
        } catch { throw AWSStep.failure(error, "DB parameter group \(name) in \(rds.region)") }
    }

    func owner(_ rds: RDS, _ group: RDS.DBParameterGroup, _ invocation: ActionInvocation) async throws -> Ownership {
        guard let arn = group.arn else { return .preExisting }
        let tags = try await AWSStep.run("tags of DB parameter group \(group.name)") { try await rds.listTagsForResource(arn: arn) }
        return Ownership.of(tags, runID: invocation.runID)
    }

    func differing(_ rds: RDS, _ name: String, _ wanted: [String: String]) async throws -> Set<String> {
        guard !wanted.isEmpty else { return [] }
        let current = try await AWSStep.run("parameters of DB parameter group \(name)") { try await rds.describeAllDBParameters(name: name) }
        var values: [String: String] = [:]
        for p in current { if let v = p.value { values[p.name] = v } }
        return Set(wanted.filter { values[$0.key] != $0.value }.map(\.key))
    }
}

/// `aws.rds.delete-db-parameter-group`: deletes a parameter group; not-found is done.
public struct DeleteDBParameterGroupAction: StepAction {
    public let name = "aws.rds.delete-db-parameter-group"
    public let summary = "Delete a DB parameter group (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        do {
            try await rds.deleteDBParameterGroup(name: groupName)
            return ["result": "deleted"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbParameterGroupNotFound) {
            return ["result": "absent"]
        } catch {
            throw AWSStep.failure(error, "DB parameter group \(groupName) in \(rds.region)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        let exists = try await CreateDBParameterGroupAction(provider: provider).find(rds, groupName) != nil
        return exists ? ActionPlan(.change, "delete parameter group \(groupName)") : ActionPlan(.nothing, "\(groupName) is absent")
    }
}

// MARK: - Subnet groups

/// `aws.rds.create-db-subnet-group`.
public struct CreateDBSubnetGroupAction: StepAction {
    public let name = "aws.rds.create-db-subnet-group"
    public let summary = "Create a DB subnet group (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput, ActionInputSpec("description"),
                         ActionInputSpec("subnet_ids", required: true, kind: .any, description: "a list or comma-separated subnet ids")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        let what = "DB subnet group \(groupName) in \(rds.region)"
        if let existing = try await find(rds, groupName) {
            let ownership = try await owner(rds, existing, invocation)
            return ["name": groupName, "result": ownership.foundResult, "owned": ownership.owned, "vpc_id": existing.vpcID ?? ""]
        }
        do {
            let group = try await rds.createDBSubnetGroup(name: groupName, description: invocation.string("description") ?? "runbook \(invocation.runbook)",
                                                          subnetIDs: try AWSStep.list(invocation, "subnet_ids"), tags: AWSTags.ownership(invocation))
            return ["name": groupName, "result": "created", "owned": "true", "vpc_id": group.vpcID ?? ""]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSubnetGroupAlreadyExists) {
            guard let raced = try await find(rds, groupName) else { throw AWSStep.failure(error, what) }
            let ownership = try await owner(rds, raced, invocation)
            return ["name": groupName, "result": ownership.foundResult, "owned": ownership.owned, "vpc_id": raced.vpcID ?? ""]
        } catch {
            throw AWSStep.failure(error, what)
        }
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        guard let group = try await find(rds, groupName) else { return ["undo": "already gone"] }
        guard try await owner(rds, group, invocation) == .thisRun else { return ["undo": "kept \(groupName): not created by this run"] }
        return try await DeleteDBSubnetGroupAction(provider: provider).perform(invocation)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        return try await find(rds, groupName) == nil ? ActionPlan(.create, "subnet group \(groupName) in \(rds.region)") : ActionPlan(.adopt, "subnet group \(groupName) exists")
    }

    func find(_ rds: RDS, _ name: String) async throws -> RDS.DBSubnetGroup? {
        do { return try await rds.describeDBSubnetGroups(name: name).items.first { $0.name == name } } catch where AWSStep.isError(error, AWSErrorCode.dbSubnetGroupNotFound) {
            return nil
        } catch { throw AWSStep.failure(error, "DB subnet group \(name) in \(rds.region)") }
    }

    func owner(_ rds: RDS, _ group: RDS.DBSubnetGroup, _ invocation: ActionInvocation) async throws -> Ownership {
        guard let arn = group.arn else { return .preExisting }
        let tags = try await AWSStep.run("tags of DB subnet group \(group.name)") { try await rds.listTagsForResource(arn: arn) }
        return Ownership.of(tags, runID: invocation.runID)
    }
}

/// `aws.rds.delete-db-subnet-group`: not-found is done.
public struct DeleteDBSubnetGroupAction: StepAction {
    public let name = "aws.rds.delete-db-subnet-group"
    public let summary = "Delete a DB subnet group (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        do {
            try await rds.deleteDBSubnetGroup(name: groupName)
            return ["result": "deleted", "undo": "deleted \(groupName)"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSubnetGroupNotFound) {
            return ["result": "absent", "undo": "already gone"]
        } catch {
            throw AWSStep.failure(error, "DB subnet group \(groupName) in \(rds.region)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let groupName = try invocation.requiredString("name")
        return try await CreateDBSubnetGroupAction(provider: provider).find(rds, groupName) == nil
            ? ActionPlan(.nothing, "\(groupName) is absent") : ActionPlan(.change, "delete subnet group \(groupName)")
    }
}

// MARK: - Instances

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
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let what = "DB instance \(id) in \(rds.region)"
        if let existing = try await RDSSupport.find(rds, id) {
            let ownership = Ownership.of(existing.tags, runID: invocation.runID)
            return RDSSupport.outputs(existing).merging(["result": ownership.foundResult, "owned": ownership.owned]) { _, b in b }
        }
        var request = RDS.CreateDBInstanceRequest(identifier: id, instanceClass: try invocation.requiredString("instance_class"),
                                                  engine: try invocation.requiredString("engine"), tags: AWSTags.ownership(invocation))
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
        request.enablePerformanceInsights = try invocation.bool("performance_insights")
        request.performanceInsightsRetentionPeriod = try invocation.int("performance_insights_retention")
        request.monitoringInterval = try invocation.int("monitoring_interval")
        if let role = invocation.string("monitoring_role"), !role.isEmpty, (request.monitoringInterval ?? 0) > 0 {
            request.monitoringRoleARN = try await AWSStep.run("IAM role \(role)") { try await provider.client().iam.getRole(name: role).arn }
        }
        request.deletionProtection = try invocation.bool("deletion_protection")
        return try await RDSSupport.createOrAdopt(rds, id, invocation, what) { try await rds.createDBInstance(request) }
    }

    var createdNoun: String { "DB instance" }
}

/// A create action for a DB instance: its undo deletes the instance only if this run created it (waiting for it
/// to settle and be gone), and its plan says create or adopt.
protocol DBInstanceCreatingAction: StepAction {
    var provider: AWSClientProvider { get }
    var createdNoun: String { get }
}

extension DBInstanceCreatingAction {
    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        return try await RDSSupport.deleteIfOwned(rds, try invocation.requiredString("identifier").lowercased(), invocation)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { return ActionPlan(.create, "\(createdNoun) \(id) in \(rds.region)") }
        return ActionPlan(.adopt, "DB instance \(id) exists (\(db.status))")
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
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let what = "read replica \(id) in \(rds.region)"
        if let existing = try await RDSSupport.find(rds, id) {
            let ownership = Ownership.of(existing.tags, runID: invocation.runID)
            return RDSSupport.outputs(existing).merging(["result": ownership.foundResult, "owned": ownership.owned]) { _, b in b }
        }
        let sourceRegion = try invocation.requiredString("source_region")
        let sourceID = try invocation.requiredString("source_identifier").lowercased()
        let sourceRDS = try AWSStep.sync("RDS") { try provider.client().rds(region: sourceRegion) }
        guard let source = try await RDSSupport.find(sourceRDS, sourceID), let sourceARN = source.arn else {
            throw ActionFailure("\(what): source DB instance \(sourceID) not found in \(sourceRegion)", retryable: false)
        }
        var request = RDS.CreateDBInstanceReadReplicaRequest(identifier: id, sourceDBInstanceIdentifier: sourceARN, sourceRegion: sourceRegion,
                                                             tags: AWSTags.ownership(invocation))
        request.instanceClass = invocation.string("instance_class")
        request.storageEncrypted = try invocation.bool("storage_encrypted")
        // AWS needs a key in the destination region for a cross-region replica of an encrypted source.
        if let key = invocation.string("kms_key_id"), !key.isEmpty {
            request.kmsKeyID = key
        } else if source.storageEncrypted && sourceRegion != rds.region {
            request.kmsKeyID = "alias/aws/rds"
        }
        request.dbSubnetGroupName = invocation.string("subnet_group")
        request.dbParameterGroupName = invocation.string("parameter_group")
        request.enablePerformanceInsights = try invocation.bool("performance_insights")
        request.performanceInsightsRetentionPeriod = try invocation.int("performance_insights_retention")
        request.monitoringInterval = try invocation.int("monitoring_interval")
        if let role = invocation.string("monitoring_role"), !role.isEmpty, (request.monitoringInterval ?? 0) > 0 {
            request.monitoringRoleARN = try await AWSStep.run("IAM role \(role)") { try await provider.client().iam.getRole(name: role).arn }
        }
        request.deletionProtection = try invocation.bool("deletion_protection") ?? false
        return try await RDSSupport.createOrAdopt(rds, id, invocation, what, extra: ["source_arn": sourceARN]) {
            try await rds.createDBInstanceReadReplica(request)
        }
    }

    var createdNoun: String { "read replica" }
}

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
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        var out = try await RDSSupport.find(rds, id).map(RDSSupport.outputs) ?? ["identifier": id, "status": "deleted", "exists": "false"]
        if out["exists"] == nil { out["exists"] = "true" }
        if let since = invocation.string("since"), let start = AWSStep.parseTimestamp(since) { out["seconds_since"] = AWSStep.secondsSince(start) }
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
                         ActionInputSpec("multi_az"), ActionInputSpec("engine", description: "the engine it must run (e.g. postgres)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else {
            throw ActionFailure("DB instance \(id) not found in \(rds.region)", retryable: false)
        }
        var problems: [String] = []
        if let status = invocation.string("status"), db.status != status { problems.append("status is \(db.status), expected \(status)") }
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
        guard problems.isEmpty else { throw ActionFailure("DB instance \(id) in \(rds.region): " + problems.joined(separator: "; "), retryable: false) }
        return RDSSupport.outputs(db).merging(["checked": "true"]) { _, b in b }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only check") }
}

/// `aws.rds.reboot-db-instance`: reboot, with `force_failover: true` a Multi-AZ failover. Outputs `requested_at` (epoch ms)
/// and the AZ before the reboot. Re-run after a crash: an instance already rebooting counts as requested.
public struct RebootDBInstanceAction: StepAction {
    public let name = "aws.rds.reboot-db-instance"
    public let summary = "Reboot a DB instance (force_failover: Multi-AZ failover); outputs requested_at"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput, ActionInputSpec("force_failover")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let before = try await RDSSupport.find(rds, id) else { throw ActionFailure("DB instance \(id) not found in \(rds.region)", retryable: false) }
        let requestedAt = AWSStep.nowMilliseconds()
        var out = ["requested_at": String(requestedAt), "az_before": before.availabilityZone ?? "",
                   "secondary_az_before": before.secondaryAvailabilityZone ?? ""]
        if before.status == "rebooting" && invocation.attempt > 1 {
            out["result"] = "already-rebooting"
            return out
        }
        _ = try await AWSStep.run("reboot of DB instance \(id) in \(rds.region)") {
            try await rds.rebootDBInstance(identifier: id, forceFailover: try invocation.bool("force_failover"))
        }
        out["result"] = "rebooted"
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "reboot \(invocation.string("identifier") ?? "?")" + ((try? invocation.bool("force_failover")) == true ? " with failover" : ""))
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
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { throw ActionFailure("DB instance \(id) not found in \(rds.region)", retryable: false) }
        let requestedAt = String(AWSStep.nowMilliseconds())
        guard let source = db.readReplicaSourceDBInstanceIdentifier else {
            return ["result": "already-standalone", "requested_at": requestedAt, "previous_source": ""]
        }
        _ = try await AWSStep.run("promotion of DB instance \(id) in \(rds.region)") {
            try await rds.promoteReadReplica(identifier: id, backupRetentionPeriod: try invocation.int("backup_retention"))
        }
        return ["result": "promoted", "requested_at": requestedAt, "previous_source": source]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        guard let db = try await RDSSupport.find(rds, id) else { return ActionPlan(.unknown, "DB instance \(id) not found") }
        return db.readReplicaSourceDBInstanceIdentifier == nil ? ActionPlan(.nothing, "\(id) is already standalone")
            : ActionPlan(.change, "promote \(id) (replica of \(db.readReplicaSourceDBInstanceIdentifier ?? ""))")
    }
}

/// `aws.rds.delete-db-instance`: not-found is done; deletion protection is turned off first only with
/// `disable_deletion_protection: true`; a final snapshot unless `skip_final_snapshot`.
public struct DeleteDBInstanceAction: StepAction {
    public let name = "aws.rds.delete-db-instance"
    public let summary = "Delete a DB instance (absent is fine), optionally with a final snapshot"
    public let inputs = RDSSupport.instanceInputs([ActionInputSpec("skip_final_snapshot"), ActionInputSpec("final_snapshot_identifier"),
                                                   ActionInputSpec("disable_deletion_protection"),
                                                   ActionInputSpec("only_this_run", description: "true: refuse to delete an instance this run did not create")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        let what = "DB instance \(id) in \(rds.region)"
        let pace = try RDSSupport.pace(invocation), timeout = try RDSSupport.settleTimeout(invocation)
        guard var db = try await RDSSupport.find(rds, id) else { return ["result": "absent", "status": "deleted"] }
        if try invocation.bool("only_this_run") == true, Ownership.of(db.tags, runID: invocation.runID) != .thisRun {
            throw ActionFailure("\(what) was not created by this run (no runbook:run-id \(invocation.runID) tag); refusing to delete it", retryable: false)
        }
        if db.status == "deleting" { return ["result": "deleting", "status": "deleting"] }
        guard let settled = try await RDSSupport.waitFor(rds, id, RDSSupport.settledStatuses, pace: pace, timeout: timeout) else {
            return ["result": "absent", "status": "deleted"]
        }
        db = settled
        var out: [String: String] = [:]
        if db.deletionProtection {
            guard try invocation.bool("disable_deletion_protection") == true else {
                throw ActionFailure("\(what) has deletion protection on; set disable_deletion_protection to turn it off first", retryable: false)
            }
            _ = try await AWSStep.run(what) { try await rds.modifyDBInstance(RDS.ModifyDBInstanceRequest(identifier: id, applyImmediately: true, deletionProtection: false)) }
            out["deletion_protection_disabled"] = "true"
            guard try await RDSSupport.waitFor(rds, id, ["available"], pace: pace, timeout: timeout) != nil else { return ["result": "absent", "status": "deleted"] }
        }
        let skip = try invocation.bool("skip_final_snapshot") ?? false
        let snapshot = skip ? nil : (invocation.string("final_snapshot_identifier") ?? "\(id)-final")
        do {
            let deleted = try await rds.deleteDBInstance(identifier: id, skipFinalSnapshot: skip, finalDBSnapshotIdentifier: snapshot)
            out["status"] = deleted.status.isEmpty ? "deleting" : deleted.status
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return out.merging(["result": "absent", "status": "deleted"]) { _, b in b }
        } catch {
            throw AWSStep.failure(error, what)
        }
        out["result"] = "deleted"
        out["final_snapshot"] = snapshot ?? ""
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let id = try invocation.requiredString("identifier").lowercased()
        return try await RDSSupport.find(rds, id) == nil ? ActionPlan(.nothing, "\(id) is absent") : ActionPlan(.change, "delete DB instance \(id)")
    }
}

// MARK: - Snapshots

/// `aws.rds.create-db-snapshot`: a manual snapshot (adopt an existing one); undo deletes it if this run created it.
public struct CreateDBSnapshotAction: StepAction {
    public let name = "aws.rds.create-db-snapshot"
    public let summary = "Create a manual DB snapshot (adopt an existing one)"
    public let inputs = [ActionInputSpec("snapshot_identifier", required: true), ActionInputSpec("identifier", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        let id = try invocation.requiredString("identifier").lowercased()
        let what = "DB snapshot \(snapshotID) in \(rds.region)"
        if let existing = try await DBSnapshots.find(rds, snapshotID) {
            let ownership = try await DBSnapshots.owner(rds, existing, invocation)
            return ["snapshot_identifier": snapshotID, "status": existing.status, "result": ownership.foundResult, "owned": ownership.owned]
        }
        do {
            let snapshot = try await rds.createDBSnapshot(snapshotIdentifier: snapshotID, instanceIdentifier: id, tags: AWSTags.ownership(invocation))
            return ["snapshot_identifier": snapshotID, "status": snapshot.status, "result": "created", "owned": "true"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSnapshotAlreadyExists) {
            return ["snapshot_identifier": snapshotID, "status": "creating", "result": "recovered", "owned": "true"]
        } catch {
            throw AWSStep.failure(error, what)
        }
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        guard let snapshot = try await DBSnapshots.find(rds, snapshotID) else { return ["undo": "already gone"] }
        guard try await DBSnapshots.owner(rds, snapshot, invocation) == .thisRun else { return ["undo": "kept \(snapshotID): not created by this run"] }
        return try await DeleteDBSnapshotAction(provider: provider).perform(invocation)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        return try await DBSnapshots.find(rds, snapshotID) == nil ? ActionPlan(.create, "snapshot \(snapshotID)") : ActionPlan(.adopt, "snapshot \(snapshotID) exists")
    }
}

enum DBSnapshots {
    static func find(_ rds: RDS, _ id: String) async throws -> RDS.DBSnapshot? {
        do { return try await rds.describeDBSnapshots(snapshotIdentifier: id).items.first } catch where AWSStep.isError(error, AWSErrorCode.dbSnapshotNotFound) {
            return nil
        } catch { throw AWSStep.failure(error, "DB snapshot \(id) in \(rds.region)") }
    }

    static func owner(_ rds: RDS, _ snapshot: RDS.DBSnapshot, _ invocation: ActionInvocation) async throws -> Ownership {
        guard let arn = snapshot.arn else { return .preExisting }
        return Ownership.of(try await AWSStep.run("tags of DB snapshot \(snapshot.identifier)") { try await rds.listTagsForResource(arn: arn) }, runID: invocation.runID)
    }
}

/// `aws.rds.describe-db-snapshot`: status of a snapshot (not found = `status: deleted`).
public struct DescribeDBSnapshotAction: StepAction {
    public let name = "aws.rds.describe-db-snapshot"
    public let summary = "Describe a DB snapshot (not found = status deleted)"
    public let inputs = [ActionInputSpec("snapshot_identifier", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        guard let snapshot = try await DBSnapshots.find(rds, snapshotID) else { return ["snapshot_identifier": snapshotID, "status": "deleted"] }
        return ["snapshot_identifier": snapshotID, "status": snapshot.status, "instance": snapshot.instanceIdentifier]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

/// `aws.rds.delete-db-snapshot`: not-found is done.
public struct DeleteDBSnapshotAction: StepAction {
    public let name = "aws.rds.delete-db-snapshot"
    public let summary = "Delete a DB snapshot (absent is fine)"
    public let inputs = [ActionInputSpec("snapshot_identifier", required: true), ActionInputSpec("identifier"), AWSStep.regionInput,
                         ActionInputSpec("only_this_run", description: "true: refuse to delete a snapshot this run did not create")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        if try invocation.bool("only_this_run") == true {
            guard let snapshot = try await DBSnapshots.find(rds, snapshotID) else { return ["result": "absent", "undo": "already gone"] }
            guard try await DBSnapshots.owner(rds, snapshot, invocation) == .thisRun else {
                throw ActionFailure("DB snapshot \(snapshotID) in \(rds.region) was not created by this run; refusing to delete it", retryable: false)
            }
        }
        do {
            _ = try await rds.deleteDBSnapshot(snapshotIdentifier: snapshotID)
            return ["result": "deleted", "undo": "deleted \(snapshotID)"]
        } catch where AWSStep.isError(error, AWSErrorCode.dbSnapshotNotFound) {
            return ["result": "absent", "undo": "already gone"]
        } catch {
            throw AWSStep.failure(error, "DB snapshot \(snapshotID) in \(rds.region)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let snapshotID = try invocation.requiredString("snapshot_identifier").lowercased()
        return try await DBSnapshots.find(rds, snapshotID) == nil ? ActionPlan(.nothing, "\(snapshotID) is absent") : ActionPlan(.change, "delete snapshot \(snapshotID)")
    }
}

// MARK: - Automated backups replication

/// `aws.rds.start-db-instance-automated-backups-replication`: called in the destination `region` for the source instance
/// (`source_identifier` in `source_region`). Already replicating = adopted. Undo stops it when this run started it.
public struct StartBackupReplicationAction: StepAction {
    public let name = "aws.rds.start-db-instance-automated-backups-replication"
    public let summary = "Replicate a source instance's automated backups to this region (already replicating is fine)"
    public let inputs = [ActionInputSpec("source_identifier", required: true), ActionInputSpec("source_region", required: true), AWSStep.regionInput,
                         ActionInputSpec("backup_retention")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let (source, arn) = try await sourceARN(invocation)
        if let existing = try await replication(rds, source) {
            return ["result": "adopted", "status": existing.status, "source_arn": arn]
        }
        do {
            let started = try await rds.startDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: arn, backupRetentionPeriod: try invocation.int("backup_retention"))
            return ["result": "created", "status": started.status, "source_arn": arn, "backup_arn": started.arn ?? ""]
        } catch where AWSStep.isError(error, "InvalidDBInstanceAutomatedBackupState") {
            return ["result": "recovered", "status": "replicating", "source_arn": arn]
        } catch {
            throw AWSStep.failure(error, "backup replication of \(source) to \(rds.region)")
        }
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        // Stop only what this run started: the outputs say so, or (after a crash before they were recorded) the source is this run's.
        let rds = try RDSSupport.rds(provider, invocation)
        let sourceID = try invocation.requiredString("source_identifier").lowercased()
        let sourceRDS = try AWSStep.sync("RDS") { try provider.client().rds(region: try invocation.requiredString("source_region")) }
        let result = invocation.stepOutputs["result"]
        if result == "adopted" { return ["undo": "kept: replication existed before this run"] }
        if result == nil {
            guard let source = try await RDSSupport.find(sourceRDS, sourceID), Ownership.of(source.tags, runID: invocation.runID) == .thisRun else {
                return ["undo": "kept: not started by this run"]
            }
        }
        return try await StopBackupReplicationAction(provider: provider).stop(rds, sourceRDS, sourceID)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let sourceID = try invocation.requiredString("source_identifier").lowercased()
        return try await replication(rds, sourceID) == nil ? ActionPlan(.create, "replicate backups of \(sourceID) to \(rds.region)")
            : ActionPlan(.adopt, "backups of \(sourceID) already replicate to \(rds.region)")
    }

    func sourceARN(_ invocation: ActionInvocation) async throws -> (String, String) {
        let sourceID = try invocation.requiredString("source_identifier").lowercased()
        let sourceRegion = try invocation.requiredString("source_region")
        let sourceRDS = try AWSStep.sync("RDS") { try provider.client().rds(region: sourceRegion) }
        guard let source = try await RDSSupport.find(sourceRDS, sourceID), let arn = source.arn else {
            throw ActionFailure("source DB instance \(sourceID) not found in \(sourceRegion)", retryable: false)
        }
        return (sourceID, arn)
    }

    func replication(_ rds: RDS, _ sourceID: String) async throws -> RDS.DBInstanceAutomatedBackup? {
        let backups = try await AWSStep.run("automated backups of \(sourceID) in \(rds.region)") {
            try await rds.describeDBInstanceAutomatedBackups(instanceIdentifier: sourceID).items
        }
        return backups.first { $0.instanceIdentifier == sourceID && $0.status == "replicating" && $0.region != rds.region }
    }
}

/// `aws.rds.stop-db-instance-automated-backups-replication`: not replicating (or source gone) is done.
public struct StopBackupReplicationAction: StepAction {
    public let name = "aws.rds.stop-db-instance-automated-backups-replication"
    public let summary = "Stop replicating a source instance's automated backups to this region (not replicating is fine)"
    public let inputs = [ActionInputSpec("source_identifier", required: true), ActionInputSpec("source_region", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let sourceRDS = try AWSStep.sync("RDS") { try provider.client().rds(region: try invocation.requiredString("source_region")) }
        return try await stop(rds, sourceRDS, try invocation.requiredString("source_identifier").lowercased())
    }

    func stop(_ rds: RDS, _ sourceRDS: RDS, _ sourceID: String) async throws -> [String: String] {
        guard let source = try await RDSSupport.find(sourceRDS, sourceID), let arn = source.arn else { return ["result": "absent", "undo": "source gone"] }
        do {
            _ = try await rds.stopDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: arn)
            return ["result": "stopped", "undo": "stopped replication of \(sourceID)"]
        } catch where AWSStep.isError(error, "InvalidDBInstanceState", AWSErrorCode.dbInstanceNotFound) {
            return ["result": "absent", "undo": "not replicating"]
        } catch {
            throw AWSStep.failure(error, "backup replication of \(sourceID) to \(rds.region)")
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "stop replicating backups of \(invocation.string("source_identifier") ?? "?") to \(invocation.string("region") ?? "the default region")")
    }
}
