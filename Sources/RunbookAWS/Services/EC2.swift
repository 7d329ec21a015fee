import Foundation

/// Amazon EC2 (Query, 2016-11-15) in one region: just the VPC/subnet calls that RDS subnet groups
/// need. EC2 responses have no `<ActionResult>` wrapper and use `<item>` lists.
public struct EC2: QueryService {
    static let service = AWSService.ec2
    let client: AWSClient
    public let region: String
    var callRegion: String? { region }

    /// An EC2 filter, e.g. `Filter("tag:Name", ["dr-vpc"])`.
    public struct Filter: Sendable {
        public var name: String
        public var values: [String]
        public init(_ name: String, _ values: [String]) {
            self.name = name
            self.values = values
        }
    }

    static func encode(_ filters: [Filter], into p: inout QueryParameters) {
        p.setList("Filter", filters) { f, q in
            q.set("Name", f.name)
            q.setList("Value", f.values)
        }
    }

    /// A resource's `tagSet` (EC2 spells `key` and `value` in lower case).
    static func tags(_ n: XMLNode) -> [AWSTag] {
        n.list("tagSet").map { AWSTag($0.string("key") ?? "", $0.string("value") ?? "") }
    }

    static func tagSpecifications(_ resourceType: String, _ tags: [AWSTag], into p: inout QueryParameters) {
        guard !tags.isEmpty else { return }
        p.set("TagSpecification.1.ResourceType", resourceType)
        p.setTags("TagSpecification.1.Tag", tags)
    }

    public struct VPC: Sendable, Equatable {
        public var id: String
        public var cidrBlock: String
        public var state: String?
        public var tags: [AWSTag]
        init(_ n: XMLNode) {
            id = n.string("vpcId") ?? ""
            cidrBlock = n.string("cidrBlock") ?? ""
            state = n.string("state")
            tags = EC2.tags(n)
        }
    }

    public struct Subnet: Sendable, Equatable {
        public var id: String
        public var vpcID: String
        public var cidrBlock: String
        public var availabilityZone: String
        public var tags: [AWSTag]
        init(_ n: XMLNode) {
            id = n.string("subnetId") ?? ""
            vpcID = n.string("vpcId") ?? ""
            cidrBlock = n.string("cidrBlock") ?? ""
            availabilityZone = n.string("availabilityZone") ?? ""
            tags = EC2.tags(n)
        }
    }

    /// `CreateVpc`.
    public func createVpc(cidrBlock: String, tags: [AWSTag] = []) async throws -> VPC {
        var p: QueryParameters = ["CidrBlock": cidrBlock]
        EC2.tagSpecifications("vpc", tags, into: &p)
        return try await call("CreateVpc", p, idempotent: false, element: "vpc", VPC.init)
    }

    /// `DescribeVpcs` with optional ids and filters.
    public func describeVpcs(ids: [String] = [], filters: [Filter] = []) async throws -> [VPC] {
        try await describe("DescribeVpcs", "VpcId", ids, filters, list: "vpcSet", VPC.init)
    }

    /// A `Describe…` call by ids (`idKey`) and filters, answering the items of `list`.
    func describe<Item>(_ action: String, _ idKey: String, _ ids: [String], _ filters: [Filter], list: String,
                        _ decode: (XMLNode) -> Item) async throws -> [Item] {
        var p = QueryParameters()
        p.setList(idKey, ids)
        EC2.encode(filters, into: &p)
        return try await call(action, p, idempotent: true).list(list).map(decode)
    }

    /// `DeleteVpc`.
    public func deleteVpc(id: String) async throws {
        _ = try await call("DeleteVpc", ["VpcId": id], idempotent: false)
    }

    /// `CreateSubnet`.
    public func createSubnet(vpcID: String, cidrBlock: String, availabilityZone: String? = nil, tags: [AWSTag] = []) async throws -> Subnet {
        var p: QueryParameters = ["VpcId": vpcID, "CidrBlock": cidrBlock, "AvailabilityZone": availabilityZone]
        EC2.tagSpecifications("subnet", tags, into: &p)
        return try await call("CreateSubnet", p, idempotent: false, element: "subnet", Subnet.init)
    }

    /// `DescribeSubnets` with optional ids and filters.
    public func describeSubnets(ids: [String] = [], filters: [Filter] = []) async throws -> [Subnet] {
        try await describe("DescribeSubnets", "SubnetId", ids, filters, list: "subnetSet", Subnet.init)
    }

    /// `DeleteSubnet`.
    public func deleteSubnet(id: String) async throws {
        _ = try await call("DeleteSubnet", ["SubnetId": id], idempotent: false)
    }

    /// `CreateTags` on any EC2 resources. Idempotent.
    public func createTags(resourceIDs: [String], tags: [AWSTag]) async throws {
        var p = QueryParameters()
        p.setList("ResourceId", resourceIDs)
        p.setTags("Tag", tags)
        _ = try await call("CreateTags", p, idempotent: true)
    }
}
