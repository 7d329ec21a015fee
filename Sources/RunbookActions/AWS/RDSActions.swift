import Foundation
import RunbookAWS
import RunbookEngine

// MARK: - Shared RDS helpers

enum RDSSupport {
    /// The RDS client for the step's `region`.
    static func rds(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws -> RDS {
        try rds(provider, region: invocation.string("region"))
    }

    /// The RDS client for `region` (a source region, say).
    static func rds(_ provider: AWSClientProvider, region: String?) throws -> RDS {
        do { return try provider.client().rds(region: region) } catch { throw AWSStep.failure(error, "RDS") }
    }

    /// The tags of the RDS resource `arn` (none without an ARN: such a resource counts as pre-existing).
    static func tags(_ rds: RDS, arn: String?) async throws -> [AWSTag] {
        guard let arn else { return [] }
        return try await rds.listTagsForResource(arn: arn)
    }

    static func instanceInputs(_ extra: [ActionInputSpec]) -> [ActionInputSpec] {
        [ActionInputSpec("identifier", required: true, description: "the DB instance identifier"), AWSStep.regionInput,
         AWSStep.paceInput, ActionInputSpec("settle_timeout", description: "how long undo/delete wait for the instance to settle (default 60m)")] + extra
    }
}

/// An RDS resource that the step names by its `name` input, in its `region`.
protocol RDSNamedResource: ManagedResource {
    init(rds: RDS, name: String, invocation: ActionInvocation)
}

extension RDSNamedResource {
    /// The resource named by the step's `name` in its `region`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(rds: try RDSSupport.rds(provider, invocation), name: try invocation.requiredString("name"), invocation: invocation)
    }
}

// MARK: - Parameter groups

/// A DB parameter group by name.
struct DBParameterGroupResource: RDSNamedResource {
    let rds: RDS
    let name: String
    let invocation: ActionInvocation

    var description: String { "DB parameter group \(name) in \(rds.region)" }
    static let notFoundCodes: Set<String> = [AWSErrorCode.dbParameterGroupNotFound]
    static let alreadyExistsCodes: Set<String> = [AWSErrorCode.dbParameterGroupAlreadyExists]

    func fetch() async throws -> RDS.DBParameterGroup? { try await rds.describeDBParameterGroup(name: name) }
    func tags(of group: RDS.DBParameterGroup) async throws -> [AWSTag] { try await RDSSupport.tags(rds, arn: group.arn) }
    func delete(_ group: RDS.DBParameterGroup) async throws { try await rds.deleteDBParameterGroup(name: name) }

    func create() async throws -> RDS.DBParameterGroup {
        try await rds.createDBParameterGroup(name: name, family: try invocation.requiredString("family"),
                                             description: invocation.string("description") ?? "runbook \(invocation.runbook)",
                                             tags: AWSTags.ownership(invocation))
    }

    /// The parameters of `wanted` whose current value differs.
    func differing(_ wanted: [String: String]) async throws -> Set<String> {
        guard !wanted.isEmpty else { return [] }
        let current = try await AWSStep.run("parameters of \(description)") { try await rds.describeAllDBParameters(name: name) }
        var values: [String: String] = [:]
        for p in current { if let v = p.value { values[p.name] = v } }
        return Set(wanted.filter { values[$0.key] != $0.value }.map(\.key))
    }
}

/// `aws.rds.create-db-parameter-group`: creates (or adopts) a parameter group and sets parameters on groups this run owns.
public struct CreateDBParameterGroupAction: ResourceCreatingAction {
    public let name = "aws.rds.create-db-parameter-group"
    public let summary = "Create a DB parameter group (adopt an existing one) and set its parameters"
    public let inputs = [
        ActionInputSpec("name", required: true), AWSStep.regionInput, ActionInputSpec("family", required: true),
        ActionInputSpec("description"), ActionInputSpec("parameters", kind: .map, description: "parameter name: value (applied immediately)"),
    ]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> DBParameterGroupResource { try DBParameterGroupResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let group = try resource(invocation)
        let wanted = try invocation.stringMap("parameters")
        let adoption = try await ResourceLifecycle.createOrAdopt(group, runID: invocation.runID)
        let found = adoption.resource
        var out = adoption.outputs(["name": found.name, "arn": found.arn ?? ""])
        let differing = try await group.differing(wanted).sorted()
        guard !differing.isEmpty else { return out }
        if adoption.ownership == .thisRun {
            try await AWSStep.run(group.description) {
                try await group.rds.modifyDBParameterGroup(name: group.name, parameters: differing.map { RDS.Parameter(name: $0, value: wanted[$0]) })
            }
        } else {
            // A pre-existing group is never changed: report the difference instead.
            out["drift"] = differing.joined(separator: ",")
        }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let group = try resource(invocation)
        guard try await ResourceLifecycle.find(group) != nil else { return ActionPlan(.create, "parameter group \(group.name) in \(group.rds.region)") }
        let differing = try await group.differing(try invocation.stringMap("parameters")).sorted()
        return ActionPlan(.adopt, "parameter group \(group.name) exists" + (differing.isEmpty ? "" : "; differs in \(differing.joined(separator: ", ")) (left unchanged)"))
    }
}

