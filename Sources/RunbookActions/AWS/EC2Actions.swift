import Foundation
import RunbookAWS
import RunbookEngine

enum EC2Support {
    static func ec2(_ provider: AWSClientProvider, _ region: String?) throws -> EC2 {
        do { return try provider.client().ec2(region: region) } catch { throw AWSStep.failure(error, "EC2") }
    }
}

/// A VPC by its `Name` tag (VPCs have no unique name: only the run's tag keeps a retried create from making a second
/// one), with its subnets; deleting it deletes the subnets first.
struct NetworkResource: ManagedResource {
    let ec2: EC2
    let name: String
    let invocation: ActionInvocation

    var description: String { "VPC \(name) in \(ec2.region)" }
    static let notFoundCodes: Set<String> = ["InvalidVpcID.NotFound"]

    func fetch() async throws -> EC2.VPC? { try await ec2.describeVpcs(filters: [EC2.Filter("tag:Name", [name])]).first }
    func tags(of vpc: EC2.VPC) async throws -> [AWSTag] { vpc.tags }
    func label(of vpc: EC2.VPC) -> String { vpc.id }

    func create() async throws -> EC2.VPC {
        try await ec2.createVpc(cidrBlock: invocation.string("cidr") ?? "10.20.0.0/16", tags: AWSTags.ownership(invocation, name: name))
    }

    func delete(_ vpc: EC2.VPC) async throws {
        for subnet in try await subnets(of: vpc) {
            do { try await ec2.deleteSubnet(id: subnet.id) } catch where AWSStep.isError(error, "InvalidSubnetID.NotFound") {} catch {
                throw AWSStep.failure(error, "subnet \(subnet.id) in \(ec2.region)")
            }
        }
        try await ec2.deleteVpc(id: vpc.id)
    }

    func subnets(of vpc: EC2.VPC) async throws -> [EC2.Subnet] {
        try await AWSStep.run("subnets of \(vpc.id) in \(ec2.region)") { try await ec2.describeSubnets(filters: [EC2.Filter("vpc-id", [vpc.id])]) }
    }

    /// The VPC's subnets, one in each of two AZs: those missing are created (a crash may have come between the VPC
    /// and its subnets).
    func completeSubnets(of vpc: EC2.VPC) async throws -> [EC2.Subnet] {
        var subnets = try await subnets(of: vpc)
        let octets = vpc.cidrBlock.split(separator: ".").prefix(2).joined(separator: ".")
        for (index, suffix) in ["a", "b"].enumerated() where !subnets.contains(where: { $0.availabilityZone == ec2.region + suffix }) {
            let subnet = try await AWSStep.run("subnet in \(ec2.region)\(suffix)") {
                try await ec2.createSubnet(vpcID: vpc.id, cidrBlock: "\(octets).\(index).0/24", availabilityZone: ec2.region + suffix,
                                           tags: AWSTags.ownership(invocation, name: "\(name)-\(suffix)"))
            }
            subnets.append(subnet)
        }
        return subnets
    }
}

extension NetworkResource {
    /// The VPC named by the step's `name` in its `region`.
    init(_ provider: AWSClientProvider, _ invocation: ActionInvocation) throws {
        self.init(ec2: try EC2Support.ec2(provider, invocation.string("region")), name: try invocation.requiredString("name"), invocation: invocation)
    }
}

/// `aws.ec2.create-network`: a small tagged VPC with one subnet in each of two AZs, for DB subnet groups when no subnet
/// ids are given. With `subnet_ids` it creates nothing and reports those subnets and their VPC.
public struct CreateNetworkAction: ResourceCreatingAction {
    public let name = "aws.ec2.create-network"
    public let summary = "Create a tagged VPC and two subnets in two AZs (or use the given subnet ids)"
    public let inputs = [ActionInputSpec("name", required: true, description: "the VPC's Name tag"), AWSStep.regionInput,
                         ActionInputSpec("cidr", description: "the VPC's /16 block, default 10.20.0.0/16"),
                         ActionInputSpec("subnet_ids", kind: .any, description: "existing subnets to use instead (list or comma-separated)")]
    let provider: AWSClientProvider
    public init(provider: AWSClientProvider) { self.provider = provider }

    func resource(_ invocation: ActionInvocation) throws -> NetworkResource { try NetworkResource(provider, invocation) }

    public func perform(_ invocation: ActionInvocation) async throws -> [String: String] {
        let ec2 = try EC2Support.ec2(provider, invocation.string("region"))
        let given = try AWSStep.list(invocation, "subnet_ids")
        if !given.isEmpty {
            let subnets = try await AWSStep.run("subnets \(given.joined(separator: ",")) in \(ec2.region)") { try await ec2.describeSubnets(ids: given) }
            return ["vpc_id": subnets.first?.vpcID ?? "", "subnet_ids": given.joined(separator: ","), AWSOutput.result: "given", AWSOutput.owned: "false"]
        }
        let network = NetworkResource(ec2: ec2, name: try invocation.requiredString("name"), invocation: invocation)
        let adoption = try await ResourceLifecycle.createOrAdopt(network, runID: invocation.runID)
        let vpc = adoption.resource
        let subnets = adoption.ownership == .thisRun ? try await network.completeSubnets(of: vpc) : try await network.subnets(of: vpc)
        return adoption.outputs(["vpc_id": vpc.id, "subnet_ids": subnets.map(\.id).sorted().joined(separator: ",")])
    }

    public func undo(_ invocation: ActionInvocation) async throws -> [String: String] {
        let network = try resource(invocation)
        guard try AWSStep.list(invocation, "subnet_ids").isEmpty else { return [AWSOutput.undo: "kept: given subnets"] }
        switch try await ResourceLifecycle.undoIfOwned(network, runID: invocation.runID) {
        case let .deleted(vpcID): return [AWSOutput.undo: "deleted \(vpcID) and its subnets"]
        case let outcome: return outcome.outputs
        }
    }

    public func plan(_ invocation: ActionInvocation) async throws -> ActionPlan {
        if try !AWSStep.list(invocation, "subnet_ids").isEmpty { return ActionPlan(.nothing, "uses the given subnets") }
        let network = try resource(invocation)
        return try await ResourceLifecycle.plan(network, create: "VPC \(network.name) and two subnets in \(network.ec2.region)") {
            "VPC \(network.name) exists (\($0.id))"
        }
    }
}
