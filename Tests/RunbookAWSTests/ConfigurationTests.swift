import Foundation
import RunbookTestSupport
import Testing
@testable import RunbookAWS

@Suite struct ConfigurationTests {
    @Test func environmentKeysWinAndRegionComesFromAWSRegion() throws {
        let home = try TemporaryDirectory()
        defer { home.remove() }
        try home.write(".aws/credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n")
        let c = try AWSConfiguration.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
            "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2",
        ], homeDirectory: home.path)
        guard case let .keys(creds, origin) = c.credentialSource else { Issue.record("expected keys"); return }
        #expect(creds.accessKeyID == "ENVKEY" && creds.sessionToken == "envtoken" && origin == "environment")
        #expect(try c.region(nil) == "eu-west-1")
        #expect(try c.region("ap-south-1") == "ap-south-1")
        // Secrets never show in descriptions.
        #expect(!String(describing: c).contains("envsecret") && !String(describing: creds).contains("envtoken"))
        #expect(!String(describing: creds).contains("envsecret"))
    }

    @Test func namedProfileFromCustomFilesWithConfigRegion() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let creds = try dir.write("creds", "# comment\n[prod]\naws_access_key_id=PRODKEY\naws_secret_access_key=prodsecret\n")
        let config = try dir.write("config", "[default]\nregion=us-east-1\n[profile prod]\nregion = us-west-2\n")
        let c = try AWSConfiguration.resolve(environment: [
            "AWS_PROFILE": "prod", "AWS_SHARED_CREDENTIALS_FILE": creds.path, "AWS_CONFIG_FILE": config.path,
        ], homeDirectory: "/nonexistent")
        guard case let .keys(k, origin) = c.credentialSource else { Issue.record("expected keys"); return }
        #expect(k.accessKeyID == "PRODKEY" && origin == "profile prod")
        #expect(c.defaultRegion == "us-west-2")
        #expect(c.profile == "prod")
    }

    @Test func roleProfileAssumesWithSourceProfileKeys() throws {
        let home = try TemporaryDirectory()
        defer { home.remove() }
        try home.write(".aws/credentials", "[base]\naws_access_key_id=BASEKEY\naws_secret_access_key=basesecret\n")
        try home.write(".aws/config", "[profile dr]\nrole_arn = arn:aws:iam::123456789012:role/dr-operator\nsource_profile = base\nregion = us-west-2\nrole_session_name = drill\n")
        let c = try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "dr"], homeDirectory: home.path)
        guard case let .assumeRole(role, session, _, source, _) = c.credentialSource else { Issue.record("expected assume role"); return }
        #expect(role == "arn:aws:iam::123456789012:role/dr-operator")
        #expect(session == "drill")
        #expect(source.accessKeyID == "BASEKEY")
    }

    @Test func missingCredentialsNameWhatToSet() throws {
        let home = try TemporaryDirectory()
        defer { home.remove() }
        #expect {
            _ = try AWSConfiguration.resolve(environment: [:], homeDirectory: home.path)
        } throws: { error in
            let message = String(describing: error)
            return message.contains("AWS_ACCESS_KEY_ID") && message.contains("AWS_PROFILE") && !message.contains("\n")
        }
        #expect(throws: AWSConfigurationError.self) {
            _ = try AWSConfiguration.resolve(environment: ["AWS_PROFILE": "nope"], homeDirectory: home.path)
        }
    }

    @Test func missingRegionNamesWhatToSet() throws {
        let c = try AWSConfiguration.resolve(environment: ["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"], homeDirectory: "/nonexistent")
        #expect { _ = try c.region(nil) } throws: { String(describing: $0).contains("AWS_REGION") }
    }

    @Test func endpointOverrides() throws {
        let c = try AWSConfiguration.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "AWS_ENDPOINT_URL_ROUTE_53": "http://127.0.0.1:6000", "AWS_ENDPOINT_URL_RDS": "http://127.0.0.1:7000",
        ], homeDirectory: "/nonexistent")
        #expect(c.endpoint(for: .route53, region: "us-east-1") == "http://127.0.0.1:6000")
        #expect(c.endpoint(for: .rds, region: "us-west-2") == "http://127.0.0.1:7000")
        #expect(c.endpoint(for: .sns, region: "us-west-2") == "http://127.0.0.1:5000")
        let aws = try AWSConfiguration.resolve(environment: ["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"], homeDirectory: "/nonexistent")
        #expect(aws.endpoint(for: .cloudwatch, region: "us-west-2") == "https://monitoring.us-west-2.amazonaws.com")
        #expect(aws.endpoint(for: .route53, region: "us-west-2") == "https://route53.amazonaws.com")
    }

    @Test func assumeRoleProviderRefreshesBeforeExpiry() async throws {
        final class Clock: @unchecked Sendable { var now = Date(timeIntervalSince1970: 1_000_000) }
        final class Counter: @unchecked Sendable { var calls = 0 }
        let clock = Clock()
        let counter = Counter()
        let provider = AssumeRoleCredentialProvider(
            roleARN: "arn:aws:iam::1:role/r", sessionName: "s",
            source: StaticCredentialProvider(AWSCredentials(accessKeyID: "SRC", secretAccessKey: "x"), source: "test"),
            now: { clock.now },
            assume: { source, _, _, _ in
                counter.calls += 1
                #expect(source.accessKeyID == "SRC")
                return AWSCredentials(accessKeyID: "ASIA\(counter.calls)", secretAccessKey: "t", sessionToken: "tok",
                                      expiration: clock.now.addingTimeInterval(3600))
            })
        #expect(try await provider.credentials().accessKeyID == "ASIA1")
        clock.now = clock.now.addingTimeInterval(3000)  // 10 min left: still cached
        #expect(try await provider.credentials().accessKeyID == "ASIA1")
        clock.now = clock.now.addingTimeInterval(400)  // under 5 min left: refreshed
        #expect(try await provider.credentials().accessKeyID == "ASIA2")
        #expect(counter.calls == 2)
    }
}
