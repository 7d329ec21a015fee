import Foundation

// Acceptors as defined by botocore's rds/2014-10-31/waiters-2.json and route53/2013-04-01/waiters-2.json.

extension RDS {
    /// `DBInstanceAvailable`: success when every instance is `available`; fails fast on
    /// deleted, deleting, failed, incompatible-restore, incompatible-parameters. AWS: 30 s × 60.
    public func dbInstanceAvailableWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        let path = "DBInstances[].DBInstanceStatus"
        let statuses: @Sendable (AWSPage<DBInstance>) -> [String] = { $0.items.map(\.status) }
        var acceptors = [WaiterAcceptor<AWSPage<DBInstance>>(.success, .pathAll(path, statuses), expected: "available")]
        for bad in ["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"] {
            acceptors.append(.init(.failure, .pathAny(path, statuses), expected: bad))
        }
        return AWSWaiter(name: "DBInstanceAvailable", delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                         operation: { try await describeDBInstances(identifier: identifier) },
                         observe: RDS.observeInstances)
    }

    /// `DBInstanceDeleted`: success when none is left or `DBInstanceNotFound`; fails on
    /// creating, modifying, rebooting, resetting-master-credentials.
    public func dbInstanceDeletedWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        let path = "DBInstances[].DBInstanceStatus"
        let statuses: @Sendable (AWSPage<DBInstance>) -> [String] = { $0.items.map(\.status) }
        var acceptors: [WaiterAcceptor<AWSPage<DBInstance>>] = [
            .init(.success, .path("length(DBInstances) == `0`", { String($0.items.isEmpty) }), expected: "true"),
            .init(.success, .error, expected: AWSErrorCode.dbInstanceNotFound),
        ]
        for bad in ["creating", "modifying", "rebooting", "resetting-master-credentials"] {
            acceptors.append(.init(.failure, .pathAny(path, statuses), expected: bad))
        }
        return AWSWaiter(name: "DBInstanceDeleted", delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                         operation: { try await describeDBInstances(identifier: identifier) },
                         observe: RDS.observeInstances)
    }

    /// `DBSnapshotAvailable`.
    public func dbSnapshotAvailableWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        let path = "DBSnapshots[].Status"
        let statuses: @Sendable (AWSPage<DBSnapshot>) -> [String] = { $0.items.map(\.status) }
        var acceptors = [WaiterAcceptor<AWSPage<DBSnapshot>>(.success, .pathAll(path, statuses), expected: "available")]
        for bad in ["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"] {
            acceptors.append(.init(.failure, .pathAny(path, statuses), expected: bad))
        }
        return AWSWaiter(name: "DBSnapshotAvailable", delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                         operation: { try await describeDBSnapshots(snapshotIdentifier: snapshotIdentifier) },
                         observe: RDS.observeSnapshots)
    }

    /// `DBSnapshotDeleted`.
    public func dbSnapshotDeletedWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        let path = "DBSnapshots[].Status"
        let statuses: @Sendable (AWSPage<DBSnapshot>) -> [String] = { $0.items.map(\.status) }
        var acceptors: [WaiterAcceptor<AWSPage<DBSnapshot>>] = [
            .init(.success, .path("length(DBSnapshots) == `0`", { String($0.items.isEmpty) }), expected: "true"),
            .init(.success, .error, expected: AWSErrorCode.dbSnapshotNotFound),
        ]
        for bad in ["creating", "modifying", "rebooting", "resetting-master-credentials"] {
            acceptors.append(.init(.failure, .pathAny(path, statuses), expected: bad))
        }
        return AWSWaiter(name: "DBSnapshotDeleted", delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                         operation: { try await describeDBSnapshots(snapshotIdentifier: snapshotIdentifier) },
                         observe: RDS.observeSnapshots)
    }

    @Sendable static func observeInstances(_ page: AWSPage<DBInstance>) -> String {
        page.items.isEmpty ? "no instances" : page.items.map { "\($0.identifier)=\($0.status)" }.joined(separator: ", ")
    }

    @Sendable static func observeSnapshots(_ page: AWSPage<DBSnapshot>) -> String {
        page.items.isEmpty ? "no snapshots" : page.items.map { "\($0.identifier)=\($0.status)" }.joined(separator: ", ")
    }
}

extension Route53 {
    /// `ResourceRecordSetsChanged`: GetChange until `ChangeInfo.Status` is `INSYNC`. AWS: 30 s × 60.
    public func resourceRecordSetsChangedWaiter(changeID: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<ChangeInfo> {
        AWSWaiter(name: "ResourceRecordSetsChanged", delay: delay, maxAttempts: maxAttempts,
                  acceptors: [.init(.success, .path("ChangeInfo.Status", { $0.status }), expected: "INSYNC")],
                  operation: { try await getChange(id: changeID) },
                  observe: { "\($0.id)=\($0.status)" })
    }
}
