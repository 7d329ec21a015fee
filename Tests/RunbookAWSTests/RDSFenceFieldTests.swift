import Foundation
import Testing
@testable import RunbookAWS

@Suite struct RDSFenceFieldTests {
    @Test func dbInstanceDecodesEndpointSecretParameterAndSecurityGroups() throws {
        let xml = """
        <DBInstance>
          <DBInstanceIdentifier>financial-db</DBInstanceIdentifier><DBInstanceStatus>modifying</DBInstanceStatus>
          <MasterUsername>dbadmin</MasterUsername><IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled>
          <Endpoint><Address>financial-db.c1.us-east-1.rds.amazonaws.com</Address><Port>5432</Port><HostedZoneId>Z2R2</HostedZoneId></Endpoint>
          <MasterUserSecret><SecretArn>arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf</SecretArn>
            <SecretStatus>active</SecretStatus><KmsKeyId>arn:aws:kms:us-east-1:123456789012:key/k</KmsKeyId></MasterUserSecret>
          <DBParameterGroups>
            <DBParameterGroup><DBParameterGroupName>fin-fence-pg</DBParameterGroupName><ParameterApplyStatus>applying</ParameterApplyStatus></DBParameterGroup>
          </DBParameterGroups>
          <VpcSecurityGroups>
            <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0fence</VpcSecurityGroupId><Status>adding</Status></VpcSecurityGroupMembership>
            <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0app</VpcSecurityGroupId><Status>removing</Status></VpcSecurityGroupMembership>
          </VpcSecurityGroups>
        </DBInstance>
        """
        let db = RDS.DBInstance(try #require(XMLNode.parse(Data(xml.utf8))))
        #expect(db.endpointAddress == "financial-db.c1.us-east-1.rds.amazonaws.com")
        #expect(db.endpointPort == 5432)
        #expect(db.masterUserSecretARN == "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf")
        #expect(db.masterUserSecretStatus == "active")
        #expect(db.masterUsername == "dbadmin")
        #expect(db.iamDatabaseAuthenticationEnabled)
        #expect(db.parameterGroups.map(\.name) == ["fin-fence-pg"])
        #expect(db.parameterGroups.map(\.status) == ["applying"])
        #expect(db.vpcSecurityGroups == [.init(id: "sg-0fence", status: "adding"), .init(id: "sg-0app", status: "removing")])
    }

    @Test func absentFieldsDecodeAsEmpty() throws {
        let db = RDS.DBInstance(try #require(XMLNode.parse(Data("<DBInstance><DBInstanceIdentifier>x</DBInstanceIdentifier></DBInstance>".utf8))))
        #expect(db.masterUserSecretARN == nil)
        #expect(db.vpcSecurityGroups.isEmpty)
        #expect(!db.iamDatabaseAuthenticationEnabled)
    }
}
