import Foundation
import RunbookAWS
import RunbookEngine

/// An IAM role by name, trusted by `trust_service`; deleting it detaches its managed policies first.
struct IAMRoleResource: ManagedResource {
    let iam: IAM
    let name: String
    let invocation: ActionInvocation

    var description: String { "IAM role \(name)" }
    static let notFoundCodes: Set<String> = [AWSErrorCode.noSuchEntity]
    static let alreadyExistsCodes: Set<String> = [AWSErrorCode.entityAlreadyExists]

    func fetch() async throws -> IAM.Role? { try await iam.getRole(name: name) }
    func tags(of role: IAM.Role) async throws -> [AWSTag] { try await iam.listRoleTags(roleName: name) }

    func create() async throws -> IAM.Role {
        let service = try invocation.requiredString("trust_service")
        let trust = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"\#(service)"},"Action":"sts:AssumeRole"}]}"#
        return try await iam.createRole(name: name, assumeRolePolicyDocument: trust, description: invocation.string("description"),
                                        tags: AWSTags.ownership(invocation))
    }

    func delete(_ role: IAM.Role) async throws {
        for policy in try await attachedPolicies() { try await iam.detachRolePolicy(roleName: name, policyARN: policy) }
        try await iam.deleteRole(name: name)
    }

    /// The ARNs of the managed policies attached to the role.
    func attachedPolicies() async throws -> [String] {
        try await iam.listAttachedRolePolicies(roleName: name).items.map(\.arn)
    }
}

extension IAMRoleResource {
    /// The role named by the step's `name`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(iam: try AWSStep.sync("IAM") { try provider.client().iam }, name: try invocation.requiredString("name"), invocation: invocation)
    }
}

/// `aws.iam.create-role`: a role trusted by `trust_service` with managed `policies` attached. A pre-existing role is
/// adopted unchanged. Undo detaches the policies and deletes the role if this run created it.
public struct CreateRoleAction: ResourceCreatingAction {
    public let name = "aws.iam.create-role"
    public let summary = "Create an IAM role with attached managed policies (adopt an existing one)"
    public let inputs = [ActionInputSpec("name", required: true), ActionInputSpec("trust_service", required: true, description: "e.g. lambda.amazonaws.com"),
                         ActionInputSpec("policies", kind: .any, description: "managed policy ARNs"), ActionInputSpec("description")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> IAMRoleResource { try IAMRoleResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let role = try resource(invocation)
        let policies = try AWSStep.list(invocation, "policies")
        let adoption = try await ResourceLifecycle.createOrAdopt(role, runID: invocation.runID)
        let attached = Set(try await AWSStep.run("policies of \(role.description)") { try await role.attachedPolicies() })
        let missing = policies.filter { !attached.contains($0) }
        var out = adoption.outputs(["name": role.name, "arn": adoption.resource.arn])
        if adoption.ownership == .thisRun {
            for policy in missing {
                try await AWSStep.run("attaching \(policy) to \(role.description)") { try await role.iam.attachRolePolicy(roleName: role.name, policyARN: policy) }
            }
        } else if !missing.isEmpty {
            out["drift"] = "missing " + missing.joined(separator: ",")
        }
        return out
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let role = try resource(invocation)
        return try await ResourceLifecycle.plan(role, create: role.description) { _ in "\(role.description) exists" }
    }
}
