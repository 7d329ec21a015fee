import Foundation

/// Amazon RDS (Query, 2014-10-31) in one region: the operations the DR runbooks use.
public struct RDS: QueryService {
    static let service = AWSService.rds
    let client: AWSClient
    public let region: String
    var callRegion: String? { region }

    /// One page of a `Describe…` call: `filters`, then `MaxRecords` and `Marker`; the items of `list` decoded.
    func describe<Item: Sendable>(_ action: String, _ filters: QueryParameters, list: String, maxRecords: Int?, marker: String?,
                                  _ decode: (XMLNode) -> Item) async throws -> AWSPage<Item> {
        var p = filters
        p.set("MaxRecords", maxRecords)
        p.set("Marker", marker)
        let r = try await call(action, p, idempotent: true)
        return AWSPage(items: r.list(list).map(decode), nextToken: r.string("Marker"))
    }

    static func require(_ value: String?, _ name: String, _ action: String) throws {
        guard let value, !value.isEmpty else {
            throw AWSValidationError(operation: "rds:\(action)", message: "\(name) is required")
        }
    }

    // MARK: Parameter groups

    public struct DBParameterGroup: Sendable, Equatable {
        public var name: String
        public var family: String
        public var description: String
        public var arn: String?
        init(_ n: XMLNode) {
            name = n.string("DBParameterGroupName") ?? ""
            family = n.string("DBParameterGroupFamily") ?? ""
            description = n.string("Description") ?? ""
            arn = n.string("DBParameterGroupArn")
        }
    }

