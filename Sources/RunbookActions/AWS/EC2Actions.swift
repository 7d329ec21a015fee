import Foundation
import RunbookAWS
import RunbookEngine

enum EC2Support {
    static func ec2(_ provider: AWSClientProvider, _ region: String?) throws -> EC2 {
        do { return try provider.client().ec2(region: region) } catch { throw AWSStep.failure(error, "EC2") }
    }

    /// The VPC whose `Name` tag is `name`, if any.
    static func vpc(_ ec2: EC2, named name: String) async throws -> EC2.VPC? {
        try await AWSStep.run("VPC \(name) in \(ec2.region)") { try await ec2.describeVpcs(filters: [EC2.Filter("tag:Name", [name])]).first }
    }

    static func subnets(_ ec2: EC2, vpcID: String) async throws -> [EC2.Subnet] {
        try await AWSStep.run("subnets of \(vpcID) in \(ec2.region)") { try await ec2.describeSubnets(filters: [EC2.Filter("vpc-id", [vpcID])]) }
    }

    /// Deletes the VPC's subnets, then the VPC (absent is fine).
    static func deleteNetwork(_ ec2: EC2, _ vpc: EC2.VPC) async throws {
        for subnet in try await subnets(ec2, vpcID: vpc.id) {
            do { try await ec2.deleteSubnet(id: subnet.id) } catch where AWSStep.isError(error, "InvalidSubnetID.NotFound") {} catch {
                throw AWSStep.failure(error, "subnet \(subnet.id) in \(ec2.region)")
            }
        }
        do { try await ec2.deleteVpc(id: vpc.id) } catch where AWSStep.isError(error, "InvalidVpcID.NotFound") {} catch {
            throw AWSStep.failure(error, "VPC \(vpc.id) in \(ec2.region)")
        }
    }
}

/// `aws.ec2.create-network`: a small tagged VPC with one subnet in each of two AZs, for DB subnet groups when no subnet
/// ids are given. With `subnet_ids` it creates nothing and reports those subnets and their VPC.
public struct CreateNetworkAction: StepAction {
    public let name = "aws.ec2.create-network"
    public let summary = "Create a tagged VPC and two subnets in two AZs (or use the given subnet ids)"
    public let inputs = [ActionInputSpec("name", required: true, description: "the VPC's Name tag"), AWSStep.regionInput,
                         ActionInputSpec("cidr", description: "the VPC's /16 block, default 10.20.0.0/16"),
                         ActionInputSpec("subnet_ids", kind: .any, description: "existing subnets to use instead (list or comma-separated)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }
    public var hasUndo: Bool { true }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        let given = try AWSStep.list(invocation, "subnet_ids")
        if !given.isEmpty {
            let subnets = try await AWSStep.run("subnets \(given.joined(separator: ",")) in \(ec2.region)") { try await ec2.describeSubnets(ids: given) }
            return ["vpc_id": subnets.first?.vpcID ?? "", "subnet_ids": given.joined(separator: ","), "result": "given", "owned": "false"]
        }
        let vpcName = try invocation.requiredString("name")
        var result = "created", ownership = Ownership.thisRun
        let vpc: EC2.VPC
        if let existing = try await EC2Support.vpc(ec2, named: vpcName) {
            vpc = existing
            ownership = Ownership.of(existing.tags, runID: invocation.runID)
            result = ownership.foundResult
        } else {
            vpc = try await AWSStep.run("VPC \(vpcName) in \(ec2.region)") {
                try await ec2.createVpc(cidrBlock: invocation.string("cidr") ?? "10.20.0.0/16", tags: AWSTags.ownership(invocation, name: vpcName))
            }
        }
        var subnets = try await EC2Support.subnets(ec2, vpcID: vpc.id)
        if ownership == .thisRun {
            // Create what is missing (a crash may have stopped between the VPC and its subnets).
            let octets = vpc.cidrBlock.split(separator: ".").prefix(2).joined(separator: ".")
            for (index, suffix) in ["a", "b"].enumerated() where !subnets.contains(where: { $0.availabilityZone == ec2.region + suffix }) {
                let subnet = try await AWSStep.run("subnet in \(ec2.region)\(suffix)") {
                    try await ec2.createSubnet(vpcID: vpc.id, cidrBlock: "\(octets).\(index).0/24", availabilityZone: ec2.region + suffix,
                                               tags: AWSTags.ownership(invocation, name: "\(vpcName)-\(suffix)"))
                }
                subnets.append(subnet)
            }
        }
        return ["vpc_id": vpc.id, "subnet_ids": subnets.map(\.id).sorted().joined(separator: ","), "result": result, "owned": ownership.owned]
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        guard try AWSStep.list(invocation, "subnet_ids").isEmpty else { return ["undo": "kept: given subnets"] }
        let vpcName = try invocation.requiredString("name")
        guard let vpc = try await EC2Support.vpc(ec2, named: vpcName) else { return ["undo": "already gone"] }
        guard Ownership.of(vpc.tags, runID: invocation.runID) == .thisRun else { return ["undo": "kept \(vpc.id): not created by this run"] }
        try await EC2Support.deleteNetwork(ec2, vpc)
        return ["undo": "deleted \(vpc.id) and its subnets"]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        if try !AWSStep.list(invocation, "subnet_ids").isEmpty { return ActionPlan(.nothing, "uses the given subnets") }
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        let vpcName = try invocation.requiredString("name")
        guard let vpc = try await EC2Support.vpc(ec2, named: vpcName) else { return ActionPlan(.create, "VPC \(vpcName) and two subnets in \(ec2.region)") }
        return ActionPlan(.adopt, "VPC \(vpcName) exists (\(vpc.id))")
    }
}

/// `aws.ec2.delete-network`: deletes the VPC named `name` (its subnets first) if it carries runbook's tags; absent is fine.
public struct DeleteNetworkAction: StepAction {
    public let name = "aws.ec2.delete-network"
    public let summary = "Delete a runbook-created VPC and its subnets (absent is fine)"
    public let inputs = [ActionInputSpec("name", required: true), AWSStep.regionInput]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        let vpcName = try invocation.requiredString("name")
        guard let vpc = try await EC2Support.vpc(ec2, named: vpcName) else { return ["result": "absent"] }
        guard vpc.tags.contains(where: { $0.key == AWSTags.runID }) else { return ["result": "kept", "reason": "\(vpc.id) was not created by runbook"] }
        try await EC2Support.deleteNetwork(ec2, vpc)
        return ["result": "deleted", "vpc_id": vpc.id]
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        let vpcName = try invocation.requiredString("name")
        return try await EC2Support.vpc(ec2, named: vpcName) == nil ? ActionPlan(.nothing, "\(vpcName) is absent") : ActionPlan(.change, "delete VPC \(vpcName)")
    }
}
