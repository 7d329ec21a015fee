import Foundation
import Testing
@testable import RunbookAWS

@Suite struct QueryEncodingTests {
    @Test func nestedListsAreNumberedFromOne() {
        var p = QueryParameters()
        p.set("DBParameterGroupName", "pg 1")
        p.setList("Parameters.Parameter", [("log_statement", "all"), ("log_min_duration_statement", "1000")]) { item, q in
            q.set("ParameterName", item.0)
            q.set("ParameterValue", item.1)
            q.set("ApplyMethod", "immediate")
        }
        p.setTags("Tags.Tag", [AWSTag("env", "dr"), AWSTag("team", "db&ops")])
        p.set("MultiAZ", true)
        p.set("Missing", nil as String?)
        #expect(p["Parameters.Parameter.2.ParameterName"] == "log_min_duration_statement")
        #expect(p["Parameters.Parameter.1.ApplyMethod"] == "immediate")
        #expect(p["Tags.Tag.2.Value"] == "db&ops")
        #expect(p["Missing"] == nil)
        let body = p.formBody(action: "ModifyDBParameterGroup", version: "2014-10-31")
        #expect(body.hasPrefix("Action=ModifyDBParameterGroup&Version=2014-10-31&DBParameterGroupName=pg%201&"))
        #expect(body.contains("Tags.Tag.2.Value=db%26ops"))
        #expect(body.contains("MultiAZ=true"))
    }

    @Test func ec2FiltersUseFlatNumbering() {
        var p = QueryParameters()
        EC2.encode([EC2.Filter("tag:Name", ["a", "b"]), EC2.Filter("vpc-id", ["vpc-1"])], into: &p)
        #expect(p["Filter.1.Name"] == "tag:Name")
        #expect(p["Filter.1.Value.2"] == "b")
        #expect(p["Filter.2.Value.1"] == "vpc-1")
    }

    @Test func cloudWatchDimensionsAreMembers() {
        var p = QueryParameters()
        CloudWatch.encode([.init("DBInstanceIdentifier", "db1")], "Dimensions.member", into: &p)
        #expect(p["Dimensions.member.1.Name"] == "DBInstanceIdentifier")
        #expect(p["Dimensions.member.1.Value"] == "db1")
    }
}

@Suite struct XMLDecodingTests {
    @Test func describeDBInstancesDecodesTheFieldsRunbooksUse() throws {
        let xml = """
        <DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult>
        <Marker>next-page</Marker><DBInstances><DBInstance>
          <DBInstanceIdentifier>financial-db</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>
          <DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:financial-db</DBInstanceArn>
          <AvailabilityZone>us-east-1a</AvailabilityZone><SecondaryAvailabilityZone>us-east-1b</SecondaryAvailabilityZone>
          <MultiAZ>true</MultiAZ><DeletionProtection>true</DeletionProtection><BackupRetentionPeriod>30</BackupRetentionPeriod>
          <Endpoint><Address>financial-db.abc.us-east-1.rds.amazonaws.com</Address><Port>5432</Port></Endpoint>
          <ReadReplicaDBInstanceIdentifiers><ReadReplicaDBInstanceIdentifier>arn:aws:rds:us-west-2:123456789012:db:replica</ReadReplicaDBInstanceIdentifier></ReadReplicaDBInstanceIdentifiers>
          <DBParameterGroups><DBParameterGroup><DBParameterGroupName>pg</DBParameterGroupName><ParameterApplyStatus>in-sync</ParameterApplyStatus></DBParameterGroup></DBParameterGroups>
          <TagList><Tag><Key>env</Key><Value>prod</Value></Tag></TagList>
        </DBInstance></DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>
        """
        let root = try #require(XMLNode.parse(Data(xml.utf8)))
        let result = try #require(root.child("DescribeDBInstancesResult"))
        #expect(result.string("Marker") == "next-page")
        let db = RDS.DBInstance(try #require(result.list("DBInstances").first))
        #expect(db.identifier == "financial-db")
        #expect(db.multiAZ && db.deletionProtection)
        #expect(db.secondaryAvailabilityZone == "us-east-1b")
        #expect(db.endpointAddress == "financial-db.abc.us-east-1.rds.amazonaws.com")
        #expect(db.endpointPort == 5432)
        #expect(db.readReplicaDBInstanceIdentifiers == ["arn:aws:rds:us-west-2:123456789012:db:replica"])
        #expect(db.parameterGroups.map(\.name) == ["pg"])
        #expect(db.tags == [AWSTag("env", "prod")])
        #expect(db.backupRetentionPeriod == 30)
    }

    @Test func route53IdsAreNormalised() {
        #expect(Route53.normalizeID("/hostedzone/Z0123") == "Z0123")
        #expect(Route53.normalizeID("/change/C9") == "C9")
        #expect(Route53.normalizeID("Z0123") == "Z0123")
    }

    @Test func xmlWriterEscapes() {
        let w = XMLWriter(root: "R", namespace: "urn:x") { $0.element("Value", "a<b & \"c\"") }
        #expect(String(decoding: w.data, as: UTF8.self).hasSuffix("<R xmlns=\"urn:x\"><Value>a&lt;b &amp; &quot;c&quot;</Value></R>"))
    }

    @Test func timestampsWithMicrosecondsParse() throws {
        let d = try #require(XMLNode.parseTimestamp("2024-05-01T12:00:00.123456Z"))
        #expect(abs(d.timeIntervalSince1970 - 1_714_564_800.123) < 0.01)
        #expect(XMLNode.parseTimestamp("2024-05-01T12:00:00Z") != nil)
    }
}

@Suite struct ErrorParsingTests {
    @Test func queryShape() {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance db9 not found.</Message></Error><RequestId>abc-123</RequestId></ErrorResponse>"
        let e = AWSError.parse(body: Data(body.utf8), statusCode: 404, headers: [], operation: "rds:DescribeDBInstances")
        #expect(e.code == AWSErrorCode.dbInstanceNotFound)
        #expect(e.message == "DBInstance db9 not found.")
        #expect(e.statusCode == 404)
        #expect(e.requestID == "abc-123")
        #expect(!e.isRetryable)
    }

