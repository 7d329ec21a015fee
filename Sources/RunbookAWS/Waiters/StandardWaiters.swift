import Foundation

// Acceptors as defined by botocore's rds/2014-10-31/waiters-2.json and route53/2013-04-01/waiters-2.json, and the
// settle waiters runbook's undo and delete actions use before they modify or delete (same acceptor machinery).

extension RDS {
    /// `DBInstanceAvailable`: success when every instance is `available`; fails fast on
    /// deleted, deleting, failed, incompatible-restore, incompatible-parameters. AWS: 30 s × 60.
    public func dbInstanceAvailableWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        instanceWaiter("DBInstanceAvailable", identifier, delay, maxAttempts,
                       RDS.statusAcceptors(RDS.instanceStatusPath, { $0.status }, success: ["available"], failure: RDS.availableFailures))
    }

    /// `DBInstanceDeleted`: success when none is left or `DBInstanceNotFound`; fails on
    /// creating, modifying, rebooting, resetting-master-credentials.
    public func dbInstanceDeletedWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        instanceWaiter("DBInstanceDeleted", identifier, delay, maxAttempts,
                       RDS.goneAcceptors("DBInstances", AWSErrorCode.dbInstanceNotFound)
                           + RDS.statusAcceptors(RDS.instanceStatusPath, { $0.status }, success: [], failure: RDS.deletedFailures))
    }

    /// `DBInstanceSettled` (runbook's): success when the instance is in one of `statuses` or gone; no failure state,
    /// so it waits out every transition (an undo must reach a status that accepts ModifyDBInstance/DeleteDBInstance).
    public func dbInstanceSettledWaiter(identifier: String, statuses: [String], delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        instanceWaiter("DBInstanceSettled", identifier, delay, maxAttempts,
                       RDS.goneAcceptors("DBInstances", AWSErrorCode.dbInstanceNotFound)
                           + RDS.statusAcceptors(RDS.instanceStatusPath, { $0.status }, success: statuses, failure: []))
    }

    /// `DBSnapshotAvailable`.
    public func dbSnapshotAvailableWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        snapshotWaiter("DBSnapshotAvailable", snapshotIdentifier, delay, maxAttempts,
                       RDS.statusAcceptors(RDS.snapshotStatusPath, { $0.status }, success: ["available"], failure: RDS.availableFailures))
    }

    /// `DBSnapshotDeleted`.
    public func dbSnapshotDeletedWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        snapshotWaiter("DBSnapshotDeleted", snapshotIdentifier, delay, maxAttempts,
                       RDS.goneAcceptors("DBSnapshots", AWSErrorCode.dbSnapshotNotFound)
                           + RDS.statusAcceptors(RDS.snapshotStatusPath, { $0.status }, success: [], failure: RDS.deletedFailures))
    }

    /// `DBSnapshotSettled` (runbook's): success when the snapshot is in one of `statuses` or gone; no failure state.
    public func dbSnapshotSettledWaiter(snapshotIdentifier: String, statuses: [String], delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        snapshotWaiter("DBSnapshotSettled", snapshotIdentifier, delay, maxAttempts,
                       RDS.goneAcceptors("DBSnapshots", AWSErrorCode.dbSnapshotNotFound)
                           + RDS.statusAcceptors(RDS.snapshotStatusPath, { $0.status }, success: statuses, failure: []))
    }

    static let instanceStatusPath = "DBInstances[].DBInstanceStatus"
    static let snapshotStatusPath = "DBSnapshots[].Status"
    static let availableFailures = ["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"]
    static let deletedFailures = ["creating", "modifying", "rebooting", "resetting-master-credentials"]

    /// `pathAll` success acceptors for `success`, then `pathAny` failure acceptors for `failure`.
    static func statusAcceptors<Item: Sendable>(_ path: String, _ status: @escaping @Sendable (Item) -> String,
                                                success: [String], failure: [String]) -> [WaiterAcceptor<AWSPage<Item>>] {
        let statuses: @Sendable (AWSPage<Item>) -> [String] = { $0.items.map(status) }
        return success.map { WaiterAcceptor(.success, .pathAll(path, statuses), expected: $0) }
            + failure.map { WaiterAcceptor(.failure, .pathAny(path, statuses), expected: $0) }
    }

    /// Success when the list `listName` is empty or the describe answers `notFound`.
    static func goneAcceptors<Item: Sendable>(_ listName: String, _ notFound: String) -> [WaiterAcceptor<AWSPage<Item>>] {
        [.init(.success, .path("length(\(listName)) == `0`", { String($0.items.isEmpty) }), expected: "true"),
         .init(.success, .error, expected: notFound)]
    }

    func instanceWaiter(_ name: String, _ identifier: String, _ delay: Duration, _ maxAttempts: Int,
                        _ acceptors: [WaiterAcceptor<AWSPage<DBInstance>>]) -> AWSWaiter<AWSPage<DBInstance>> {
        AWSWaiter(name: name, delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                  operation: { try await describeDBInstances(identifier: identifier) }, observe: RDS.observeInstances)
    }

    func snapshotWaiter(_ name: String, _ identifier: String, _ delay: Duration, _ maxAttempts: Int,
                        _ acceptors: [WaiterAcceptor<AWSPage<DBSnapshot>>]) -> AWSWaiter<AWSPage<DBSnapshot>> {
        AWSWaiter(name: name, delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                  operation: { try await describeDBSnapshots(snapshotIdentifier: identifier) }, observe: RDS.observeSnapshots)
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
