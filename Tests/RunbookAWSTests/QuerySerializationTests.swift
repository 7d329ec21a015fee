import Foundation
import RunbookTestSupport
import Testing
@testable import RunbookAWS

/// Our Query-protocol request bodies against botocore's own serializer (computed at test time from the
/// service models installed with botocore), for the nested shapes the DR runbooks send.
@Suite struct QuerySerializationTests {
    /// Decode an `application/x-www-form-urlencoded` body.
    static func form(_ body: Data) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                (String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(s)
            }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// botocore's serialization of `params` for `service`'s `operation`, as a flat dictionary.
    static func botocore(_ service: String, _ operation: String, _ params: String) async throws -> [String: String] {
        let script = """
        import json, sys, botocore.session, botocore.serialize
        model = botocore.session.get_session().get_service_model(sys.argv[1])
        op = model.operation_model(sys.argv[2])
        body = botocore.serialize.create_serializer('query').serialize_to_request(json.loads(sys.argv[3]), op)['body']
        print(json.dumps({k: str(v) for k, v in body.items()}))
        """
        let (_, output) = try await Python.run(script, [service, operation, params])
        return (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String]) ?? [:]
    }

    static let botocoreAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import botocore.serialize"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// Run `call` against a transport that records the request and answers with an error, then return the body.
    static func capture(_ call: (AWSClient) async throws -> Void) async throws -> [String: String] {
        let transport = ScriptedTransport([.respond(400, "<ErrorResponse><Error><Code>Captured</Code><Message>m</Message></Error></ErrorResponse>")], repeatLast: true)
        let client = AWSClient(configuration: TestConfig.configuration(), transport: transport)
        do { try await call(client) } catch {}
        try await client.shutdown()
        return form(try #require(transport.requests.first?.body))
    }

    @Test(.enabled(if: botocoreAvailable)) func createDBInstanceWithTagsAndSecurityGroups() async throws {
        let ours = try await Self.capture { client in
            var r = RDS.CreateDBInstanceRequest(identifier: "financial-db", instanceClass: "db.r5.xlarge", engine: "postgres",
                                                tags: [AWSTag("runbook:run-id", "r-1"), AWSTag("runbook:step", "primary")])
            r.engineVersion = "15.4"
            r.manageMasterUserPassword = true
            r.masterUsername = "dbadmin"
            r.allocatedStorage = 500
            r.storageEncrypted = true
            r.multiAZ = true
            r.vpcSecurityGroupIDs = ["sg-1", "sg-2"]
            r.backupRetentionPeriod = 30
            r.preferredBackupWindow = "03:00-04:00"
            r.enablePerformanceInsights = true
            r.deletionProtection = false
            _ = try await client.rds(region: "us-east-1").createDBInstance(r)
        }
        let reference = try await Self.botocore("rds", "CreateDBInstance", """
            {"DBInstanceIdentifier": "financial-db", "DBInstanceClass": "db.r5.xlarge", "Engine": "postgres",
             "EngineVersion": "15.4", "ManageMasterUserPassword": true, "MasterUsername": "dbadmin", "AllocatedStorage": 500,
             "StorageEncrypted": true, "MultiAZ": true, "VpcSecurityGroupIds": ["sg-1", "sg-2"], "BackupRetentionPeriod": 30,
             "PreferredBackupWindow": "03:00-04:00", "EnablePerformanceInsights": true, "DeletionProtection": false,
             "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}, {"Key": "runbook:step", "Value": "primary"}]}
            """)
        #expect(!reference.isEmpty)
        #expect(ours == reference)
    }

    @Test(.enabled(if: botocoreAvailable)) func modifyDBParameterGroupParameters() async throws {
        let ours = try await Self.capture { client in
            try await client.rds(region: "us-west-2").modifyDBParameterGroup(name: "fin-params", parameters: [
                .init(name: "log_statement", value: "all"),
                .init(name: "checkpoint_completion_target", value: "0.9"),
            ])
        }
        let reference = try await Self.botocore("rds", "ModifyDBParameterGroup", """
            {"DBParameterGroupName": "fin-params", "Parameters": [
              {"ParameterName": "log_statement", "ParameterValue": "all", "ApplyMethod": "immediate"},
              {"ParameterName": "checkpoint_completion_target", "ParameterValue": "0.9", "ApplyMethod": "immediate"}]}
            """)
        #expect(ours == reference)
    }

    @Test(.enabled(if: botocoreAvailable)) func putMetricAlarmWithDimensionsActionsAndTags() async throws {
        let ours = try await Self.capture { client in
            try await client.cloudWatch(region: "us-west-2").putMetricAlarm(.init(
                alarmName: "fin-replica-lag", metricName: "ReplicaLag", namespace: "AWS/RDS", statistic: "Average",
                period: 300, evaluationPeriods: 2, threshold: 300, comparisonOperator: "GreaterThanThreshold",
                dimensions: [.init("DBInstanceIdentifier", "fin-replica")], alarmActions: ["arn:aws:sns:us-west-2:123456789012:alerts"],
                alarmDescription: "Alert on high replica lag", tags: [AWSTag("runbook:run-id", "r-1")]))
        }
        let reference = try await Self.botocore("cloudwatch", "PutMetricAlarm", """
            {"AlarmName": "fin-replica-lag", "MetricName": "ReplicaLag", "Namespace": "AWS/RDS", "Statistic": "Average",
             "Period": 300, "EvaluationPeriods": 2, "Threshold": 300.0, "ComparisonOperator": "GreaterThanThreshold",
             "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "fin-replica"}],
             "AlarmActions": ["arn:aws:sns:us-west-2:123456789012:alerts"], "AlarmDescription": "Alert on high replica lag",
             "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}]}
            """)
        #expect(ours == reference)
    }

    @Test(.enabled(if: botocoreAvailable)) func iamRoleAndSNSTopicTags() async throws {
        let role = try await Self.capture { client in
            _ = try await client.iam.createRole(name: "fin-promotion", assumeRolePolicyDocument: "{\"Version\":\"2012-10-17\"}",
                                                tags: [AWSTag("runbook:run-id", "r-1"), AWSTag("runbook:runbook", "provision")])
        }
        let roleReference = try await Self.botocore("iam", "CreateRole", """
            {"RoleName": "fin-promotion", "AssumeRolePolicyDocument": "{\\"Version\\":\\"2012-10-17\\"}",
             "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}, {"Key": "runbook:runbook", "Value": "provision"}]}
            """)
        #expect(role == roleReference)
        let topic = try await Self.capture { client in
            _ = try await client.sns(region: "us-east-1").createTopic(name: "fin-alerts", tags: [AWSTag("runbook:step", "topic")])
        }
        let topicReference = try await Self.botocore("sns", "CreateTopic", """
            {"Name": "fin-alerts", "Tags": [{"Key": "runbook:step", "Value": "topic"}]}
            """)
        #expect(topic == topicReference)
    }

    @Test(.enabled(if: botocoreAvailable)) func crossRegionCopyDBSnapshot() async throws {
        let ours = try await Self.capture { client in
            _ = try await client.rds(region: "us-west-2").copyDBSnapshot(
                sourceSnapshotIdentifier: "arn:aws:rds:us-east-1:123456789012:snapshot:fin-baseline", targetSnapshotIdentifier: "fin-restore-check",
                sourceRegion: "us-east-1", kmsKeyID: "alias/aws/rds", tags: [AWSTag("runbook:run-id", "r-1"), AWSTag("runbook:step", "copy-snapshot")])
        }
        let reference = try await Self.botocore("rds", "CopyDBSnapshot", """
            {"SourceDBSnapshotIdentifier": "arn:aws:rds:us-east-1:123456789012:snapshot:fin-baseline", "TargetDBSnapshotIdentifier": "fin-restore-check",
             "SourceRegion": "us-east-1", "KmsKeyId": "alias/aws/rds",
             "Tags": [{"Key": "runbook:run-id", "Value": "r-1"}, {"Key": "runbook:step", "Value": "copy-snapshot"}]}
            """)
        #expect(reference["SourceRegion"] == "us-east-1")
        #expect(ours == reference)
    }
}
