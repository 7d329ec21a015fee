import Foundation
import Testing
@testable import RunbookAWS

/// Reference values from botocore 1.43.11, stored in Fixtures/botocore-reference.json. Regenerate them with
/// `python3 Tests/RunbookAWSTests/Fixtures/generate_botocore_fixtures.py` (the script says how each was made);
/// these tests do not need Python.
struct BotocoreReference: Decodable {
    struct JSONRequest: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var operation: String
        var region: String
        var sessionToken: String?
        var method: String
        var url: String
        var headers: [String: String]
        /// botocore's exact body (`json.dumps` with spaces and `\uXXXX` escapes).
        var body: String
        /// The same JSON, compact with sorted keys: the bytes we send.
        var canonicalBody: String
        /// botocore's SigV4 Authorization header for the request with `canonicalBody`.
        var canonicalBodyAuthorization: String
        var testDescription: String { name }
    }

    struct QueryRequest: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var operation: String
        /// The form body exactly as botocore sends it.
        var body: String
        var testDescription: String { name }
    }

    struct AuthToken: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var host: String
        var port: Int
        var user: String
        var region: String
        var sessionToken: String?
        var token: String
        var testDescription: String { name }
    }

    var botocoreVersion: String
    var epoch: Double
    var accessKeyID: String
    var secretAccessKey: String
    var json: [JSONRequest]
    var query: [QueryRequest]
    var authTokens: [AuthToken]

    var date: Date { Date(timeIntervalSince1970: epoch) }

    func credentials(sessionToken: String?) -> AWSCredentials {
        AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    static let loaded: BotocoreReference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/botocore-reference.json")
        do {
            return try JSONDecoder().decode(BotocoreReference.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot load \(url.path): \(error)")
        }
    }()
}

/// A client on AWS's real endpoints (nothing is sent: the transport records the request and answers an error),
/// with the fixtures' keys and time.
struct CapturingClient {
    let transport: ScriptedTransport
    let client: AWSClient

    init(region: String = "us-east-1", sessionToken: String? = nil, errorBody: String) {
        let reference = BotocoreReference.loaded
        let configuration = AWSConfiguration(credentialSource: .keys(reference.credentials(sessionToken: sessionToken), origin: "test"),
                                             defaultRegion: region)
        transport = ScriptedTransport([.respond(400, errorBody)], repeatLast: true)
        let date = reference.date
        client = AWSClient(configuration: configuration, transport: transport, now: { date })
    }

    /// Runs `call` (its error is expected and ignored) and returns the one request it sent.
    func capture(_ call: (AWSClient) async throws -> Void) async throws -> AWSHTTPRequest {
        do { try await call(client) } catch {}
        try await client.shutdown()
        #expect(transport.requestCount == 1)
        return try #require(transport.requests.first)
    }
}

