import Foundation

/// AWS Secrets Manager (JSON 1.1, 2017-10-17) in one region: reading the secrets RDS manages for
/// its master users (`ManageMasterUserPassword`), plus creating and deleting secrets.
///
/// Secret values never reach a log through this API: ``SecretValue`` and ``RDSMasterCredentials``
/// redact them in `description`, `debugDescription` and their mirrors, and decoding errors name
/// JSON paths, never values.
public struct SecretsManager: Sendable {
    static let service = AWSService.secretsManager
    let client: AWSClient
    public let region: String

    /// Calls `operation` with `input` encoded as JSON and decodes the answer as `Output`.
    func call<Output: Decodable>(_ operation: String, _ input: some Encodable, idempotent: Bool,
                                 as output: Output.Type) async throws -> Output {
        let body = try AWSJSON.encode(input)
        let answer = try await client.json(service: Self.service, region: region, operation: operation, body: body, idempotent: idempotent)
        return try AWSJSON.decode(output, from: answer, operation: "\(Self.service.rawValue):\(operation)")
    }

    static func require(_ value: String, _ name: String, _ operation: String) throws {
        guard !value.isEmpty else {
            throw AWSValidationError(operation: "secretsmanager:\(operation)", message: "\(name) is required")
        }
    }

    // MARK: GetSecretValue

    struct GetSecretValueInput: Encodable {
        var SecretId: String
        var VersionId: String?
        var VersionStage: String?
    }

    struct GetSecretValueOutput: Decodable {
        var ARN: String?
        var Name: String?
        var VersionId: String?
        var SecretString: String?
        var SecretBinary: Data?
        var VersionStages: [String]?
        var CreatedDate: Date?
    }

    /// `GetSecretValue`: the secret's current value, or the version with `versionStage` (e.g.
    /// `AWSPREVIOUS`) or `versionID`. `secretID` is the name or the ARN. Throws ``AWSError`` with
    /// code `ResourceNotFoundException` when there is no such secret or version.
    public func getSecretValue(secretID: String, versionStage: String? = nil, versionID: String? = nil) async throws -> SecretValue {
        try Self.require(secretID, "SecretId", "GetSecretValue")
        let out = try await call("GetSecretValue", GetSecretValueInput(SecretId: secretID, VersionId: versionID, VersionStage: versionStage),
                                 idempotent: true, as: GetSecretValueOutput.self)
        return SecretValue(arn: out.ARN ?? "", name: out.Name ?? "", versionID: out.VersionId, versionStages: out.VersionStages ?? [],
                           createdDate: out.CreatedDate, secretString: out.SecretString, secretBinary: out.SecretBinary)
    }

    /// The master user name and password of an RDS instance whose password RDS manages: reads the
    /// secret named by the instance's `MasterUserSecret.SecretArn` (``RDS/DBInstance/masterUserSecretARN``).
    public func rdsMasterCredentials(secretID: String, versionStage: String? = nil) async throws -> RDSMasterCredentials {
        try await getSecretValue(secretID: secretID, versionStage: versionStage).rdsMasterCredentials()
    }

    // MARK: CreateSecret

    struct Tag: Codable {
        var Key: String
        var Value: String
    }

    struct CreateSecretInput: Encodable {
        var Name: String
        var ClientRequestToken: String
        var Description: String?
        var KmsKeyId: String?
        var SecretString: String?
        var Tags: [Tag]?
    }

    /// What `CreateSecret` answers (its ARN and name are required of the answer).
    public struct CreatedSecret: Sendable, Equatable, Decodable {
        public var arn: String
        public var name: String
        public var versionID: String?
        enum CodingKeys: String, CodingKey { case arn = "ARN", name = "Name", versionID = "VersionId" }
    }

