/// How `runbook` authenticates to a database. The secret text never reaches a description or log.
public struct DatabaseCredential: Sendable, CustomStringConvertible {
    /// What the secret is, for messages: `password` or `iam-token`.
    public let kind: String
    let secret: String

    /// A password, e.g. from the RDS-managed master secret or a secret parameter.
    public static func password(_ value: String) -> DatabaseCredential { DatabaseCredential(kind: "password", secret: value) }
    /// An RDS IAM authentication token (it is sent as the password; RDS requires TLS for it).
    public static func iamToken(_ value: String) -> DatabaseCredential { DatabaseCredential(kind: "iam-token", secret: value) }

    public var description: String { "\(kind) (redacted)" }
}
