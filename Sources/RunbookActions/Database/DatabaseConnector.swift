import Foundation
import RunbookAWS
import RunbookEngine
import RunbookPostgres

/// Turns a step's `identifier`/`region` and connection inputs into a database session: the endpoint from
/// DescribeDBInstances, credentials from the RDS-managed master secret, an IAM token or a secret parameter.
/// No credential is ever an output, a log line or an error message.
struct DatabaseConnector: Sendable {
    let provider: AWSClientProvider

    /// The connection inputs every database action accepts.
    static let inputs: [ActionInputSpec] = [
        ActionInputSpec("identifier", required: true, description: "the RDS DB instance"),
        AWSStep.regionInput,
        ActionInputSpec("database", description: "database name (default postgres)"),
        ActionInputSpec("user", description: "database user (default: the instance's master user)"),
        ActionInputSpec("auth", description: "master-secret (default: the RDS-managed master secret), iam (an RDS IAM token) or password"),
        ActionInputSpec("secret_arn", description: "with auth: master-secret, the secret to read instead of the instance's own (e.g. its replica in this region)"),
        ActionInputSpec("password_param", description: "with auth: password, the name of a secret parameter holding it"),
        ActionInputSpec("ca_bundle", description: "PEM CA bundle for verify-full TLS (required off loopback; RDS's global bundle)"),
        ActionInputSpec("connect_timeout", description: "connect, TLS and login time limit (default 5s)"),
        ActionInputSpec("statement_timeout", description: "per-statement time limit (default 10s)"),
    ]

    /// The instance and the target to connect to.
    func target(_ invocation: ActionInvocation) async throws -> (RDS.DBInstance, DatabaseTarget) {
        let instance = try DBInstanceTarget(provider, invocation)
        let db = try await instance.require()
        guard let host = db.endpointAddress, let port = db.endpointPort else {
            throw ActionFailure("\(instance.description) has no endpoint yet (status \(db.status))", retryable: true)
        }
        let (user, credential) = try await credential(for: db, host: host, port: port, instance, invocation)
        let target = DatabaseTarget(
            host: host, port: port, database: invocation.string("database") ?? "postgres", user: user, credential: credential,
            caBundlePath: invocation.string("ca_bundle").flatMap { $0.isEmpty ? nil : $0 },
            connectTimeout: try invocation.duration("connect_timeout") ?? .seconds(5),
            statementTimeout: try invocation.duration("statement_timeout") ?? .seconds(10))
        return (db, target)
    }

    /// The ARN of the master secret `invocation` logs in with (nil for other kinds of credentials). An ARN is not a secret.
    func secretARN(_ invocation: ActionInvocation) async throws -> String? {
        guard (invocation.string("auth") ?? "master-secret") == "master-secret" else { return nil }
        let instance = try DBInstanceTarget(provider, invocation)
        return try await masterSecretARN(of: try await instance.require(), instance, invocation)
    }

    /// Runs `body` on a session with the step's instance, turning data-plane errors into action failures.
    func withSession<T: Sendable>(_ invocation: ActionInvocation,
                                  _ body: @Sendable (RDS.DBInstance, DatabaseSession) async throws -> T) async throws -> T {
        let (db, target) = try await target(invocation)
        do {
            return try await DatabaseSession.with(target) { try await body(db, $0) }
        } catch let error as DatabaseError {
            throw ActionFailure("\(db.identifier): \(error)", retryable: true, outputs: error.isUnreachable ? [DatabaseOutput.unreachable: "true"] : [:])
        }
    }

    private func credential(for db: RDS.DBInstance, host: String, port: Int, _ instance: DBInstanceTarget,
                            _ invocation: ActionInvocation) async throws -> (String, DatabaseCredential) {
        let requestedUser = invocation.string("user").flatMap { $0.isEmpty ? nil : $0 }
        switch invocation.string("auth") ?? "master-secret" {
        case "master-secret":
            let arn = try await masterSecretARN(of: db, instance, invocation)
            let secret = try await AWSStep.run("reading the master secret of \(instance.description)") {
                try await provider.client().secretsManager(region: Self.region(ofARN: arn) ?? instance.rds.region).rdsMasterCredentials(secretID: arn)
            }
            return (requestedUser ?? secret.username, .password(secret.password))
        case "iam":
            guard let user = requestedUser ?? db.masterUsername else { throw ActionFailure("input 'user' is required with auth: iam", retryable: false) }
            let token = try await AWSStep.run("making an IAM token for \(instance.description)") {
                try await provider.client().rdsAuthToken(host: host, port: port, user: user, region: instance.rds.region)
            }
            return (user, .iamToken(token))
        case "password":
            let name = try invocation.requiredString("password_param")
            guard invocation.secretParameterNames.contains(name), let password = invocation.parameters[name], !password.isEmpty else {
                throw ActionFailure("password_param '\(name)' must name a secret parameter that has a value", retryable: false)
            }
            guard let user = requestedUser ?? db.masterUsername else { throw ActionFailure("input 'user' is required with auth: password", retryable: false) }
            return (user, .password(password))
        case let other:
            throw ActionFailure("input 'auth' must be master-secret, iam or password, got '\(other)'", retryable: false)
        }
    }
}

extension DatabaseConnector {
    /// The master secret to log in with: `secret_arn`, else the instance's own, else (a read replica, whose
    /// password RDS does not manage) its source's.
    func masterSecretARN(of db: RDS.DBInstance, _ instance: DBInstanceTarget, _ invocation: ActionInvocation) async throws -> String {
        if let given = invocation.string("secret_arn"), !given.isEmpty { return given }
        if let own = db.masterUserSecretARN { return own }
        if let source = db.readReplicaSourceDBInstanceIdentifier {
            let sourceRegion = Self.region(ofARN: source) ?? instance.rds.region
            let sourceID = source.split(separator: ":").last.map(String.init) ?? source
            let sourceRDS = try AWSStep.sync("the RDS client for \(sourceRegion)") { try provider.client().rds(region: sourceRegion) }
            if let arn = try await DBInstanceTarget(sourceRDS, sourceID).find()?.masterUserSecretARN { return arn }
        }
        throw ActionFailure("\(instance.description) has no RDS-managed master secret (MasterUserSecret): give secret_arn, "
                            + "or use auth: iam or auth: password", retryable: false)
    }

    /// The region of an ARN (`arn:aws:SERVICE:REGION:…`), nil for anything else.
    static func region(ofARN text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count > 4, parts[0] == "arn", !parts[3].isEmpty else { return nil }
        return String(parts[3])
    }
}

/// Output names and formats the database actions share.
enum DatabaseOutput {
    /// Set on a failure when the database did not answer (as opposed to refusing a statement).
    static let unreachable = "unreachable"
    static func milliseconds(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1000).rounded())) }
}