    /// `CreateSecret` with a string value. Idempotent: a retry sends the same `clientRequestToken`,
    /// so AWS creates one version whatever the number of attempts (a new token each call by default).
    public func createSecret(name: String, secretString: String, description: String? = nil, kmsKeyID: String? = nil,
                             tags: [AWSTag] = [], clientRequestToken: String = UUID().uuidString.lowercased()) async throws -> CreatedSecret {
        try Self.require(name, "Name", "CreateSecret")
        let input = CreateSecretInput(Name: name, ClientRequestToken: clientRequestToken, Description: description, KmsKeyId: kmsKeyID,
                                      SecretString: secretString, Tags: tags.isEmpty ? nil : tags.map { Tag(Key: $0.key, Value: $0.value) })
        return try await call("CreateSecret", input, idempotent: true, as: CreatedSecret.self)
    }

    // MARK: DeleteSecret

    struct DeleteSecretInput: Encodable {
        var SecretId: String
        var RecoveryWindowInDays: Int?
        var ForceDeleteWithoutRecovery: Bool?
    }

    /// What `DeleteSecret` answers: when the secret goes for good (its ARN and name are required of the answer).
    public struct DeletedSecret: Sendable, Equatable, Decodable {
        public var arn: String
        public var name: String
        public var deletionDate: Date?
        enum CodingKeys: String, CodingKey { case arn = "ARN", name = "Name", deletionDate = "DeletionDate" }
    }

    /// `DeleteSecret`: scheduled after `recoveryWindowInDays` (7–30; AWS's default 30), or at once with
    /// `forceDeleteWithoutRecovery` (give one or neither). Not idempotent: the outcome of a replay depends on the first.
    public func deleteSecret(secretID: String, recoveryWindowInDays: Int? = nil, forceDeleteWithoutRecovery: Bool? = nil) async throws -> DeletedSecret {
        try Self.require(secretID, "SecretId", "DeleteSecret")
        let input = DeleteSecretInput(SecretId: secretID, RecoveryWindowInDays: recoveryWindowInDays, ForceDeleteWithoutRecovery: forceDeleteWithoutRecovery)
        return try await call("DeleteSecret", input, idempotent: false, as: DeletedSecret.self)
    }
}

/// A secret's value as `GetSecretValue` answers it. Its `description`, `debugDescription` and mirror
/// show the name, ARN and version but never the value, so printing or logging one leaks nothing.
public struct SecretValue: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var arn: String
    public var name: String
    public var versionID: String?
    /// Staging labels of this version, e.g. `AWSCURRENT`.
    public var versionStages: [String] = []
    public var createdDate: Date?
    /// The secret text (nil when the secret holds binary). Handle with care: this is the secret.
    public var secretString: String?
    /// The secret bytes, for secrets stored as binary.
    public var secretBinary: Data?

    public var description: String {
        let value = secretString != nil ? "secretString: <redacted>" : secretBinary != nil ? "secretBinary: <redacted>" : "no value"
        return "SecretValue(name: \(name), arn: \(arn), versionID: \(versionID ?? "nil"), \(value))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "arn": arn, "versionID": versionID as Any, "versionStages": versionStages,
                                "value": "<redacted>"], displayStyle: .struct)
    }

    /// Decodes an RDS master user secret, `{"username": "…", "password": "…"}` (other keys, such as
    /// `engine` or `host` in secrets made for rotation, are ignored). Throws ``AWSDecodingError``,
    /// naming the secret but not its contents, when the value is not of that shape.
    public func rdsMasterCredentials() throws -> RDSMasterCredentials {
        let operation = "secretsmanager:GetSecretValue"
        guard let text = secretString else {
            throw AWSDecodingError(operation: operation, message: "secret \(name) has no string value, so it is not an RDS master secret")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let username = object["username"] as? String, let password = object["password"] as? String else {
            throw AWSDecodingError(operation: operation,
                                   message: "secret \(name) is not an RDS master secret: expected a JSON object with string \"username\" and \"password\"")
        }
        return RDSMasterCredentials(username: username, password: password)
    }
}

/// An RDS master user's name and password. The password never shows in `description`,
/// `debugDescription` or the mirror.
public struct RDSMasterCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "RDSMasterCredentials(username: \(username), password: <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["username": username, "password": "<redacted>"], displayStyle: .struct)
    }
}
