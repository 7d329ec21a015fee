import Foundation
import Testing
@testable import RunbookAWS

@Suite struct SecretsManagerClientTests {
    static let answer = """
    {"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf","Name":"rds!db-1","VersionId":"v-1",
     "SecretString":"{\\"username\\":\\"dbadmin\\",\\"password\\":\\"s3cr3t-P@ss\\"}","VersionStages":["AWSCURRENT"],"CreatedDate":1.7e9}
    """

    func client(_ transport: ScriptedTransport, sleeper: RecordingSleeper = RecordingSleeper()) -> AWSClient {
        AWSClient(configuration: TestConfig.configuration(), retryPolicy: AWSRetryPolicy(random: { 0.5 }), transport: transport, sleeper: sleeper)
    }

    @Test func getSecretValueDecodesTheAnswer() async throws {
        let transport = ScriptedTransport([.respond(200, Self.answer)])
        let c = client(transport)
        let value = try await c.secretsManager().getSecretValue(secretID: "rds!db-1")
        try await c.shutdown()
        #expect(value.arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf")
        #expect(value.name == "rds!db-1")
        #expect(value.versionID == "v-1")
        #expect(value.versionStages == ["AWSCURRENT"])
        #expect(value.createdDate == Date(timeIntervalSince1970: 1.7e9))
        #expect(value.secretString == #"{"username":"dbadmin","password":"s3cr3t-P@ss"}"#)
        let credentials = try value.rdsMasterCredentials()
        #expect(credentials == RDSMasterCredentials(username: "dbadmin", password: "s3cr3t-P@ss"))
        let request = try #require(transport.requests.first)
        #expect(request.url.absoluteString == "http://127.0.0.1:9/")
        #expect(request.header("x-amz-target") == "secretsmanager.GetSecretValue")
        #expect(request.header("content-type") == "application/x-amz-json-1.1")
        #expect(request.header("Authorization")?.contains("/us-east-1/secretsmanager/aws4_request") == true)
    }

    @Test func secretsNeverShowInDescriptionsOrMirrors() throws {
        let value = SecretValue(arn: "arn:x", name: "rds!db-1", versionID: "v-1", secretString: #"{"username":"dbadmin","password":"s3cr3t-P@ss"}"#)
        let credentials = try value.rdsMasterCredentials()
        for thing in [value as Any, credentials as Any, [value] as Any, Optional(credentials) as Any] {
            var dumped = ""
            dump(thing, to: &dumped)
            for text in [String(describing: thing), String(reflecting: thing), "\(thing)", dumped] {
                #expect(!text.contains("s3cr3t"), "\(text)")
                #expect(text.contains("<redacted>"), "\(text)")
            }
        }
        #expect(String(describing: value).contains("rds!db-1"))
        #expect(String(describing: credentials).contains("dbadmin"))
    }

    @Test func aSecretThatIsNotAnRDSMasterSecretIsRefusedWithoutShowingIt() {
        for text in [#"{"user":"x","pass":"hunter2"}"#, "hunter2", #"{"username":"x","password":42}"#] {
            let value = SecretValue(arn: "arn:x", name: "app/token", secretString: text)
            #expect {
                _ = try value.rdsMasterCredentials()
            } throws: { error in
                let text = String(describing: error)
                return error is AWSDecodingError && text.contains("app/token") && !text.contains("hunter2") && !text.contains("42")
            }
        }
        #expect(throws: AWSDecodingError.self) { _ = try SecretValue(arn: "a", name: "bin", secretBinary: Data([1])).rdsMasterCredentials() }
    }

