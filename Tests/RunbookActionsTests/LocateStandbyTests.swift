import Foundation
@testable import RunbookActions
@testable import RunbookAWS
import RunbookEngine
import Testing

/// `aws.rds.locate-standby` when a region does not answer: the emulator serves every region from one process, so a
/// region that is down is given to the decision directly. The replica's XML is an RDS DescribeDBInstances member as
/// the API reference documents it (a cross-region replica names its source by ARN).
@Suite struct LocateStandbyTests {
    static func replica(_ identifier: String, region: String, source: String) throws -> RDS.DBInstance {
        let xml = """
            <DBInstance><DBInstanceIdentifier>\(identifier)</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>
            <DBInstanceArn>arn:aws:rds:\(region):123456789012:db:\(identifier)</DBInstanceArn>
            <ReadReplicaSourceDBInstanceIdentifier>\(source)</ReadReplicaSourceDBInstanceIdentifier></DBInstance>
            """
        return RDS.DBInstance(try #require(XMLNode.parse(Data(xml.utf8))))
    }

    @Test("the writer's region is down: the standby is found, and its writer named from the replica's source ARN")
    func theWritersRegionDoesNotAnswer() throws {
        let standby = try Self.replica("fin-replica", region: "us-west-2", source: "arn:aws:rds:us-east-1:123456789012:db:fin")
        let outputs = try LocateStandbyAction.outputs([
            .init(identifier: "fin", region: "us-east-1", db: nil, unreachable: "connect to rds.us-east-1.amazonaws.com timed out"),
            .init(identifier: "fin-replica", region: "us-west-2", db: standby, unreachable: nil),
        ], deployment: "fin")
        #expect(outputs["standby_identifier"] == "fin-replica" && outputs["standby_region"] == "us-west-2", "\(outputs)")
        #expect(outputs["writer_identifier"] == "fin" && outputs["writer_region"] == "us-east-1", "\(outputs)")
        #expect(outputs["writer_answered"] == "false" && outputs["writer_state"]?.hasPrefix("unreachable (connect to") == true, "\(outputs)")
    }

    @Test("the standby's region is down and the other slot is a writer: no standby to promote, a retryable failure naming both")
    func theStandbysRegionDoesNotAnswer() throws {
        let writer = RDS.DBInstance(try #require(XMLNode.parse(Data("""
            <DBInstance><DBInstanceIdentifier>fin</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus></DBInstance>
            """.utf8))))
        let failure = #expect(throws: ActionFailure.self) {
            try LocateStandbyAction.outputs([
                .init(identifier: "fin", region: "us-east-1", db: writer, unreachable: nil),
                .init(identifier: "fin-replica", region: "us-west-2", db: nil, unreachable: "connection refused"),
            ], deployment: "fin")
        }
        #expect(failure?.retryable == true, "a region that does not answer may answer on the next attempt")
        #expect(failure?.message.contains("fin-replica in us-west-2: unreachable (connection refused)") == true, "\(String(describing: failure))")
        #expect(failure?.message.contains("fin in us-east-1: available, standalone") == true, "\(String(describing: failure))")
    }
}
