import Foundation
import Testing
@testable import RunbookAWS

@Suite struct WaiterTests {
    func describe(_ statuses: [String]) -> String {
        let items = statuses.map { "<DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><DBInstanceStatus>\($0)</DBInstanceStatus></DBInstance>" }.joined()
        return "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>\(items)</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>"
    }

    @Test func instanceAvailableWaitsThroughTransitionalStates() async throws {
        let transport = ScriptedTransport([.respond(200, describe(["creating"])), .respond(200, describe(["backing-up"])), .respond(200, describe(["available"]))])
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let sleeper = RecordingSleeper()
        let waiter = try c.rds().dbInstanceAvailableWaiter(identifier: "db1", delay: .milliseconds(5), maxAttempts: 10)
        let final = try await waiter.wait(sleeper: sleeper)
        #expect(final.state == .success)
        #expect(final.observed == "db1=available")
        #expect(sleeper.delays == [.milliseconds(5), .milliseconds(5)])
    }

    @Test func instanceAvailableFailsFastOnDeleting() async throws {
        let transport = ScriptedTransport([.respond(200, describe(["modifying"])), .respond(200, describe(["deleting"]))])
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let waiter = try c.rds().dbInstanceAvailableWaiter(identifier: "db1", delay: .milliseconds(1), maxAttempts: 10)
        await #expect {
            try await waiter.wait(sleeper: RecordingSleeper())
        } throws: { ($0 as? AWSWaiterError)?.reason == .failureState && ($0 as? AWSWaiterError)?.attempts == 2 }
    }

    @Test func pollOnceClassifiesWithoutSleeping() async throws {
        let transport = ScriptedTransport([.respond(200, describe(["rebooting"])),
                                           .respond(404, "<ErrorResponse><Error><Code>DBInstanceNotFound</Code><Message>gone</Message></Error></ErrorResponse>")])
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let available = try c.rds().dbInstanceAvailableWaiter(identifier: "db1")
        let first = try await available.pollOnce()
        #expect(first.state == .retry && first.observed == "db1=rebooting" && first.matchedAcceptor == nil)
        let deleted = try c.rds().dbInstanceDeletedWaiter(identifier: "db1")
        let second = try await deleted.pollOnce()
        #expect(second.state == .success && second.error?.code == "DBInstanceNotFound")
    }

    @Test func unmatchedErrorIsThrownAndMaxAttemptsIsHonoured() async throws {
        let transport = ScriptedTransport([.respond(200, describe(["creating"]))], repeatLast: true)
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let waiter = try c.rds().dbInstanceAvailableWaiter(identifier: "db1", delay: .milliseconds(1), maxAttempts: 3)
        await #expect { try await waiter.wait(sleeper: RecordingSleeper()) } throws: {
            ($0 as? AWSWaiterError)?.reason == .maxAttemptsExceeded && ($0 as? AWSWaiterError)?.lastObserved == "db1=creating"
        }
        #expect(transport.requestCount == 3)
        let missing = ScriptedTransport([.respond(404, "<ErrorResponse><Error><Code>DBInstanceNotFound</Code></Error></ErrorResponse>")])
        let c2 = AWSClient(configuration: TestConfig.configuration(), transport: missing, sleeper: RecordingSleeper())
        await #expect { _ = try await c2.rds().dbInstanceAvailableWaiter(identifier: "x").pollOnce() } throws: { ($0 as? AWSError)?.code == "DBInstanceNotFound" }
    }

    @Test func snapshotWaitersMatchTheirStatusPath() async throws {
        let snap = { (s: String) in "<R><DescribeDBSnapshotsResult><DBSnapshots><DBSnapshot><DBSnapshotIdentifier>s1</DBSnapshotIdentifier><Status>\(s)</Status></DBSnapshot></DBSnapshots></DescribeDBSnapshotsResult></R>" }
        let transport = ScriptedTransport([.respond(200, snap("creating")), .respond(200, snap("available")), .respond(200, "<R><DescribeDBSnapshotsResult><DBSnapshots/></DescribeDBSnapshotsResult></R>")])
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let rds = try c.rds()
        #expect(try await rds.dbSnapshotAvailableWaiter(snapshotIdentifier: "s1").pollOnce().state == .retry)
        #expect(try await rds.dbSnapshotAvailableWaiter(snapshotIdentifier: "s1").pollOnce().state == .success)
        #expect(try await rds.dbSnapshotDeletedWaiter(snapshotIdentifier: "s1").pollOnce().state == .success)
    }

    @Test func route53ChangeWaiterWaitsForInsync() async throws {
        let change = { (s: String) in "<GetChangeResponse><ChangeInfo><Id>/change/C1</Id><Status>\(s)</Status></ChangeInfo></GetChangeResponse>" }
        let transport = ScriptedTransport([.respond(200, change("PENDING")), .respond(200, change("INSYNC"))])
        let c = AWSClient(configuration: TestConfig.configuration(), transport: transport, sleeper: RecordingSleeper())
        let result = try await c.route53.resourceRecordSetsChangedWaiter(changeID: "/change/C1", delay: .milliseconds(1)).wait(sleeper: RecordingSleeper())
        #expect(result.output?.status == "INSYNC")
        #expect(transport.requests.first?.url.path == "/2013-04-01/change/C1")
        #expect(transport.requests.first?.headers.contains { $0.0 == "Authorization" && $0.1.contains("/us-east-1/route53/aws4_request") } == true)
    }
}
