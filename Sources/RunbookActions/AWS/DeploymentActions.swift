import Foundation
import RunbookAWS
import RunbookEngine

/// Which deployment a DB instance belongs to and the part it plays in it, as tags that every runbook keeps current:
/// runbooks find the writer and the standby from them (and from RDS's own replication state), never from names,
/// which stop being true after a promotion (`NAME-replica` is the writer after one).
enum DeploymentTags {
    static let deployment = "runbook:deployment"
    static let role = "runbook:role"

    enum Role: String, CaseIterable {
        case writer, standby
        /// A writer that was fenced by a switchover or failover and awaits reprotect (which retires it).
        case oldWriter = "old-writer"
        /// Kept (reprotect `keep_old_writer`), fenced, out of the deployment.
        case retired
    }

    static let inputs = [
        ActionInputSpec("deployment", description: "the deployment this instance belongs to (tag runbook:deployment), e.g. the name prefix"),
        ActionInputSpec("role", description: "its role in the deployment (tag runbook:role): writer, standby, old-writer or retired"),
    ]

    /// The tags the step's `deployment` and `role` inputs ask for (none when `deployment` is empty).
    static func from(_ invocation: ActionInvocation) throws -> [AWSTag] {
        guard let deployment = invocation.string("deployment"), !deployment.isEmpty else { return [] }
        let role = try self.role(invocation)
        return [AWSTag(Self.deployment, deployment), AWSTag(Self.role, role.rawValue)]
    }

    static func role(_ invocation: ActionInvocation) throws -> Role {
        let text = try invocation.requiredString("role")
        guard let role = Role(rawValue: text) else {
            throw ActionFailure("role '\(text)' is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))", retryable: false)
        }
        return role
    }

    static func role(of db: RDS.DBInstance) -> String? { db.tags.first { $0.key == role }?.value }
    static func deployment(of db: RDS.DBInstance) -> String? { db.tags.first { $0.key == deployment }?.value }
}

/// `aws.rds.set-deployment-role`: tag an instance with its role in the deployment; undo puts the previous role back.
public struct SetDeploymentRoleAction: StepAction {
    public let name = "aws.rds.set-deployment-role"
    public let summary = "Tag a DB instance with its deployment and role (writer, standby, old-writer, retired); undo restores the previous role"
    public let inputs = [ActionInputSpec("identifier", required: true), AWSStep.regionInput,
                         ActionInputSpec("deployment", required: true), ActionInputSpec("role", required: true)]
    public var hasUndo: Bool { true }
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let db = try await target.require()
        let previous = invocation.stepOutputs["previous_role"] ?? DeploymentTags.role(of: db) ?? ""
        try await tag(db, target, try DeploymentTags.from(invocation))
        return ["previous_role": previous, "role": try DeploymentTags.role(invocation).rawValue, "arn": db.arn ?? ""]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        guard let db = try await target.find() else { return [AWSOutput.undo: "already gone"] }
        let previous = invocation.stepOutputs["previous_role"] ?? ""
        if previous.isEmpty {
            try await AWSStep.run("removing the role tag of \(target.description)") {
                try await target.rds.removeTagsFromResource(arn: db.arn ?? "", tagKeys: [DeploymentTags.role])
            }
        } else {
            try await tag(db, target, [AWSTag(DeploymentTags.role, previous)])
        }
        return [AWSOutput.undo: "role of \(target.identifier) back to \(previous.isEmpty ? "none" : previous)"]
    }

    private func tag(_ db: RDS.DBInstance, _ target: DBInstanceTarget, _ tags: [AWSTag]) async throws {
        guard let arn = db.arn else { throw ActionFailure("\(target.description) has no ARN to tag", retryable: true) }
        try await AWSStep.run("tagging \(target.description)") { try await target.rds.addTagsToResource(arn: arn, tags: tags) }
    }
}

