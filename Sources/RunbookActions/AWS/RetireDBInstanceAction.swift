import Foundation
import RunbookAWS
import RunbookEngine

/// `aws.rds.retire-db-instance`: keep an old writer out of its deployment, still fenced. It is renamed out of its
/// slot (so a new standby can take the name) into a parameter group of its own (which the caller made read-only:
/// the slot's group is unfenced for the new standby), rebooted so that the group applies, and tagged
/// `runbook:role=retired`. A re-run after a crash goes on from where the instance is; there is no undo (a reprotect
/// makes this its pivot).
public struct RetireDBInstanceAction: StepAction {
    public let name = "aws.rds.retire-db-instance"
    public let summary = "Keep an old writer out of its deployment: renamed, moved to its own (read-only) parameter group, rebooted, tagged retired"
    public let inputs = RDSSupport.instanceInputs([
        ActionInputSpec("new_identifier", required: true, description: "the name it is kept under"),
        ActionInputSpec("parameter_group", required: true, description: "its own parameter group (already read-only)"),
        ActionInputSpec("deployment", required: true, description: "the deployment it leaves (tag runbook:deployment)"),
    ])
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let slot = try DBInstanceTarget(provider, invocation)
        let kept = DBInstanceTarget(slot.rds, try invocation.requiredString("new_identifier"))
        let group = try invocation.requiredString("parameter_group"), deployment = try invocation.requiredString("deployment")
        let pacing = try WaitPacing(invocation)
        var db = try await renamed(slot, to: kept, deployment: deployment, group: group, pacing)
        if db.parameterGroups.first?.name != group {
            try await AWSStep.run(kept.description) { try await kept.modifyNow { $0.dbParameterGroupName = group } }
            db = try await settled(kept, pacing)
        }
        if db.parameterGroups.first?.status != "in-sync" {
            _ = try await AWSStep.run("reboot of \(kept.description)") { try await kept.rds.rebootDBInstance(identifier: kept.identifier, forceFailover: false) }
            db = try await settled(kept, pacing)
            guard db.parameterGroups.first?.status == "in-sync" else {
                throw ActionFailure("\(kept.description) still has \(group) \(db.parameterGroups.first?.status ?? "unapplied") after its reboot", retryable: true)
            }
        }
        try await AWSStep.run("tagging \(kept.description)") {
            try await kept.rds.addTagsToResource(arn: db.arn ?? "", tags: [AWSTag(DeploymentTags.deployment, deployment),
                                                                           AWSTag(DeploymentTags.role, DeploymentTags.Role.retired.rawValue)])
        }
        return ["identifier": kept.identifier, "previous_identifier": slot.identifier, "parameter_group": group,
                "role": DeploymentTags.Role.retired.rawValue, "arn": db.arn ?? ""]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        ActionPlan(.change, "rename \(invocation.string("identifier") ?? "?") to \(invocation.string("new_identifier") ?? "?") in its own parameter "
                   + "group \(invocation.string("parameter_group") ?? "?"), reboot it so that the group applies, tag it retired")
    }

    /// The instance under its new name: renamed now, or already (a re-run), when it is the deployment's standalone old writer.
    private func renamed(_ slot: DBInstanceTarget, to kept: DBInstanceTarget, deployment: String, group: String,
                         _ pacing: WaitPacing) async throws -> RDS.DBInstance {
        if let found = try await kept.find() {
            guard DeploymentTags.deployment(of: found) == deployment else {
                throw ActionFailure("\(kept.description) exists and is not part of deployment \(deployment); choose another new_identifier", retryable: false)
            }
            return try await settled(kept, pacing)
        }
        let old = try await slot.require()
        guard (old.readReplicaSourceDBInstanceIdentifier ?? "").isEmpty, DeploymentTags.deployment(of: old) == deployment else {
            throw ActionFailure("\(slot.description) is not a standalone instance of deployment \(deployment); only its old writer can be retired", retryable: false)
        }
        _ = try await settled(slot, pacing)
        try await AWSStep.run(slot.description) {
            try await slot.modifyNow {
                $0.newIdentifier = kept.identifier
                $0.dbParameterGroupName = group
            }
        }
        return try await settled(kept, pacing)
    }

    private func settled(_ target: DBInstanceTarget, _ pacing: WaitPacing) async throws -> RDS.DBInstance {
        guard let db = try await target.settle(["available"], pacing) else {
            throw ActionFailure("\(target.description) disappeared while it was being retired", retryable: false)
        }
        return db
    }
}

