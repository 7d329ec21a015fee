import Foundation

/// Amazon EC2 (Query, 2016-11-15) in one region: just the VPC/subnet calls that RDS subnet groups
/// need. EC2 responses have no `<ActionResult>` wrapper and use `<item>` lists.
public struct EC2: Sendable {
    let client: AWSClient
    public let region: String

    func call(_ action: String, _ p: QueryParameters, idempotent: Bool) async throws -> XMLNode {
        try await client.query(service: .ec2, region: region, action: action, parameters: p, idempotent: idempotent)
    }

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

    static func tagSpecifications(_ resourceType: String, _ tags: [AWSTag], into p: inout QueryParameters) {
        guard !tags.isEmpty else { return }
        p.set("TagSpecification.1.ResourceType", resourceType)
        p.setList("TagSpecification.1.Tag", tags) { t, q in
            q.set("Key", t.key)
            q.set("Value", t.value)
        }
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
            tags = n.list("tagSet").map { AWSTag($0.string("key") ?? "", $0.string("value") ?? "") }
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
            tags = n.list("tagSet").map { AWSTag($0.string("key") ?? "", $0.string("value") ?? "") }
        }
    }

    /// `CreateVpc`.
    public func createVpc(cidrBlock: String, tags: [AWSTag] = []) async throws -> VPC {
        var p = QueryParameters()
        p.set("CidrBlock", cidrBlock)
        EC2.tagSpecifications("vpc", tags, into: &p)
        let r = try await call("CreateVpc", p, idempotent: false)
        return VPC(r.child("vpc") ?? r)
    }

    /// `DescribeVpcs` with optional ids and filters.
    public func describeVpcs(ids: [String] = [], filters: [Filter] = []) async throws -> [VPC] {
        var p = QueryParameters()
        p.setList("VpcId", ids)
        EC2.encode(filters, into: &p)
        return try await call("DescribeVpcs", p, idempotent: true).list("vpcSet").map(VPC.init)
    }

    /// `DeleteVpc`.
    public func deleteVpc(id: String) async throws {
        var p = QueryParameters()
        p.set("VpcId", id)
        _ = try await call("DeleteVpc", p, idempotent: false)
    }

    /// `CreateSubnet`.
    public func createSubnet(vpcID: String, cidrBlock: String, availabilityZone: String? = nil, tags: [AWSTag] = []) async throws -> Subnet {
        var p = QueryParameters()
        p.set("VpcId", vpcID)
        p.set("CidrBlock", cidrBlock)
        p.set("AvailabilityZone", availabilityZone)
        EC2.tagSpecifications("subnet", tags, into: &p)
        let r = try await call("CreateSubnet", p, idempotent: false)
        return Subnet(r.child("subnet") ?? r)
    }

    /// `DescribeSubnets` with optional ids and filters.
    public func describeSubnets(ids: [String] = [], filters: [Filter] = []) async throws -> [Subnet] {
        var p = QueryParameters()
        p.setList("SubnetId", ids)
        EC2.encode(filters, into: &p)
        return try await call("DescribeSubnets", p, idempotent: true).list("subnetSet").map(Subnet.init)
    }

    /// `DeleteSubnet`.
    public func deleteSubnet(id: String) async throws {
        var p = QueryParameters()
        p.set("SubnetId", id)
        _ = try await call("DeleteSubnet", p, idempotent: false)
    }

    /// `CreateTags` on any EC2 resources. Idempotent.
    public func createTags(resourceIDs: [String], tags: [AWSTag]) async throws {
        var p = QueryParameters()
        p.setList("ResourceId", resourceIDs)
        p.setList("Tag", tags) { t, q in
            q.set("Key", t.key)
            q.set("Value", t.value)
        }
        _ = try await call("CreateTags", p, idempotent: true)
    }
}