    @Test func restXMLShapeWithNamespace() {
        let body = """
        <?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code><message>No hosted zone found with ID: Z1</message></Error><RequestId>rid</RequestId></ErrorResponse>
        """
        let e = AWSError.parse(body: Data(body.utf8), statusCode: 404, headers: [], operation: "route53:GetHostedZone")
        #expect(e.code == AWSErrorCode.noSuchHostedZone)
        #expect(e.message == "No hosted zone found with ID: Z1")
        #expect(e.requestID == "rid")
    }

    @Test func route53InvalidChangeBatchShape() {
        let body = "<InvalidChangeBatch xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Messages><Message>Tried to create resource record set but it already exists</Message></Messages><RequestId>r9</RequestId></InvalidChangeBatch>"
        let e = AWSError.parse(body: Data(body.utf8), statusCode: 400, headers: [], operation: "route53:ChangeResourceRecordSets")
        #expect(e.code == AWSErrorCode.invalidChangeBatch)
        #expect(e.message.contains("already exists"))
        #expect(e.requestID == "r9")
    }

    @Test func ec2Shape() {
        let body = "<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code><Message>The subnet ID 'subnet-1' does not exist</Message></Error></Errors><RequestID>e1</RequestID></Response>"
        let e = AWSError.parse(body: Data(body.utf8), statusCode: 400, headers: [], operation: "ec2:DescribeSubnets")
        #expect(e.code == "InvalidSubnetID.NotFound")
        #expect(e.requestID == "e1")
    }

    @Test func htmlServerErrorDoesNotCrashAndIsRetryable() {
        let body = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\"><title>500 Internal Server Error</title><h1>Internal Server Error</h1><p>The server encountered an internal error"
        let e = AWSError.parse(body: Data(body.utf8), statusCode: 500, headers: [("X-Amzn-RequestId", "hdr-id")], operation: "rds:StartDBInstanceAutomatedBackupsReplication")
        #expect(e.code == "InternalFailure")
        #expect(e.statusCode == 500)
        #expect(e.requestID == "hdr-id")
        #expect(e.message.contains("Internal Server Error"))
        #expect(e.isRetryable)
    }

    @Test func throttlingCodesAreRetryable() {
        for code in ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "PriorRequestNotComplete"] {
            #expect(AWSError(code: code, message: "", statusCode: 400, requestID: nil).isRetryable, "\(code)")
        }
        #expect(!AWSError(code: "DBInstanceAlreadyExists", message: "", statusCode: 400, requestID: nil).isRetryable)
    }
}
