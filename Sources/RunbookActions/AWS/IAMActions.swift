import Foundation
import RunbookAWS
import RunbookEngine

enum IAMSupport {
    static func find(_ iam: IAM, _ name: String) async throws -> IAM.Role? {
        do { return try await iam.getRole(name: name) } catch where AWSStep.isError(error, AWSErrorCode.noSuchEntity) { return nil } catch {
            throw AWSStep.failure(error, "IAM role \(name)")
        }
    }

    static func owner(_ iam: IAM, _ name: String, _ invocation: ActionInvocation) async throws -> Ownership {
        Ownership.of(try await AWSStep.run("tags of IAM role \(name)") { try await iam.listRoleTags(roleName: name) }, runID: invocation.runID)
    }

    /// Detaches every managed policy, then deletes the role (absent is fine).
    static func delete(_ iam: IAM, _ name: String) async throws -> Bool {
        guard try await find(iam, name) != nil else { return false }
        let attached = try await AWSStep.run("policies of IAM role \(name)") { try await iam.listAttachedRolePolicies(roleName: name).items }
        for policy in attached {
            try await AWSStep.run("IAM role \(name)") { try await iam.detachRolePolicy(roleName: name, policyARN: policy.arn) }
        }
        do { try await iam.deleteRole(name: name) } catch where AWSStep.isError(error, AWSErrorCode.noSuchEntity) { return false } catch {
            throw AWSStep.failure(error, "IAM role \(name)")
        }
        return true
    }
}

/// `aws.iam.create-role`: a role trusted by `trust_service` with managed `policies` attached. A pre-existing role is
/// adopted unchanged. Undo detaches the policies and deletes the role if this run created it.
public struct CreateRoleAction: StepAction {
    public let name = "aws.iam.create-role"
    public let summary = "Create an IAM role with attached managed policies (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), ActionInputSpec("trust_service", required: true, description: "e.g. lambda.amazonaws.com"),
                         ActionInputSpec("policies", kind: .any, description: "managed policy ARNs"), ActionInputSpec("description")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let iam = try AWSStep.sync("IAM") { try provider.client().iam }
        let roleName = try invocation.requiredString("name")
        let policies = try AWSStep.list(invocation, "policies")
        var role: IAM.Role
        var ownership = Ownership.thisRun, result = "created"
        if let existing = try await IAMSupport.find(iam, roleName) {
            role = existing
            ownership = try await IAMSupport.owner(iam, roleName, invocation)
            result = ownership.foundResult
        } else {
            let trust = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"\#(try invocation.requiredString("trust_service"))"},"Action":"sts:AssumeRole"}]}"#
            do {
                role = try await iam.createRole(name: roleName, assumeRolePolicyDocument: trust, description: invocation.string("description"), tags: AWSTags.ownership(invocation))
            } catch where AWSStep.isError(error, AWSErrorCode.entityAlreadyExists) {
                guard let raced = try await IAMSupport.find(iam, roleName) else { throw AWSStep.failure(error, "IAM role \(roleName)") }
                role = raced
                ownership = try await IAMSupport.owner(iam, roleName, invocation)
                result = ownership.foundResult
            } catch {
                throw AWSStep.failure(error, "IAM role \(roleName)")
            }
        }
        let attached = Set(try await AWSStep.run("policies of IAM role \(roleName)") { try await iam.listAttachedRolePolicies(roleName: roleName).items.map { (p: IAM.AttachedPolicy) in p.arn } })
        let missing = policies.filter { !attached.contains($0) }
        var out = ["name": roleName, "arn": role.arn, "result": result, "owned": ownership.owned]
        if ownership == .thisRun {
            for policy in missing {
                try await AWSStep.run("attaching \(policy) to IAM role \(roleName)") { try await iam.attachRolePolicy(roleName: roleName, policyARN: policy) }
            }
        } else if !missing.isEmpty {
            out["drift"] = "missing " + missing.joined(separator: ",")
        }
        return out
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let iam = try AWSStep.sync("IAM") { try provider.client().iam }
        let roleName = try invocation.requiredString("name")
        guard try await IAMSupport.find(iam, roleName) != nil else { return ["undo": "already gone"] }
        guard try await IAMSupport.owner(iam, roleName, invocation) == .thisRun else { return ["undo": "kept \(roleName): not created by this run"] }
        _ = try await IAMSupport.delete(iam, roleName)
        return ["undo": "deleted \(roleName)"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let iam = try AWSStep.sync("IAM") { try provider.client().iam }
        let roleName = try invocation.requiredString("name")
        return try await IAMSupport.find(iam, roleName) == nil ? ActionPlan(.create, "IAM role \(roleName)") : ActionPlan(.adopt, "IAM role \(roleName) exists")
    }
}

/// `aws.iam.delete-role`: detaches the role's managed policies and deletes it (absent is fine).
public struct DeleteRoleAction: StepAction {
    public let name = "aws.iam.delete-role"
    public let summary = "Detach policies from and delete an IAM role (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true)]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let iam = try AWSStep.sync("IAM") { try provider.client().iam }
        return ["result": try await IAMSupport.delete(iam, try invocation.requiredString("name")) ? "deleted" : "absent"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let iam = try AWSStep.sync("IAM") { try provider.client().iam }
        let roleName = try invocation.requiredString("name")
        return try await IAMSupport.find(iam, roleName) == nil ? ActionPlan(.nothing, "\(roleName) is absent") : ActionPlan(.change, "delete IAM role \(roleName)")
    }
}