// MARK: - Subnet groups

/// A DB subnet group by name.
struct DBSubnetGroupResource: RDSNamedResource {
    let rds: RDS
    let name: String
    let invocation: ActionInvocation

    var description: String { "DB subnet group \(name) in \(rds.region)" }
    static let notFoundCodes: Set<String> = [AWSErrorCode.dbSubnetGroupNotFound]
    static let alreadyExistsCodes: Set<String> = [AWSErrorCode.dbSubnetGroupAlreadyExists]

    func fetch() async throws -> RDS.DBSubnetGroup? { try await rds.describeDBSubnetGroups(name: name).items.first { $0.name == name } }
    func tags(of group: RDS.DBSubnetGroup) async throws -> [AWSTag] { try await RDSSupport.tags(rds, arn: group.arn) }
    func delete(_ group: RDS.DBSubnetGroup) async throws { try await rds.deleteDBSubnetGroup(name: name) }

    func create() async throws -> RDS.DBSubnetGroup {
        try await rds.createDBSubnetGroup(name: name, description: invocation.string("description") ?? "runbook \(invocation.runbook)",
                                          subnetIDs: try AWSStep.list(invocation, "subnet_ids"), tags: AWSTags.ownership(invocation))
    }
}

/// `aws.rds.create-db-subnet-group`.
public struct CreateDBSubnetGroupAction: ResourceCreatingAction {
    public let name = "aws.rds.create-db-subnet-group"
    public let summary = "Create a DB subnet group (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput, ActionInputSpec("description"),
                         ActionInputSpec("subnet_ids", required: true, kind: .any, description: "a list or comma-separated subnet ids")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> DBSubnetGroupResource { try DBSubnetGroupResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let group = try resource(invocation)
        let adoption = try await ResourceLifecycle.createOrAdopt(group, runID: invocation.runID)
        return adoption.outputs(["name": group.name, "vpc_id": adoption.resource.vpcID ?? ""])
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let group = try resource(invocation)
        return try await ResourceLifecycle.plan(group, create: "subnet group \(group.name) in \(group.rds.region)") { _ in
            "subnet group \(group.name) exists"
        }
    }
}

// MARK: - Snapshots

/// A DB snapshot by identifier (manual or automated); `create` makes a manual one of the step's `identifier`.
struct DBSnapshotResource: ManagedResource {
    let rds: RDS
    let name: String
    let invocation: ActionInvocation

    var description: String { "DB snapshot \(name) in \(rds.region)" }
    static let notFoundCodes: Set<String> = [AWSErrorCode.dbSnapshotNotFound]
    static let alreadyExistsCodes: Set<String> = [AWSErrorCode.dbSnapshotAlreadyExists]

    func fetch() async throws -> RDS.DBSnapshot? { try await rds.describeDBSnapshots(snapshotIdentifier: name).items.first }
    func tags(of snapshot: RDS.DBSnapshot) async throws -> [AWSTag] { try await RDSSupport.tags(rds, arn: snapshot.arn) }
    func delete(_ snapshot: RDS.DBSnapshot) async throws { _ = try await rds.deleteDBSnapshot(snapshotIdentifier: name) }

    func create() async throws -> RDS.DBSnapshot {
        try await rds.createDBSnapshot(snapshotIdentifier: name, instanceIdentifier: try invocation.requiredString("identifier").lowercased(),
                                       tags: AWSTags.ownership(invocation))
    }
}

extension DBSnapshotResource {
    /// The snapshot `identifier` (lower-cased, as RDS keeps it).
    init(_ rds: RDS, _ identifier: String, _ invocation: ActionInvocation) {
        self.init(rds: rds, name: identifier.lowercased(), invocation: invocation)
    }

    /// The snapshot named by the step's `snapshot_identifier`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(try RDSSupport.rds(provider, invocation), try invocation.requiredString("snapshot_identifier"), invocation)
    }
}