    @Test func notFoundIsAnAWSErrorAndIsNotRetried() async throws {
        let transport = ScriptedTransport([.respond(400, #"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#)])
        let c = client(transport)
        await #expect { _ = try await c.secretsManager().getSecretValue(secretID: "missing") } throws: {
            ($0 as? AWSError)?.code == AWSErrorCode.resourceNotFoundException && ($0 as? AWSError)?.operation == "secretsmanager:GetSecretValue"
        }
        try await c.shutdown()
        #expect(transport.requestCount == 1)
    }

    @Test func throttlingAndServerErrorsAreRetriedThenSucceed() async throws {
        let transport = ScriptedTransport([
            .respond(400, #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            .respond(500, #"{"__type":"InternalServiceError","message":"oops"}"#),
            .respond(200, Self.answer),
        ])
        let sleeper = RecordingSleeper()
        let c = client(transport, sleeper: sleeper)
        let value = try await c.secretsManager().getSecretValue(secretID: "rds!db-1")
        try await c.shutdown()
        #expect(value.versionID == "v-1")
        #expect(transport.requestCount == 3)
        #expect(sleeper.delays == [.milliseconds(500), .seconds(1)])
        // Each retry is signed again with the same body and target.
        #expect(Set(transport.requests.map { $0.header("x-amz-target") ?? "" }) == ["secretsmanager.GetSecretValue"])
        #expect(Set(transport.requests.map(\.body)).count == 1)
    }

    @Test func createSecretRetriesWithTheSameClientRequestToken() async throws {
        let transport = ScriptedTransport([.fail(.timedOut), .respond(200, #"{"ARN":"arn:s","Name":"n","VersionId":"v"}"#)])
        let c = client(transport)
        let created = try await c.secretsManager().createSecret(name: "n", secretString: "x")
        try await c.shutdown()
        #expect(created == .init(arn: "arn:s", name: "n", versionID: "v"))
        #expect(transport.requestCount == 2)
        let tokens = try transport.requests.map { try #require(JSONSerialization.jsonObject(with: $0.body) as? [String: Any])["ClientRequestToken"] as? String }
        #expect(tokens[0] != nil && tokens[0] == tokens[1])
    }

    @Test func emptySecretIDIsRefusedBeforeSending() async throws {
        let transport = ScriptedTransport([])
        let c = client(transport)
        await #expect(throws: AWSValidationError.self) { _ = try await c.secretsManager().getSecretValue(secretID: "") }
        try await c.shutdown()
        #expect(transport.requestCount == 0)
    }

    @Test func malformedAnswerNamesThePathNotTheValue() async throws {
        let transport = ScriptedTransport([.respond(200, #"{"ARN":"a","Name":"n","SecretString":{"leak":"hunter2"}}"#)])
        let c = client(transport)
        await #expect { _ = try await c.secretsManager().getSecretValue(secretID: "n") } throws: {
            let text = String(describing: $0)
            return $0 is AWSDecodingError && text.contains("SecretString") && !text.contains("hunter2")
        }
        try await c.shutdown()
    }

    /// A created secret without an ARN could not be read or deleted by it: the answer is refused, naming the field.
    @Test func aCreateSecretAnswerWithoutItsARNIsAnError() async throws {
        let transport = ScriptedTransport([.respond(200, #"{"Name":"n","VersionId":"v"}"#)])
        let c = client(transport)
        await #expect { _ = try await c.secretsManager().createSecret(name: "n", secretString: "x") } throws: {
            $0 is AWSDecodingError && String(describing: $0) == "secretsmanager:CreateSecret: cannot decode response: unexpected JSON at ARN"
        }
        try await c.shutdown()
    }

    @Test func endpointsResolveLikeTheOtherServices() throws {
        let aws = try AWSConfiguration.resolve(environment: ["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"], homeDirectory: "/nonexistent")
        #expect(aws.endpoint(for: .secretsManager, region: "eu-west-1") == "https://secretsmanager.eu-west-1.amazonaws.com")
        let local = try AWSConfiguration.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:6100",
        ], homeDirectory: "/nonexistent")
        #expect(local.endpoint(for: .secretsManager, region: "us-east-1") == "http://127.0.0.1:6100")
        #expect(AWSService.secretsManager.rawValue == "secretsmanager")
        #expect(AWSService.secretsManager.signingName == "secretsmanager")
        #expect(AWSService.secretsManager.jsonTargetPrefix == "secretsmanager")
        #expect(AWSService.rds.jsonTargetPrefix == nil)
    }
}
