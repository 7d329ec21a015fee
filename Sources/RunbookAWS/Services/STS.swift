import Foundation

/// AWS Security Token Service (Query, 2011-06-15).
public struct STS: Sendable {
    let executor: RequestExecutor
    let credentials: any AWSCredentialProvider
    public let region: String

    public struct CallerIdentity: Sendable, Equatable {
        public var account: String
        public var arn: String
        public var userID: String
    }

    /// `sts:GetCallerIdentity`.
    public func getCallerIdentity() async throws -> CallerIdentity {
        let r = try await executor.query(service: .sts, region: region, action: "GetCallerIdentity", parameters: QueryParameters(),
                                         idempotent: true, credentials: credentials)
        return CallerIdentity(account: r.string("Account") ?? "", arn: r.string("Arn") ?? "", userID: r.string("UserId") ?? "")
    }

    public struct AssumeRoleRequest: Sendable {
        public var roleARN: String
        public var roleSessionName: String
        public var externalID: String?
        public var durationSeconds: Int?
    }

    public struct AssumeRoleResult: Sendable {
        public var credentials: AWSCredentials
        public var assumedRoleARN: String
        public var assumedRoleID: String
    }

    /// `sts:AssumeRole`. Idempotent (it only mints credentials).
    public func assumeRole(_ request: AssumeRoleRequest) async throws -> AssumeRoleResult {
        var p = QueryParameters()
        p.set("RoleArn", request.roleARN)
        p.set("RoleSessionName", request.roleSessionName)
        p.set("ExternalId", request.externalID)
        p.set("DurationSeconds", request.durationSeconds)
        let r = try await executor.query(service: .sts, region: region, action: "AssumeRole", parameters: p, idempotent: true, credentials: credentials)
        guard let key = r.string("Credentials/AccessKeyId"), let secret = r.string("Credentials/SecretAccessKey") else {
            throw AWSDecodingError(operation: "sts:AssumeRole", message: "no Credentials in response")
        }
        return AssumeRoleResult(
            credentials: AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: r.string("Credentials/SessionToken"),
                                        expiration: r.date("Credentials/Expiration")),
            assumedRoleARN: r.string("AssumedRoleUser/Arn") ?? "", assumedRoleID: r.string("AssumedRoleUser/AssumedRoleId") ?? "")
    }
}