/// `aws.rds.create-db-snapshot`: a manual snapshot (adopt an existing one); undo deletes it if this run created it.
public struct CreateDBSnapshotAction: ResourceCreatingAction {
    public let name = "aws.rds.create-db-snapshot"
    public let summary = "Create a manual DB snapshot (adopt an existing one)"
    public let inputs = [ActionInputSpec("snapshot_identifier", required: true), ActionInputSpec("identifier", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> DBSnapshotResource { try DBSnapshotResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let snapshot = try resource(invocation)
        let adoption = try await ResourceLifecycle.createOrAdopt(snapshot, runID: invocation.runID)
        return adoption.outputs(["snapshot_identifier": snapshot.name, "status": adoption.resource.status])
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let snapshot = try resource(invocation)
        return try await ResourceLifecycle.plan(snapshot, create: "snapshot \(snapshot.name)") { _ in "snapshot \(snapshot.name) exists" }
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
        let target = try DBSnapshotResource(provider, invocation)
        guard let snapshot = try await ResourceLifecycle.find(target) else { return ["snapshot_identifier": target.name, "status": "deleted"] }
        return ["snapshot_identifier": target.name, "status": snapshot.status, "instance": snapshot.instanceIdentifier]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan { ActionPlan(.nothing, "read-only") }
}

extension ResourceDeletion where Resource == DBSnapshotResource {
    /// Whoever created it, with an `undo` output too; with `only_this_run: true`, a snapshot this run did not create is
    /// refused (not retryable).
    static var refusingOthersIfAsked: Self {
        Self { target, invocation in
            guard let snapshot = try await ResourceLifecycle.find(target) else { return DeleteResult.outputs(deleted: nil) }
            if try invocation.bool("only_this_run") == true, try await target.ownership(of: snapshot, runID: invocation.runID) != .thisRun {
                throw ActionFailure("\(target.description) was not created by this run; refusing to delete it", retryable: false)
            }
            return DeleteResult.outputs(deleted: try await ResourceLifecycle.delete(target, snapshot) ? target.name : nil)
        }
    }
}

// MARK: - Automated backups replication

/// The automated-backups replication of a source instance (`source_identifier` in `source_region`) into the step's region.
struct BackupReplication: Sendable {
    let rds: RDS
    let source: DBInstanceTarget

    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        rds = try RDSSupport.rds(provider, invocation)
        source = DBInstanceTarget(try RDSSupport.rds(provider, region: try invocation.requiredString("source_region")),
                                  try invocation.requiredString("source_identifier"))
    }

    var description: String { "backup replication of \(source.identifier) to \(rds.region)" }

    /// The source's ARN; the source must exist.
    func sourceARN() async throws -> String {
        guard let found = try await source.find(), let arn = found.arn else {
            throw ActionFailure("source DB instance \(source.identifier) not found in \(source.rds.region)", retryable: false)
        }
        return arn
    }

    /// The replication of the source's backups into this region, if running.
    func current() async throws -> RDS.DBInstanceAutomatedBackup? {
        let backups = try await AWSStep.run("automated backups of \(source.identifier) in \(rds.region)") {
            try await rds.describeDBInstanceAutomatedBackups(instanceIdentifier: source.identifier).items
        }
        return backups.first { $0.instanceIdentifier == source.identifier && $0.status == "replicating" && $0.region != rds.region }
    }

    /// Stops the replication; not replicating (or the source gone) is done.
    func stop() async throws -> [String: String] {
        guard let found = try await source.find(), let arn = found.arn else { return [AWSOutput.result: DeleteResult.absent.rawValue, AWSOutput.undo: "source gone"] }
        do {
            _ = try await rds.stopDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: arn)
            return [AWSOutput.result: "stopped", AWSOutput.undo: "stopped replication of \(source.identifier)"]
        } catch where AWSStep.isError(error, "InvalidDBInstanceState", AWSErrorCode.dbInstanceNotFound) {
            return [AWSOutput.result: DeleteResult.absent.rawValue, AWSOutput.undo: "not replicating"]
        } catch {
            throw AWSStep.failure(error, description)
        }
    }
}

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
        let replication = try BackupReplication(provider, invocation)
        let arn = try await replication.sourceARN()
        if let existing = try await replication.current() {
            return [AWSOutput.result: CreateResult.adopted.rawValue, "status": existing.status, "source_arn": arn]
        }
        do {
            let started = try await replication.rds.startDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: arn,
                                                                                               backupRetentionPeriod: try invocation.int("backup_retention"))
            return [AWSOutput.result: CreateResult.created.rawValue, "status": started.status, "source_arn": arn, "backup_arn": started.arn ?? ""]
        } catch where AWSStep.isError(error, "InvalidDBInstanceAutomatedBackupState") {
            return [AWSOutput.result: CreateResult.recovered.rawValue, "status": "replicating", "source_arn": arn]
        } catch {
            throw AWSStep.failure(error, replication.description)
        }
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        // Stop only what this run started: the outputs say so, or (after a crash before they were recorded) the source is this run's.
        let replication = try BackupReplication(provider, invocation)
        let result = invocation.stepOutputs[AWSOutput.result]
        if result == CreateResult.adopted.rawValue { return [AWSOutput.undo: "kept: replication existed before this run"] }
        if result == nil {
            guard let source = try await replication.source.find(), Ownership.of(source.tags, runID: invocation.runID) == .thisRun else {
                return [AWSOutput.undo: "kept: not started by this run"]
            }
        }
        return try await replication.stop()
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let replication = try BackupReplication(provider, invocation)
        let sourceID = replication.source.identifier, region = replication.rds.region
        return try await replication.current() == nil ? ActionPlan(.create, "replicate backups of \(sourceID) to \(region)")
            : ActionPlan(.adopt, "backups of \(sourceID) already replicate to \(region)")
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
        try await BackupReplication(provider, invocation).stop()
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "stop replicating backups of \(invocation.string("source_identifier") ?? "?") to \(invocation.string("region") ?? "the default region")")
    }
}