/// `aws.rds.locate-deployment`: where the deployment's writer is today, and the other slot (where its standby is,
/// or after a switchover the fenced old writer). A deployment has two slots, `NAME` in `primary_region` and
/// `NAME-replica` in `secondary_region`; the writer is the standalone instance tagged `runbook:role=writer`
/// (a deployment provisioned before the role tags: the standalone one that is not fenced). Fails, changing
/// nothing, unless exactly one writer is found.
public struct LocateDeploymentAction: StepAction, ReadOnlyAction {
    public let name = "aws.rds.locate-deployment"
    public let summary = "Find the deployment's writer and its other slot (standby or old writer) from RDS's state and the role tags"
    public let inputs = Self.deploymentInputs + [
        ActionInputSpec("keep_old_writer", description: "true: a fenced old writer in the other slot is to be kept (other_keep), not deleted (other_delete)"),
    ]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    /// A deployment's name and its two regions: what every action that looks at both slots takes.
    static let deploymentInputs = [ActionInputSpec("name", required: true, description: "the deployment (the resource prefix provision used)"),
                                   ActionInputSpec("primary_region", required: true), ActionInputSpec("secondary_region", required: true)]

    struct Slot {
        var target: DBInstanceTarget
        var db: RDS.DBInstance?
        var region: String { target.rds.region }
        var isStandalone: Bool { db.map { ($0.readReplicaSourceDBInstanceIdentifier ?? "").isEmpty && $0.status != "deleting" } ?? false }
        var isFenced: Bool { db?.tags.contains { $0.key == FenceRecord.runKey } ?? false }
        var role: String? { db.flatMap(DeploymentTags.role(of:)) }
    }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let name = try invocation.requiredString("name")
        let slots = [
            try await slot(name, invocation.requiredString("primary_region")),
            try await slot(name + "-replica", invocation.requiredString("secondary_region")),
        ]
        let (writer, other) = try Self.writer(among: slots, deployment: name)
        return outputs(writer: writer, other: other, keep: try invocation.bool("keep_old_writer") ?? false)
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let outputs = try await perform(invocation)
        return ActionPlan(.nothing, "the writer is \(outputs["writer_identifier"] ?? "?") in \(outputs["writer_region"] ?? "?"); "
                          + "the other slot \(outputs["other_identifier"] ?? "?") in \(outputs["other_region"] ?? "?") is \(outputs["other_state"] ?? "?")")
    }

    private func slot(_ identifier: String, _ region: String) async throws -> Slot {
        let target = DBInstanceTarget(try RDSSupport.rds(provider, region: region), identifier)
        return Slot(target: target, db: try await target.find())
    }

    /// The one writer and the other slot; a non-retryable failure naming what was found otherwise.
    static func writer(among slots: [Slot], deployment: String) throws -> (Slot, Slot) {
        let tagged = slots.filter { $0.isStandalone && $0.role == DeploymentTags.Role.writer.rawValue }
        let untagged = slots.allSatisfy { $0.role == nil } ? slots.filter { $0.isStandalone && !$0.isFenced } : []
        let writers = tagged.isEmpty ? untagged : tagged
        guard writers.count == 1, let writer = writers.first, let other = slots.first(where: { $0.target.identifier != writer.target.identifier }) else {
            let found = slots.map { slot in
                guard let db = slot.db else { return "\(slot.target.identifier) in \(slot.region): absent" }
                let source = (db.readReplicaSourceDBInstanceIdentifier ?? "").isEmpty ? "standalone" : "replica"
                return "\(db.identifier) in \(slot.region): \(db.status), \(source), role \(slot.role ?? "untagged")\(slot.isFenced ? ", fenced" : "")"
            }
            throw ActionFailure("deployment \(deployment) has \(writers.isEmpty ? "no" : "more than one") writer (\(found.joined(separator: "; "))); "
                                + "fix the role tags (runbook:role) or the instances before going on", retryable: false)
        }
        return (writer, other)
    }

    private func outputs(writer: Slot, other: Slot, keep: Bool) -> [String: String] {
        let source = other.db?.readReplicaSourceDBInstanceIdentifier ?? ""
        let replicates = !source.isEmpty && (source == writer.db?.arn || source == writer.target.identifier)
        let state = other.db == nil ? "absent" : replicates ? "standby" : other.isFenced ? "fenced old writer" : "standalone, not fenced"
        return [
            "writer_identifier": writer.target.identifier, "writer_region": writer.region, "writer_arn": writer.db?.arn ?? "",
            "writer_backup_retention": String(writer.db?.backupRetentionPeriod ?? 0),
            "other_identifier": other.target.identifier, "other_region": other.region, "other_exists": String(other.db != nil),
            "other_replicates": String(replicates), "other_fenced": String(other.isFenced), "other_state": state,
            // Reprotect retires what is there unless it already is the writer's standby, and refuses an unfenced writer.
            "other_retire": String(other.db != nil && !replicates),
            "other_delete": String(other.db != nil && !replicates && !keep), "other_keep": String(other.db != nil && !replicates && keep),
            "other_unfenced_writer": String(other.isStandalone && !other.isFenced),
            "other_role": other.role ?? "", "other_status": other.db?.status ?? "absent",
            "other_parameter_group": other.db?.parameterGroups.first?.name ?? "",
            "other_fence_previous": other.db?.tags.first { $0.key == FenceRecord.previousKey }?.value ?? "",
        ]
    }
}

