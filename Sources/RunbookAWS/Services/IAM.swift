import Foundation

/// AWS IAM (Query, 2010-05-08). Global: signed for us-east-1.
public struct IAM: QueryService {
    static let service = AWSService.iam
    let client: AWSClient
    var callRegion: String? { "us-east-1" }

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
        var p: QueryParameters = ["RoleName": name, "AssumeRolePolicyDocument": assumeRolePolicyDocument, "Description": description, "Path": path]
        p.setTags("Tags.member", tags)
        return try await answer("CreateRole", p, idempotent: false)
    }

    /// `GetRole`; throws `NoSuchEntity` if absent.
    public func getRole(name: String) async throws -> Role {
        try await answer("GetRole", ["RoleName": name], idempotent: true)
    }

    /// `DeleteRole`; fails with `DeleteConflict` while policies are attached.
    public func deleteRole(name: String) async throws {
        _ = try await call("DeleteRole", ["RoleName": name], idempotent: false)
    }

    /// `AttachRolePolicy`. Idempotent.
    public func attachRolePolicy(roleName: String, policyARN: String) async throws {
        _ = try await call("AttachRolePolicy", ["RoleName": roleName, "PolicyArn": policyARN], idempotent: true)
    }

    /// `DetachRolePolicy`.
    public func detachRolePolicy(roleName: String, policyARN: String) async throws {
        _ = try await call("DetachRolePolicy", ["RoleName": roleName, "PolicyArn": policyARN], idempotent: false)
    }

    public struct AttachedPolicy: Sendable, Equatable {
        public var name: String
        public var arn: String
    }

    /// `ListAttachedRolePolicies`, one page (`Marker`).
    public func listAttachedRolePolicies(roleName: String, marker: String? = nil) async throws -> AWSPage<AttachedPolicy> {
        let r = try await call("ListAttachedRolePolicies", ["RoleName": roleName, "Marker": marker], idempotent: true)
        return AWSPage(items: r.list("AttachedPolicies").map { AttachedPolicy(name: $0.string("PolicyName") ?? "", arn: $0.string("PolicyArn") ?? "") },
                       nextToken: r.bool("IsTruncated") == true ? r.string("Marker") : nil)
    }

    /// `ListRoleTags`.
    public func listRoleTags(roleName: String) async throws -> [AWSTag] {
        try await tags("ListRoleTags", ["RoleName": roleName], list: "Tags")
    }
}

extension IAM.Role: QueryAnswer { static let element = "Role" }
