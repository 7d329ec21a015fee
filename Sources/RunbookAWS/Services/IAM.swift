import Foundation

/// AWS IAM (Query, 2010-05-08). Global: signed for us-east-1.
public struct IAM: Sendable {
    let client: AWSClient

    func call(_ action: String, _ p: QueryParameters, idempotent: Bool) async throws -> XMLNode {
        try await client.query(service: .iam, region: "us-east-1", action: action, parameters: p, idempotent: idempotent)
    }

    public struct Role: Sendable, Equatable {
        public var name: String
        public var arn: String
        public var roleID: String
        public var path: String?
        /// The trust policy, URL-decoded JSON.
        public var assumeRolePolicyDocument: String?
        public var tags: [AWSTag]
        init(_ n: XMLNode) {
            name = n.string("RoleName") ?? ""
            arn = n.string("Arn") ?? ""
            roleID = n.string("RoleId") ?? ""
            path = n.string("Path")
            let doc = n.string("AssumeRolePolicyDocument")
            assumeRolePolicyDocument = doc.map { $0.removingPercentEncoding ?? $0 }
            tags = n.list("Tags").map(AWSTag.decode)
        }
    }

    /// `CreateRole`. Not idempotent (a replay answers `EntityAlreadyExists`).
    public func createRole(name: String, assumeRolePolicyDocument: String, description: String? = nil, path: String? = nil,
                           tags: [AWSTag] = []) async throws -> Role {
        var p = QueryParameters()
        p.set("RoleName", name)
        p.set("AssumeRolePolicyDocument", assumeRolePolicyDocument)
        p.set("Description", description)
        p.set("Path", path)
        p.setTags("Tags.member", tags)
        let r = try await call("CreateRole", p, idempotent: false)
        return Role(r.child("Role") ?? r)
    }

    /// `GetRole`; throws `NoSuchEntity` if absent.
    public func getRole(name: String) async throws -> Role {
        var p = QueryParameters()
        p.set("RoleName", name)
        let r = try await call("GetRole", p, idempotent: true)
        return Role(r.child("Role") ?? r)
    }

    /// `DeleteRole`; fails with `DeleteConflict` while policies are attached.
    public func deleteRole(name: String) async throws {
        var p = QueryParameters()
        p.set("RoleName", name)
        _ = try await call("DeleteRole", p, idempotent: false)
    }

    /// `AttachRolePolicy`. Idempotent.
    public func attachRolePolicy(roleName: String, policyARN: String) async throws {
        var p = QueryParameters()
        p.set("RoleName", roleName)
        p.set("PolicyArn", policyARN)
        _ = try await call("AttachRolePolicy", p, idempotent: true)
    }

    /// `DetachRolePolicy`.
    public func detachRolePolicy(roleName: String, policyARN: String) async throws {
        var p = QueryParameters()
        p.set("RoleName", roleName)
        p.set("PolicyArn", policyARN)
        _ = try await call("DetachRolePolicy", p, idempotent: false)
    }

    public struct AttachedPolicy: Sendable, Equatable {
        public var name: String
        public var arn: String
    }

    /// `ListAttachedRolePolicies`, one page (`Marker`).
    public func listAttachedRolePolicies(roleName: String, marker: String? = nil) async throws -> AWSPage<AttachedPolicy> {
        var p = QueryParameters()
        p.set("RoleName", roleName)
        p.set("Marker", marker)
        let r = try await call("ListAttachedRolePolicies", p, idempotent: true)
        return AWSPage(items: r.list("AttachedPolicies").map { AttachedPolicy(name: $0.string("PolicyName") ?? "", arn: $0.string("PolicyArn") ?? "") },
                       nextToken: r.bool("IsTruncated") == true ? r.string("Marker") : nil)
    }

    /// `ListRoleTags`.
    public func listRoleTags(roleName: String) async throws -> [AWSTag] {
        var p = QueryParameters()
        p.set("RoleName", roleName)
        return try await call("ListRoleTags", p, idempotent: true).list("Tags").map(AWSTag.decode)
    }
}
