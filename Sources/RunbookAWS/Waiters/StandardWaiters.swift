import Foundation

// Acceptors as defined by botocore's rds/2014-10-31/waiters-2.json and route53/2013-04-01/waiters-2.json, and the
// settle waiters runbook's undo and delete actions use before they modify or delete (same acceptor machinery).

extension RDS {
    /// `DBInstanceAvailable`: success when every instance is `available`; fails fast on
    /// deleted, deleting, failed, incompatible-restore, incompatible-parameters. AWS: 30 s × 60.
    public func dbInstanceAvailableWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        availableWaiter(RDS.instances, identifier, delay, maxAttempts)
    }

    /// `DBInstanceDeleted`: success when none is left or `DBInstanceNotFound`; fails on
    /// creating, modifying, rebooting, resetting-master-credentials.
    public func dbInstanceDeletedWaiter(identifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        deletedWaiter(RDS.instances, identifier, delay, maxAttempts)
    }

    /// `DBInstanceSettled` (runbook's): success when the instance is in one of `statuses` or gone; no failure state,
    /// so it waits out every transition (an undo must reach a status that accepts ModifyDBInstance/DeleteDBInstance).
    public func dbInstanceSettledWaiter(identifier: String, statuses: [String], delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBInstance>> {
        settledWaiter(RDS.instances, identifier, statuses, delay, maxAttempts)
    }

    /// `DBSnapshotAvailable`.
    public func dbSnapshotAvailableWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        availableWaiter(RDS.snapshots, snapshotIdentifier, delay, maxAttempts)
    }

    /// `DBSnapshotDeleted`.
    public func dbSnapshotDeletedWaiter(snapshotIdentifier: String, delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        deletedWaiter(RDS.snapshots, snapshotIdentifier, delay, maxAttempts)
    }

    /// `DBSnapshotSettled` (runbook's): success when the snapshot is in one of `statuses` or gone; no failure state.
    public func dbSnapshotSettledWaiter(snapshotIdentifier: String, statuses: [String], delay: Duration = .seconds(30), maxAttempts: Int = 60) -> AWSWaiter<AWSPage<DBSnapshot>> {
        settledWaiter(RDS.snapshots, snapshotIdentifier, statuses, delay, maxAttempts)
    }

    static let availableFailures = ["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"]
    static let deletedFailures = ["creating", "modifying", "rebooting", "resetting-master-credentials"]

    /// What an RDS waiter polls: one resource kind, described by identifier, whose items have a status.
    struct WaitedKind<Item: Sendable>: Sendable {
        /// The waiter names' prefix, e.g. `DBInstance`.
        let name: String
        /// The describe answer's list, e.g. `DBInstances`.
        let list: String
        /// The status field of an item in botocore's acceptor paths, e.g. `DBInstanceStatus`.
        let statusField: String
        /// The error code of a describe that finds nothing.
        let notFound: String
        /// What the observed state says of an empty page, e.g. `no instances`.
        let none: String
        let identifier: @Sendable (Item) -> String
        let status: @Sendable (Item) -> String
        let describe: @Sendable (RDS, String) async throws -> AWSPage<Item>

        /// `pathAll` success acceptors for `success`, then `pathAny` failure acceptors for `failure`.
        func statusAcceptors(success: [String], failure: [String]) -> [WaiterAcceptor<AWSPage<Item>>] {
            let path = "\(list)[].\(statusField)"
            let statuses: @Sendable (AWSPage<Item>) -> [String] = { [status] in $0.items.map(status) }
            return success.map { WaiterAcceptor(.success, .pathAll(path, statuses), expected: $0) }
                + failure.map { WaiterAcceptor(.failure, .pathAny(path, statuses), expected: $0) }
        }

        /// Success when the list is empty or the describe answers `notFound`.
        var goneAcceptors: [WaiterAcceptor<AWSPage<Item>>] {
            [.init(.success, .path("length(\(list)) == `0`", { String($0.items.isEmpty) }), expected: "true"),
             .init(.success, .error, expected: notFound)]
        }

        /// The observed state of a page: `ID=STATUS, …`, or `none`.
        func observe(_ page: AWSPage<Item>) -> String {
            page.items.isEmpty ? none : page.items.map { "\(identifier($0))=\(status($0))" }.joined(separator: ", ")
        }
    }

    static let instances = WaitedKind<DBInstance>(
        name: "DBInstance", list: "DBInstances", statusField: "DBInstanceStatus", notFound: AWSErrorCode.dbInstanceNotFound, none: "no instances",
        identifier: { $0.identifier }, status: { $0.status }, describe: { try await $0.describeDBInstances(identifier: $1) })
    static let snapshots = WaitedKind<DBSnapshot>(
        name: "DBSnapshot", list: "DBSnapshots", statusField: "Status", notFound: AWSErrorCode.dbSnapshotNotFound, none: "no snapshots",
        identifier: { $0.identifier }, status: { $0.status }, describe: { try await $0.describeDBSnapshots(snapshotIdentifier: $1) })

    func availableWaiter<Item>(_ kind: WaitedKind<Item>, _ identifier: String, _ delay: Duration, _ maxAttempts: Int) -> AWSWaiter<AWSPage<Item>> {
        waiter(kind, "Available", identifier, delay, maxAttempts, kind.statusAcceptors(success: ["available"], failure: RDS.availableFailures))
    }

    func deletedWaiter<Item>(_ kind: WaitedKind<Item>, _ identifier: String, _ delay: Duration, _ maxAttempts: Int) -> AWSWaiter<AWSPage<Item>> {
        waiter(kind, "Deleted", identifier, delay, maxAttempts, kind.goneAcceptors + kind.statusAcceptors(success: [], failure: RDS.deletedFailures))
    }

    func settledWaiter<Item>(_ kind: WaitedKind<Item>, _ identifier: String, _ statuses: [String], _ delay: Duration,
                             _ maxAttempts: Int) -> AWSWaiter<AWSPage<Item>> {
        waiter(kind, "Settled", identifier, delay, maxAttempts, kind.goneAcceptors + kind.statusAcceptors(success: statuses, failure: []))
    }

    /// The waiter `kind.name + suffix` polling the describe of `identifier`.
    func waiter<Item>(_ kind: WaitedKind<Item>, _ suffix: String, _ identifier: String, _ delay: Duration, _ maxAttempts: Int,
                      _ acceptors: [WaiterAcceptor<AWSPage<Item>>]) -> AWSWaiter<AWSPage<Item>> {
        AWSWaiter(name: kind.name + suffix, delay: delay, maxAttempts: maxAttempts, acceptors: acceptors,
                  operation: { try await kind.describe(self, identifier) }, observe: { kind.observe($0) })
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