/// `aws.rds.manage-master-password`: the instance keeps its master password in a Secrets Manager secret of its own
/// (ModifyDBInstance ManageMasterUserPassword). A promoted replica has none: it logged in with its source's, and
/// RDS deletes that secret with the source, so reprotect gives the writer its own before retiring the old one.
/// RDS sets a new password: sessions that log in as the master user with the old one must read the new secret.
public struct ManageMasterPasswordAction: StepAction {
    public let name = "aws.rds.manage-master-password"
    public let summary = "Give a DB instance an RDS-managed master secret of its own (nothing when it has one)"
    public let inputs = RDSSupport.instanceInputs([])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        let db = try await target.require()
        if let own = db.masterUserSecretARN { return ["secret_arn": own, "result": "unchanged"] }
        guard try await target.settle(["available"], try WaitPacing(invocation)) != nil else { throw ActionFailure("\(target.description) disappeared", retryable: false) }
        let modified = try await AWSStep.run("giving \(target.description) a managed master secret") {
            try await target.modifyNow { $0.manageMasterUserPassword = true }
        }
        return ["secret_arn": modified.masterUserSecretARN ?? "", "result": "modified"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try DBInstanceTarget(provider, invocation)
        guard let db = try await target.find() else { return ActionPlan(.unknown, "\(target.description) does not exist yet") }
        return db.masterUserSecretARN == nil ? ActionPlan(.change, "\(target.identifier) gets a managed master secret (a new password)")
            : ActionPlan(.nothing, "\(target.identifier) has its own managed master secret")
    }
}

/// `aws.rds.set-multi-az`: turn Multi-AZ on (or off) for an instance, applied immediately. Reprotect makes a
/// promoted replica the Multi-AZ writer provision built; it runs after its pivot, so it has no undo.
public struct SetMultiAZAction: StepAction {
    public let name = "aws.rds.set-multi-az"
    public let summary = "Turn a DB instance's Multi-AZ on or off, applied immediately (previous value in the outputs)"
    public let inputs = RDSSupport.instanceInputs([ActionInputSpec("enabled", required: true, description: "true or false")])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let target = try DBInstanceTarget(provider, invocation)
        guard let wanted = try invocation.bool("enabled") else { throw ActionFailure("input 'enabled' is required", retryable: false) }
        let db = try await target.require()
        let previous = invocation.stepOutputs["previous_multi_az"] ?? String(db.multiAZ)
        var out = ["identifier": target.identifier, "previous_multi_az": previous, "multi_az": String(wanted), AWSOutput.result: "unchanged"]
        guard db.multiAZ != wanted else { return out }
        // RDS refuses a modification while another one (e.g. the new master secret) is being applied.
        guard try await target.settle(["available"], try WaitPacing(invocation)) != nil else { throw ActionFailure("\(target.description) disappeared", retryable: false) }
        _ = try await AWSStep.run("setting Multi-AZ of \(target.description) to \(wanted)") { try await target.modifyNow { $0.multiAZ = wanted } }
        out[AWSOutput.result] = "changed"
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let target = try DBInstanceTarget(provider, invocation)
        let wanted = try invocation.bool("enabled") ?? true
        guard let db = try await target.find() else { return ActionPlan(.unknown, "\(target.description) does not exist yet") }
        return db.multiAZ == wanted ? ActionPlan(.nothing, "\(target.identifier) is already Multi-AZ=\(wanted)")
            : ActionPlan(.change, "Multi-AZ of \(target.identifier): \(db.multiAZ) -> \(wanted)")
    }
}