@Suite struct BotocoreJSONRequestTests {
    /// The Swift call for each fixture, by name.
    static let calls: [String: @Sendable (AWSClient, String) async throws -> Void] = [
        "getSecretValueByARN": { client, region in
            _ = try await client.secretsManager(region: region).getSecretValue(
                secretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-3f1e2c9a-1b2c-4d5e-8f90-0a1b2c3d4e5f-AbCdEf")
        },
        "getSecretValueByPathWithStage": { client, region in
            _ = try await client.secretsManager(region: region).getSecretValue(secretID: "prod/financial-db/master", versionStage: "AWSPREVIOUS")
        },
        "createSecretWithTags": { client, region in
            _ = try await client.secretsManager(region: region).createSecret(
                name: "drill/fin-db", secretString: #"{"username": "dbadmin", "password": "p@ss\"w/rd\\x"}"#,
                description: "Fin DB master \u{2014} DR drill", tags: [AWSTag("runbook:run-id", "r-1"), AWSTag("env", "dr")],
                clientRequestToken: "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b")
        },
        "deleteSecretForce": { client, region in
            _ = try await client.secretsManager(region: region).deleteSecret(secretID: "drill/fin-db", forceDeleteWithoutRecovery: true)
        },
    ]

    @Test func everyFixtureHasACall() {
        #expect(Set(BotocoreReference.loaded.json.map(\.name)) == Set(Self.calls.keys))
    }

    @Test(arguments: BotocoreReference.loaded.json)
    func requestMatchesBotocore(_ c: BotocoreReference.JSONRequest) async throws {
        let call = try #require(Self.calls[c.name])
        let capturing = CapturingClient(region: c.region, sessionToken: c.sessionToken,
                                        errorBody: #"{"__type":"Captured","message":"m"}"#)
        let request = try await capturing.capture { try await call($0, c.region) }
        #expect(request.method == c.method)
        #expect(request.url.absoluteString == c.url)
        for (name, value) in c.headers {
            #expect(request.header(name) == value, "\(name)")
        }
        #expect(String(decoding: request.body, as: UTF8.self) == c.canonicalBody)
        // The bytes differ from botocore's only in whitespace and escapes: the same JSON value.
        let ours = try JSONSerialization.jsonObject(with: request.body) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: Data(c.body.utf8)) as? NSDictionary
        #expect(ours != nil && ours == theirs)
        #expect(request.header("Authorization") == c.canonicalBodyAuthorization)
        #expect(request.header("x-amz-security-token") == c.sessionToken)
    }
}

@Suite struct BotocoreQueryRequestTests {
    /// The Swift call for each fixture, by name.
    static let calls: [String: @Sendable (RDS) async throws -> Void] = [
        "createDBParameterGroup": { rds in
            _ = try await rds.createDBParameterGroup(name: "fin-fence-pg", family: "postgres15", description: "Fence: writes off during failover",
                                                     tags: [AWSTag("runbook:run-id", "r-1"), AWSTag("runbook:step", "fence")])
        },
        "describeDBParameterGroups": { rds in
            _ = try await rds.describeDBParameterGroups(name: "fin-fence-pg", maxRecords: 20, marker: "page/2+")
        },
        "modifyDBParameterGroup": { rds in
            try await rds.modifyDBParameterGroup(name: "fin-fence-pg", parameters: [
                .init(name: "default_transaction_read_only", value: "on"),
                .init(name: "max_connections", value: "200", applyMethod: "pending-reboot"),
            ])
        },
        "describeDBParametersUser": { rds in
            _ = try await rds.describeDBParameters(name: "fin-fence-pg", source: "user", maxRecords: 100, marker: "m1")
        },
        "deleteDBParameterGroup": { rds in
            try await rds.deleteDBParameterGroup(name: "fin-fence-pg")
        },
        "modifyDBInstanceParameterGroupAndSecurityGroups": { rds in
            var r = RDS.ModifyDBInstanceRequest(identifier: "financial-db", applyImmediately: true)
            r.dbParameterGroupName = "fin-fence-pg"
            r.vpcSecurityGroupIDs = ["sg-0fence", "sg-0app"]
            _ = try await rds.modifyDBInstance(r)
        },
        "modifyDBInstanceRenameIntoParameterGroup": { rds in
            var r = RDS.ModifyDBInstanceRequest(identifier: "financial-db", applyImmediately: true)
            r.dbParameterGroupName = "financial-db-retired-r1"
            r.newIdentifier = "financial-db-retired-r1"
            _ = try await rds.modifyDBInstance(r)
        },
        "modifyDBInstanceManagedPasswordAndIAMAuth": { rds in
            var r = RDS.ModifyDBInstanceRequest(identifier: "financial-db", applyImmediately: false)
            r.enableIAMDatabaseAuthentication = true
            r.manageMasterUserPassword = true
            _ = try await rds.modifyDBInstance(r)
        },
        "createDBInstanceManagedPassword": { rds in
            var r = RDS.CreateDBInstanceRequest(identifier: "financial-db", instanceClass: "db.r5.large", engine: "postgres",
                                                tags: [AWSTag("app", "fin")])
            r.masterUsername = "dbadmin"
            r.manageMasterUserPassword = true
            r.vpcSecurityGroupIDs = ["sg-1"]
            r.dbParameterGroupName = "fin-pg"
            r.enableIAMDatabaseAuthentication = true
            _ = try await rds.createDBInstance(r)
        },
    ]

    @Test func everyFixtureHasACall() {
        #expect(Set(BotocoreReference.loaded.query.map(\.name)) == Set(Self.calls.keys))
    }

    /// botocore form-encodes a space as `+` (`urlencode`), we as `%20` (RFC 3986, as SigV4 does); AWS
    /// decodes both to a space. Every other byte must be the same.
    @Test(arguments: BotocoreReference.loaded.query)
    func bodyMatchesBotocore(_ c: BotocoreReference.QueryRequest) async throws {
        let call = try #require(Self.calls[c.name])
        let capturing = CapturingClient(errorBody: "<ErrorResponse><Error><Code>Captured</Code><Message>m</Message></Error></ErrorResponse>")
        let request = try await capturing.capture { try await call(try $0.rds(region: "us-east-1")) }
        let body = String(decoding: request.body, as: UTF8.self)
        #expect(body.replacingOccurrences(of: "%20", with: "+") == c.body)
    }
}

@Suite struct RDSAuthTokenTests {
    @Test(arguments: BotocoreReference.loaded.authTokens)
    func tokenMatchesBotocore(_ c: BotocoreReference.AuthToken) {
        let reference = BotocoreReference.loaded
        let token = RDSAuthToken.generate(host: c.host, port: c.port, user: c.user, region: c.region,
                                          credentials: reference.credentials(sessionToken: c.sessionToken), date: reference.date)
        #expect(token == c.token)
    }

    @Test func clientSignsWithItsCredentialsAndClock() async throws {
        let reference = BotocoreReference.loaded
        let c = try #require(reference.authTokens.first { $0.sessionToken != nil })
        let capturing = CapturingClient(region: "eu-west-1", sessionToken: c.sessionToken, errorBody: "")
        let token = try await capturing.client.rdsAuthToken(host: c.host, port: c.port, user: c.user, region: c.region)
        try await capturing.client.shutdown()
        #expect(token == c.token)
        #expect(token.contains("X-Amz-Security-Token="))
        #expect(!token.hasPrefix("https://"))
        #expect(capturing.transport.requestCount == 0)
    }

    @Test func presignedQueryNeverContainsTheSecretKey() {
        let token = RDSAuthToken.generate(host: "db.example", port: 5432, user: "u", region: "us-east-1",
                                          credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "very-secret"))
        #expect(!token.contains("very-secret"))
        #expect(token.contains("X-Amz-Expires=900&"))
    }
}
