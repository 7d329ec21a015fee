import Foundation

/// IAM database authentication tokens for RDS: the password a client sends when the instance has
/// IAM authentication enabled and the user was created for it (`GRANT rds_iam` on PostgreSQL).
///
/// A token is the SigV4 query-presigned URL of `GET https://HOST:PORT/?Action=connect&DBUser=USER`
/// for the service `rds-db`, valid for 15 minutes, without its `https://` — byte for byte what
/// botocore's `generate_db_auth_token` returns. It is made locally; no AWS call is involved.
/// The token is a credential: do not log it.
public enum RDSAuthToken {
    /// How long a token is valid, in seconds (the most RDS accepts).
    public static let expiresIn = 900

    /// The signing name of IAM database authentication.
    public static let signingName = "rds-db"

    /// - Parameters:
    ///   - host: the instance endpoint's address (`Endpoint.Address`).
    ///   - port: the instance endpoint's port (`Endpoint.Port`).
    ///   - user: the database user to log in as.
    ///   - region: the instance's region.
    ///   - credentials: the IAM identity's keys; a session token is included when present.
    ///   - date: when the token's 15 minutes start (now, unless testing).
    public static func generate(host: String, port: Int, user: String, region: String,
                                credentials: AWSCredentials, date: Date = Date()) -> String {
        // botocore signs https://HOST:PORT, whose host header is lower-cased and drops the default port.
        let hostHeader = port == 443 ? host.lowercased() : "\(host.lowercased()):\(port)"
        let query = SigV4.presignedQuery(
            method: "GET", host: hostHeader, path: "/", parameters: [("Action", "connect"), ("DBUser", user)],
            credentials: credentials, region: region, service: signingName, date: date, expires: expiresIn)
        return "\(host):\(port)/?\(query)"
    }
}