/// `aws.rds.delete-retired-db-instances`: delete the instances a reprotect kept (`runbook:role=retired`) for a
/// deployment in a region, each after a final snapshot `IDENTIFIER-final` (deletion protection turned off first), then
/// the read-only parameter groups reprotect made for them (`NAME-retired-RUN`, `NAME-replica-retired-RUN`) that no
/// instance uses any more.
public struct DeleteRetiredDBInstancesAction: StepAction {
    public let name = "aws.rds.delete-retired-db-instances"
    public let summary = "Delete a deployment's retired DB instances in a region (final snapshot IDENTIFIER-final each) and their parameter groups"
    public let inputs = [ActionInputSpec("deployment", required: true), AWSStep.regionInput, AWSStep.paceInput,
                         ActionInputSpec("settle_timeout", description: "how long to wait for each to settle and be deleted (default 60m)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let rds = try RDSSupport.rds(provider, invocation)
        let deployment = try invocation.requiredString("deployment")
        let pacing = try WaitPacing(invocation)
        let instances = try await allInstances(rds)
        var deleted: [String] = []
        for db in instances where Self.isRetired(db, of: deployment) {
            try await delete(DBInstanceTarget(rds, db.identifier), status: db.status, pacing)
            deleted.append(db.identifier)
        }
        let inUse = Set(instances.filter { !deleted.contains($0.identifier) }.compactMap { $0.parameterGroups.first?.name })
        var groups: [String] = []
        for group in try await retiredGroups(rds, of: deployment) where !inUse.contains(group) {
            try await deleteGroup(group, rds)
            groups.append(group)
        }
        return [AWSOutput.result: (deleted.isEmpty && groups.isEmpty ? DeleteResult.absent : .deleted).rawValue,
                "deleted": deleted.joined(separator: ","), "deleted_parameter_groups": groups.joined(separator: ",")]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let rds = try RDSSupport.rds(provider, invocation)
        let deployment = try invocation.requiredString("deployment")
        let found = try await allInstances(rds).filter { Self.isRetired($0, of: deployment) }
        return found.isEmpty ? ActionPlan(.nothing, "no retired instance")
            : ActionPlan(.change, "delete \(found.map(\.identifier).joined(separator: ", ")) after a final snapshot each")
    }

    static func isRetired(_ db: RDS.DBInstance, of deployment: String) -> Bool {
        DeploymentTags.deployment(of: db) == deployment && DeploymentTags.role(of: db) == DeploymentTags.Role.retired.rawValue
    }

    /// Whether `group` is one reprotect made for a kept old writer of `deployment`.
    static func isRetiredGroup(_ group: String, of deployment: String) -> Bool {
        [deployment + "-retired-", deployment + "-replica-retired-"].contains { group.hasPrefix($0) }
    }

    private func delete(_ target: DBInstanceTarget, status: String, _ pacing: WaitPacing) async throws {
        do {
            _ = try await target.deleteSettled(status: status, finalSnapshot: "\(target.identifier)-final", pacing)
        } catch where AWSStep.isError(error, AWSErrorCode.dbInstanceNotFound) {
            return
        } catch {
            throw AWSStep.failure(error, target.description)
        }
    }

    private func deleteGroup(_ name: String, _ rds: RDS) async throws {
        do {
            try await rds.deleteDBParameterGroup(name: name)
        } catch where AWSStep.isError(error, AWSErrorCode.dbParameterGroupNotFound) {
            return
        } catch {
            throw AWSStep.failure(error, "DB parameter group \(name) in \(rds.region)")
        }
    }

    private func allInstances(_ rds: RDS) async throws -> [RDS.DBInstance] {
        try await AWSStep.run("DB instances in \(rds.region)") { try await collectAllPages { try await rds.describeDBInstances(marker: $0) } }
    }

    private func retiredGroups(_ rds: RDS, of deployment: String) async throws -> [String] {
        let all = try await AWSStep.run("DB parameter groups in \(rds.region)") {
            try await collectAllPages { try await rds.describeDBParameterGroups(marker: $0) }
        }
        return all.map(\.name).filter { Self.isRetiredGroup($0, of: deployment) }
    }
}