    /// `CreateDBParameterGroup`. Not idempotent (a replay answers AlreadyExists).
    public func createDBParameterGroup(name: String, family: String, description: String, tags: [AWSTag] = []) async throws -> DBParameterGroup {
        try RDS.require(name, "DBParameterGroupName", "CreateDBParameterGroup")
        var p = QueryParameters()
        p.set("DBParameterGroupName", name)
        p.set("DBParameterGroupFamily", family)
        p.set("Description", description)
        p.setTags("Tags.Tag", tags)
        return try await answer("CreateDBParameterGroup", p, idempotent: false)
    }

    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String?
        public var applyMethod: String?
        public var source: String?
        public var applyType: String?
        public var isModifiable: Bool?
        public init(name: String, value: String?, applyMethod: String? = "immediate") {
            self.name = name
            self.value = value
            self.applyMethod = applyMethod
        }
        init(_ n: XMLNode) {
            name = n.string("ParameterName") ?? ""
            value = n.string("ParameterValue")
            applyMethod = n.string("ApplyMethod")
            source = n.string("Source")
            applyType = n.string("ApplyType")
            isModifiable = n.bool("IsModifiable")
        }
    }

    /// `ModifyDBParameterGroup` (up to 20 parameters per call). Idempotent: setting values again is harmless.
    public func modifyDBParameterGroup(name: String, parameters: [Parameter]) async throws {
        try RDS.require(name, "DBParameterGroupName", "ModifyDBParameterGroup")
        var p = QueryParameters()
        p.set("DBParameterGroupName", name)
        p.setList("Parameters.Parameter", parameters) { param, q in
            q.set("ParameterName", param.name)
            q.set("ParameterValue", param.value)
            q.set("ApplyMethod", param.applyMethod)
        }
        _ = try await call("ModifyDBParameterGroup", p, idempotent: true)
    }

    /// `DescribeDBParameters`, one page; `source` is `user`, `system` or `engine-default`.
    public func describeDBParameters(name: String, source: String? = nil, maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<Parameter> {
        try await describe("DescribeDBParameters", ["DBParameterGroupName": name, "Source": source], list: "Parameters",
                           maxRecords: maxRecords, marker: marker, Parameter.init)
    }

    /// Every parameter (all pages).
    public func describeAllDBParameters(name: String, source: String? = nil, maxRecords: Int? = nil) async throws -> [Parameter] {
        try await collectAllPages { try await describeDBParameters(name: name, source: source, maxRecords: maxRecords, marker: $0) }
    }

    /// `DescribeDBParameterGroups`, one page.
    public func describeDBParameterGroups(name: String? = nil, maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<DBParameterGroup> {
        try await describe("DescribeDBParameterGroups", ["DBParameterGroupName": name], list: "DBParameterGroups",
                           maxRecords: maxRecords, marker: marker, DBParameterGroup.init)
    }

    /// One parameter group; throws `DBParameterGroupNotFound` if absent (also when an emulator
    /// answers an empty list instead of the error).
    public func describeDBParameterGroup(name: String) async throws -> DBParameterGroup {
        try RDS.require(name, "DBParameterGroupName", "DescribeDBParameterGroups")
        guard let group = try await describeDBParameterGroups(name: name).items.first(where: { $0.name == name }) else {
            throw AWSError(code: AWSErrorCode.dbParameterGroupNotFound, message: "DBParameterGroup \(name) not found.", statusCode: 404,
                           requestID: nil, operation: "rds:DescribeDBParameterGroups")
        }
        return group
    }

    /// `DeleteDBParameterGroup`.
    public func deleteDBParameterGroup(name: String) async throws {
        try RDS.require(name, "DBParameterGroupName", "DeleteDBParameterGroup")
        _ = try await call("DeleteDBParameterGroup", ["DBParameterGroupName": name], idempotent: false)
    }

    // MARK: Subnet groups

    public struct DBSubnetGroup: Sendable, Equatable {
        public var name: String
        public var description: String
        public var vpcID: String?
        public var status: String?
        public var subnetIDs: [String]
        public var arn: String?
        init(_ n: XMLNode) {
            name = n.string("DBSubnetGroupName") ?? ""
            description = n.string("DBSubnetGroupDescription") ?? ""
            vpcID = n.string("VpcId")
            status = n.string("SubnetGroupStatus")
            subnetIDs = n.list("Subnets").compactMap { $0.string("SubnetIdentifier") }
            arn = n.string("DBSubnetGroupArn")
        }
    }

    /// `CreateDBSubnetGroup`.
    public func createDBSubnetGroup(name: String, description: String, subnetIDs: [String], tags: [AWSTag] = []) async throws -> DBSubnetGroup {
        try RDS.require(name, "DBSubnetGroupName", "CreateDBSubnetGroup")
        var p = QueryParameters()
        p.set("DBSubnetGroupName", name)
        p.set("DBSubnetGroupDescription", description)
        p.setList("SubnetIds.SubnetIdentifier", subnetIDs)
        p.setTags("Tags.Tag", tags)
        return try await answer("CreateDBSubnetGroup", p, idempotent: false)
    }

    /// `DescribeDBSubnetGroups`, one page.
    public func describeDBSubnetGroups(name: String? = nil, maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<DBSubnetGroup> {
        try await describe("DescribeDBSubnetGroups", ["DBSubnetGroupName": name], list: "DBSubnetGroups",
                           maxRecords: maxRecords, marker: marker, DBSubnetGroup.init)
    }

    /// `DeleteDBSubnetGroup`.
    public func deleteDBSubnetGroup(name: String) async throws {
        try RDS.require(name, "DBSubnetGroupName", "DeleteDBSubnetGroup")
        _ = try await call("DeleteDBSubnetGroup", ["DBSubnetGroupName": name], idempotent: false)
    }

    // MARK: Instances

    /// A VPC security group an instance is in, with its status (`active`, `adding`, `removing`…).
    public struct VpcSecurityGroupMembership: Sendable, Equatable, Hashable {
        public var id: String
        public var status: String
    }

    public struct DBInstance: Sendable, Equatable {
        public var identifier: String
        public var status: String
        public var arn: String?
        public var engine: String?
        public var engineVersion: String?
        public var instanceClass: String?
        public var availabilityZone: String?
        public var secondaryAvailabilityZone: String?
        public var multiAZ: Bool
        public var endpointAddress: String?
        public var endpointPort: Int?
        public var readReplicaSourceDBInstanceIdentifier: String?
        public var readReplicaDBInstanceIdentifiers: [String]
        public var deletionProtection: Bool
        public var storageEncrypted: Bool
        public var backupRetentionPeriod: Int?
        public var dbSubnetGroupName: String?
        /// Parameter group names with their apply status (`in-sync`, `applying`, `pending-reboot`).
        public var parameterGroups: [(name: String, status: String)]
        public var vpcSecurityGroups: [VpcSecurityGroupMembership]
        /// The Secrets Manager secret holding the master password when RDS manages it
        /// (`ManageMasterUserPassword`); read it with ``SecretsManager/rdsMasterCredentials(secretID:versionStage:)``.
        public var masterUserSecretARN: String?
        /// The managed secret's status: `creating`, `active`, `rotating` or `impaired`.
        public var masterUserSecretStatus: String?
        public var masterUsername: String?
        /// Whether IAM database authentication (``RDSAuthToken``) is on.
        public var iamDatabaseAuthenticationEnabled: Bool
        public var tags: [AWSTag]
        public var dbiResourceID: String?

        init(_ n: XMLNode) {
            identifier = n.string("DBInstanceIdentifier") ?? ""
            status = n.string("DBInstanceStatus") ?? ""
            arn = n.string("DBInstanceArn")
            engine = n.string("Engine")
            engineVersion = n.string("EngineVersion")
            instanceClass = n.string("DBInstanceClass")
            availabilityZone = n.string("AvailabilityZone")
            secondaryAvailabilityZone = n.string("SecondaryAvailabilityZone")
            multiAZ = n.bool("MultiAZ") ?? false
            endpointAddress = n.string("Endpoint/Address")
            endpointPort = n.int("Endpoint/Port")
            readReplicaSourceDBInstanceIdentifier = n.string("ReadReplicaSourceDBInstanceIdentifier")
            readReplicaDBInstanceIdentifiers = n.list("ReadReplicaDBInstanceIdentifiers").map(\.text)
            deletionProtection = n.bool("DeletionProtection") ?? false
            storageEncrypted = n.bool("StorageEncrypted") ?? false
            backupRetentionPeriod = n.int("BackupRetentionPeriod")
            dbSubnetGroupName = n.string("DBSubnetGroup/DBSubnetGroupName")
            parameterGroups = n.list("DBParameterGroups").map { ($0.string("DBParameterGroupName") ?? "", $0.string("ParameterApplyStatus") ?? "") }
            vpcSecurityGroups = n.list("VpcSecurityGroups").map {
                VpcSecurityGroupMembership(id: $0.string("VpcSecurityGroupId") ?? "", status: $0.string("Status") ?? "")
            }
            masterUserSecretARN = n.string("MasterUserSecret/SecretArn")
            masterUserSecretStatus = n.string("MasterUserSecret/SecretStatus")
            masterUsername = n.string("MasterUsername")
            iamDatabaseAuthenticationEnabled = n.bool("IAMDatabaseAuthenticationEnabled") ?? false
            tags = n.list("TagList").map(AWSTag.decode)
            dbiResourceID = n.string("DbiResourceId")
        }

        public static func == (a: DBInstance, b: DBInstance) -> Bool {
            a.identifier == b.identifier && a.status == b.status && a.arn == b.arn && a.availabilityZone == b.availabilityZone
                && a.secondaryAvailabilityZone == b.secondaryAvailabilityZone && a.multiAZ == b.multiAZ
                && a.readReplicaSourceDBInstanceIdentifier == b.readReplicaSourceDBInstanceIdentifier
                && a.readReplicaDBInstanceIdentifiers == b.readReplicaDBInstanceIdentifiers && a.deletionProtection == b.deletionProtection
                && a.tags == b.tags && a.parameterGroups.map(\.name) == b.parameterGroups.map(\.name)
                && a.parameterGroups.map(\.status) == b.parameterGroups.map(\.status) && a.vpcSecurityGroups == b.vpcSecurityGroups
                && a.endpointAddress == b.endpointAddress && a.endpointPort == b.endpointPort && a.masterUserSecretARN == b.masterUserSecretARN
        }
    }

    /// Fields of `CreateDBInstance` used by the runbooks.
    public struct CreateDBInstanceRequest: Sendable {
        public var identifier: String
        public var instanceClass: String
        public var engine: String
        public var engineVersion: String?
        public var masterUsername: String?
        /// Sent to AWS only; never logged.
        public var masterUserPassword: String?
        public var manageMasterUserPassword: Bool?
        public var allocatedStorage: Int?
        public var storageType: String?
        public var storageEncrypted: Bool?
        public var multiAZ: Bool?
        public var dbSubnetGroupName: String?
        public var vpcSecurityGroupIDs: [String]?
        public var dbParameterGroupName: String?
        public var backupRetentionPeriod: Int?
        public var preferredBackupWindow: String?
        public var preferredMaintenanceWindow: String?
        public var enablePerformanceInsights: Bool?
        public var performanceInsightsRetentionPeriod: Int?
        public var monitoringInterval: Int?
        public var monitoringRoleARN: String?
        public var deletionProtection: Bool?
        public var publiclyAccessible: Bool?
        public var availabilityZone: String?
        public var enableIAMDatabaseAuthentication: Bool?
        public var tags: [AWSTag]
        public init(identifier: String, instanceClass: String, engine: String, tags: [AWSTag] = []) {
            self.identifier = identifier
            self.instanceClass = instanceClass
            self.engine = engine
            self.tags = tags
        }
    }

    /// `CreateDBInstance`. Not idempotent: a replay answers `DBInstanceAlreadyExists`.
    public func createDBInstance(_ r: CreateDBInstanceRequest) async throws -> DBInstance {
        try RDS.require(r.identifier, "DBInstanceIdentifier", "CreateDBInstance")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", r.identifier)
        p.set("DBInstanceClass", r.instanceClass)
        p.set("Engine", r.engine)
        p.set("EngineVersion", r.engineVersion)
        p.set("MasterUsername", r.masterUsername)
        p.set("MasterUserPassword", r.masterUserPassword)
        p.set("ManageMasterUserPassword", r.manageMasterUserPassword)
        p.set("AllocatedStorage", r.allocatedStorage)
        p.set("StorageType", r.storageType)
        p.set("StorageEncrypted", r.storageEncrypted)
        p.set("MultiAZ", r.multiAZ)
        p.set("DBSubnetGroupName", r.dbSubnetGroupName)
        p.setList("VpcSecurityGroupIds.VpcSecurityGroupId", r.vpcSecurityGroupIDs)
        p.set("DBParameterGroupName", r.dbParameterGroupName)
        p.set("BackupRetentionPeriod", r.backupRetentionPeriod)
        p.set("PreferredBackupWindow", r.preferredBackupWindow)
        p.set("PreferredMaintenanceWindow", r.preferredMaintenanceWindow)
        p.set("EnablePerformanceInsights", r.enablePerformanceInsights)
        p.set("PerformanceInsightsRetentionPeriod", r.performanceInsightsRetentionPeriod)
        p.set("MonitoringInterval", r.monitoringInterval)
        p.set("MonitoringRoleArn", r.monitoringRoleARN)
        p.set("DeletionProtection", r.deletionProtection)
        p.set("PubliclyAccessible", r.publiclyAccessible)
        p.set("AvailabilityZone", r.availabilityZone)
        p.set("EnableIAMDatabaseAuthentication", r.enableIAMDatabaseAuthentication)
        p.setTags("Tags.Tag", r.tags)
        return try await answer("CreateDBInstance", p, idempotent: false)
    }

    /// Fields of `CreateDBInstanceReadReplica`; for a cross-region replica call it in the target
    /// region with the source's ARN and `sourceRegion`.
    public struct CreateDBInstanceReadReplicaRequest: Sendable {
        public var identifier: String
        public var sourceDBInstanceIdentifier: String
        public var sourceRegion: String?
        public var instanceClass: String?
        public var storageEncrypted: Bool?
        public var kmsKeyID: String?
        public var multiAZ: Bool?
        public var dbSubnetGroupName: String?
        public var vpcSecurityGroupIDs: [String]?
        public var dbParameterGroupName: String?
        public var enablePerformanceInsights: Bool?
        public var performanceInsightsRetentionPeriod: Int?
        public var monitoringInterval: Int?
        public var monitoringRoleARN: String?
        public var deletionProtection: Bool?
        public var tags: [AWSTag]
        public init(identifier: String, sourceDBInstanceIdentifier: String, sourceRegion: String? = nil, tags: [AWSTag] = []) {
            self.identifier = identifier
            self.sourceDBInstanceIdentifier = sourceDBInstanceIdentifier
            self.sourceRegion = sourceRegion
            self.tags = tags
        }
    }

    /// `CreateDBInstanceReadReplica`. Not idempotent.
    public func createDBInstanceReadReplica(_ r: CreateDBInstanceReadReplicaRequest) async throws -> DBInstance {
        try RDS.require(r.identifier, "DBInstanceIdentifier", "CreateDBInstanceReadReplica")
        try RDS.require(r.sourceDBInstanceIdentifier, "SourceDBInstanceIdentifier", "CreateDBInstanceReadReplica")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", r.identifier)
        p.set("SourceDBInstanceIdentifier", r.sourceDBInstanceIdentifier)
        p.set("SourceRegion", r.sourceRegion)
        p.set("DBInstanceClass", r.instanceClass)
        p.set("StorageEncrypted", r.storageEncrypted)
        p.set("KmsKeyId", r.kmsKeyID)
        p.set("MultiAZ", r.multiAZ)
        p.set("DBSubnetGroupName", r.dbSubnetGroupName)
        p.setList("VpcSecurityGroupIds.VpcSecurityGroupId", r.vpcSecurityGroupIDs)
        p.set("DBParameterGroupName", r.dbParameterGroupName)
        p.set("EnablePerformanceInsights", r.enablePerformanceInsights)
        p.set("PerformanceInsightsRetentionPeriod", r.performanceInsightsRetentionPeriod)
        p.set("MonitoringInterval", r.monitoringInterval)
        p.set("MonitoringRoleArn", r.monitoringRoleARN)
        p.set("DeletionProtection", r.deletionProtection)
        p.setTags("Tags.Tag", r.tags)
        return try await answer("CreateDBInstanceReadReplica", p, idempotent: false)
    }

    /// `DescribeDBInstances`, one page (identifier may be a name or an ARN).
    public func describeDBInstances(identifier: String? = nil, maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<DBInstance> {
        try await describe("DescribeDBInstances", ["DBInstanceIdentifier": identifier], list: "DBInstances",
                           maxRecords: maxRecords, marker: marker, DBInstance.init)
    }

    /// One instance; throws `DBInstanceNotFound` if absent.
    public func describeDBInstance(identifier: String) async throws -> DBInstance {
        try RDS.require(identifier, "DBInstanceIdentifier", "DescribeDBInstances")
        guard let first = try await describeDBInstances(identifier: identifier).items.first else {
            throw AWSError(code: AWSErrorCode.dbInstanceNotFound, message: "DBInstance \(identifier) not found.", statusCode: 404, requestID: nil, operation: "rds:DescribeDBInstances")
        }
        return first
    }

    /// Fields of `ModifyDBInstance` used by the runbooks.
    public struct ModifyDBInstanceRequest: Sendable {
        public var identifier: String
        public var applyImmediately: Bool?
        public var deletionProtection: Bool?
        public var backupRetentionPeriod: Int?
        public var multiAZ: Bool?
        public var instanceClass: String?
        public var dbParameterGroupName: String?
        /// Replaces the instance's VPC security groups with these.
        public var vpcSecurityGroupIDs: [String]?
        public var monitoringInterval: Int?
        public var monitoringRoleARN: String?
        public var enablePerformanceInsights: Bool?
        public var enableIAMDatabaseAuthentication: Bool?
        /// true: RDS keeps the master password in Secrets Manager; false: stops doing so (then set `masterUserPassword`).
        public var manageMasterUserPassword: Bool?
        /// Sent to AWS only; never logged.
        public var masterUserPassword: String?
        /// Renames the instance (its endpoint changes with it).
        public var newIdentifier: String?
        public init(identifier: String, applyImmediately: Bool? = nil, deletionProtection: Bool? = nil) {
            self.identifier = identifier
            self.applyImmediately = applyImmediately
            self.deletionProtection = deletionProtection
        }
    }

    /// `ModifyDBInstance`. Idempotent: applying the same settings twice has the same result.
    public func modifyDBInstance(_ r: ModifyDBInstanceRequest) async throws -> DBInstance {
        try RDS.require(r.identifier, "DBInstanceIdentifier", "ModifyDBInstance")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", r.identifier)
        p.set("ApplyImmediately", r.applyImmediately)
        p.set("DeletionProtection", r.deletionProtection)
        p.set("BackupRetentionPeriod", r.backupRetentionPeriod)
        p.set("MultiAZ", r.multiAZ)
        p.set("DBInstanceClass", r.instanceClass)
        p.set("DBParameterGroupName", r.dbParameterGroupName)
        p.setList("VpcSecurityGroupIds.VpcSecurityGroupId", r.vpcSecurityGroupIDs)
        p.set("MonitoringInterval", r.monitoringInterval)
        p.set("MonitoringRoleArn", r.monitoringRoleARN)
        p.set("EnablePerformanceInsights", r.enablePerformanceInsights)
        p.set("EnableIAMDatabaseAuthentication", r.enableIAMDatabaseAuthentication)
        p.set("ManageMasterUserPassword", r.manageMasterUserPassword)
        p.set("MasterUserPassword", r.masterUserPassword)
        p.set("NewDBInstanceIdentifier", r.newIdentifier)
        return try await answer("ModifyDBInstance", p, idempotent: true)
    }

    /// `DeleteDBInstance`. Give either `skipFinalSnapshot: true` or a final snapshot identifier.
    public func deleteDBInstance(identifier: String, skipFinalSnapshot: Bool, finalDBSnapshotIdentifier: String? = nil,
                                 deleteAutomatedBackups: Bool? = nil) async throws -> DBInstance {
        try RDS.require(identifier, "DBInstanceIdentifier", "DeleteDBInstance")
        if !skipFinalSnapshot && (finalDBSnapshotIdentifier ?? "").isEmpty {
            throw AWSValidationError(operation: "rds:DeleteDBInstance", message: "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is true")
        }
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", identifier)
        p.set("SkipFinalSnapshot", skipFinalSnapshot)
        p.set("FinalDBSnapshotIdentifier", finalDBSnapshotIdentifier)
        p.set("DeleteAutomatedBackups", deleteAutomatedBackups)
        return try await answer("DeleteDBInstance", p, idempotent: false)
    }

    /// `RebootDBInstance`; `forceFailover` fails a Multi-AZ instance over to its standby.
    public func rebootDBInstance(identifier: String, forceFailover: Bool? = nil) async throws -> DBInstance {
        try RDS.require(identifier, "DBInstanceIdentifier", "RebootDBInstance")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", identifier)
        p.set("ForceFailover", forceFailover)
        return try await answer("RebootDBInstance", p, idempotent: false)
    }

    /// `PromoteReadReplica`.
    public func promoteReadReplica(identifier: String, backupRetentionPeriod: Int? = nil, preferredBackupWindow: String? = nil) async throws -> DBInstance {
        try RDS.require(identifier, "DBInstanceIdentifier", "PromoteReadReplica")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", identifier)
        p.set("BackupRetentionPeriod", backupRetentionPeriod)
        p.set("PreferredBackupWindow", preferredBackupWindow)
        return try await answer("PromoteReadReplica", p, idempotent: false)
    }

    // MARK: Snapshots

    public struct DBSnapshot: Sendable, Equatable {
        public var identifier: String
        public var instanceIdentifier: String
        public var status: String
        public var arn: String?
        public var snapshotType: String?
        public var engine: String?
        public var createdAt: Date?
        public var encrypted: Bool
        init(_ n: XMLNode) {
            encrypted = n.bool("Encrypted") ?? false
            identifier = n.string("DBSnapshotIdentifier") ?? ""
            instanceIdentifier = n.string("DBInstanceIdentifier") ?? ""
            status = n.string("Status") ?? ""
            arn = n.string("DBSnapshotArn")
            snapshotType = n.string("SnapshotType")
            engine = n.string("Engine")
            createdAt = n.date("SnapshotCreateTime")
        }
    }

    /// `CreateDBSnapshot`.
    public func createDBSnapshot(snapshotIdentifier: String, instanceIdentifier: String, tags: [AWSTag] = []) async throws -> DBSnapshot {
        try RDS.require(snapshotIdentifier, "DBSnapshotIdentifier", "CreateDBSnapshot")
        var p = QueryParameters()
        p.set("DBSnapshotIdentifier", snapshotIdentifier)
        p.set("DBInstanceIdentifier", instanceIdentifier)
        p.setTags("Tags.Tag", tags)
        return try await answer("CreateDBSnapshot", p, idempotent: false)
    }

    /// `DescribeDBSnapshots`, one page.
    public func describeDBSnapshots(snapshotIdentifier: String? = nil, instanceIdentifier: String? = nil, snapshotType: String? = nil,
                                    maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<DBSnapshot> {
        try await describe("DescribeDBSnapshots", ["DBSnapshotIdentifier": snapshotIdentifier, "DBInstanceIdentifier": instanceIdentifier,
                                                   "SnapshotType": snapshotType], list: "DBSnapshots", maxRecords: maxRecords, marker: marker, DBSnapshot.init)
    }

    /// Every snapshot matching the filters (all pages). Without `snapshotType` AWS returns manual and automated ones.
    public func describeAllDBSnapshots(instanceIdentifier: String? = nil, snapshotType: String? = nil) async throws -> [DBSnapshot] {
        try await collectAllPages { try await describeDBSnapshots(instanceIdentifier: instanceIdentifier, snapshotType: snapshotType, marker: $0) }
    }

    /// `CopyDBSnapshot`. For a cross-region copy call it in the destination region with the source snapshot's ARN and
    /// `sourceRegion`; an encrypted source needs a KMS key of the destination region (`kmsKeyID`, e.g. `alias/aws/rds`).
    /// Not idempotent (a replay answers DBSnapshotAlreadyExists).
    public func copyDBSnapshot(sourceSnapshotIdentifier: String, targetSnapshotIdentifier: String, sourceRegion: String? = nil,
                               kmsKeyID: String? = nil, copyTags: Bool? = nil, tags: [AWSTag] = []) async throws -> DBSnapshot {
        try RDS.require(sourceSnapshotIdentifier, "SourceDBSnapshotIdentifier", "CopyDBSnapshot")
        try RDS.require(targetSnapshotIdentifier, "TargetDBSnapshotIdentifier", "CopyDBSnapshot")
        var p = QueryParameters()
        p.set("SourceDBSnapshotIdentifier", sourceSnapshotIdentifier)
        p.set("TargetDBSnapshotIdentifier", targetSnapshotIdentifier)
        p.set("KmsKeyId", kmsKeyID)
        p.setTags("Tags.Tag", tags)
        p.set("CopyTags", copyTags)
        p.set("SourceRegion", sourceRegion)
        return try await answer("CopyDBSnapshot", p, idempotent: false)
    }

    /// `DeleteDBSnapshot`.
    public func deleteDBSnapshot(snapshotIdentifier: String) async throws -> DBSnapshot {
        try RDS.require(snapshotIdentifier, "DBSnapshotIdentifier", "DeleteDBSnapshot")
        return try await answer("DeleteDBSnapshot", ["DBSnapshotIdentifier": snapshotIdentifier], idempotent: false)
    }

    /// Fields of `RestoreDBInstanceFromDBSnapshot`.
    public struct RestoreDBInstanceFromDBSnapshotRequest: Sendable {
        public var identifier: String
        public var snapshotIdentifier: String
        public var instanceClass: String?
        public var multiAZ: Bool?
        public var dbSubnetGroupName: String?
        public var dbParameterGroupName: String?
        public var vpcSecurityGroupIDs: [String]?
        public var deletionProtection: Bool?
        public var tags: [AWSTag]
        public init(identifier: String, snapshotIdentifier: String, tags: [AWSTag] = []) {
            self.identifier = identifier
            self.snapshotIdentifier = snapshotIdentifier
            self.tags = tags
        }
    }

    /// `RestoreDBInstanceFromDBSnapshot`.
    public func restoreDBInstanceFromDBSnapshot(_ r: RestoreDBInstanceFromDBSnapshotRequest) async throws -> DBInstance {
        try RDS.require(r.identifier, "DBInstanceIdentifier", "RestoreDBInstanceFromDBSnapshot")
        try RDS.require(r.snapshotIdentifier, "DBSnapshotIdentifier", "RestoreDBInstanceFromDBSnapshot")
        var p = QueryParameters()
        p.set("DBInstanceIdentifier", r.identifier)
        p.set("DBSnapshotIdentifier", r.snapshotIdentifier)
        p.set("DBInstanceClass", r.instanceClass)
        p.set("MultiAZ", r.multiAZ)
        p.set("DBSubnetGroupName", r.dbSubnetGroupName)
        p.set("DBParameterGroupName", r.dbParameterGroupName)
        p.setList("VpcSecurityGroupIds.VpcSecurityGroupId", r.vpcSecurityGroupIDs)
        p.set("DeletionProtection", r.deletionProtection)
        p.setTags("Tags.Tag", r.tags)
        return try await answer("RestoreDBInstanceFromDBSnapshot", p, idempotent: false)
    }

    // MARK: Tags

    /// `AddTagsToResource` (resource by ARN). Idempotent.
    public func addTagsToResource(arn: String, tags: [AWSTag]) async throws {
        try await addTags("AddTagsToResource", ["ResourceName": arn], prefix: "Tags.Tag", tags)
    }

    /// `ListTagsForResource` (resource by ARN).
    public func listTagsForResource(arn: String) async throws -> [AWSTag] {
        try await tags("ListTagsForResource", ["ResourceName": arn], list: "TagList")
    }

    /// `RemoveTagsFromResource`. Idempotent.
    public func removeTagsFromResource(arn: String, tagKeys: [String]) async throws {
        var p: QueryParameters = ["ResourceName": arn]
        p.setList("TagKeys.member", tagKeys)
        _ = try await call("RemoveTagsFromResource", p, idempotent: true)
    }

    // MARK: Automated backups replication

    public struct DBInstanceAutomatedBackup: Sendable, Equatable {
        public var instanceIdentifier: String
        public var arn: String?
        public var status: String
        public var region: String?
        public var dbiResourceID: String?
        public var backupRetentionPeriod: Int?
        init(_ n: XMLNode) {
            instanceIdentifier = n.string("DBInstanceIdentifier") ?? ""
            arn = n.string("DBInstanceAutomatedBackupsArn")
            status = n.string("Status") ?? ""
            region = n.string("Region")
            dbiResourceID = n.string("DbiResourceId")
            backupRetentionPeriod = n.int("BackupRetentionPeriod")
        }
    }

    /// `StartDBInstanceAutomatedBackupsReplication`, called in the destination region.
    public func startDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: String, backupRetentionPeriod: Int? = nil,
                                                           kmsKeyID: String? = nil) async throws -> DBInstanceAutomatedBackup {
        try RDS.require(sourceDBInstanceARN, "SourceDBInstanceArn", "StartDBInstanceAutomatedBackupsReplication")
        var p = QueryParameters()
        p.set("SourceDBInstanceArn", sourceDBInstanceARN)
        p.set("BackupRetentionPeriod", backupRetentionPeriod)
        p.set("KmsKeyId", kmsKeyID)
        return try await answer("StartDBInstanceAutomatedBackupsReplication", p, idempotent: false)
    }

    /// `StopDBInstanceAutomatedBackupsReplication`, called in the destination region.
    public func stopDBInstanceAutomatedBackupsReplication(sourceDBInstanceARN: String) async throws -> DBInstanceAutomatedBackup {
        try RDS.require(sourceDBInstanceARN, "SourceDBInstanceArn", "StopDBInstanceAutomatedBackupsReplication")
        return try await answer("StopDBInstanceAutomatedBackupsReplication", ["SourceDBInstanceArn": sourceDBInstanceARN], idempotent: false)
    }

    /// `DescribeDBInstanceAutomatedBackups`, one page.
    public func describeDBInstanceAutomatedBackups(instanceIdentifier: String? = nil, maxRecords: Int? = nil, marker: String? = nil) async throws -> AWSPage<DBInstanceAutomatedBackup> {
        try await describe("DescribeDBInstanceAutomatedBackups", ["DBInstanceIdentifier": instanceIdentifier], list: "DBInstanceAutomatedBackups",
                           maxRecords: maxRecords, marker: marker, DBInstanceAutomatedBackup.init)
    }
}

extension RDS.DBParameterGroup: QueryAnswer { static let element = "DBParameterGroup" }
extension RDS.DBSubnetGroup: QueryAnswer { static let element = "DBSubnetGroup" }
extension RDS.DBInstance: QueryAnswer { static let element = "DBInstance" }
extension RDS.DBSnapshot: QueryAnswer { static let element = "DBSnapshot" }
extension RDS.DBInstanceAutomatedBackup: QueryAnswer { static let element = "DBInstanceAutomatedBackup" }
