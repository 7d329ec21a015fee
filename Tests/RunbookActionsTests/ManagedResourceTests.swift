import Foundation
@testable import RunbookActions
import RunbookAWS
import RunbookEngine
import RunbookTestSupport
import Testing

/// A resource whose create first lets a rival act (create the same resource, say), as another attempt or a crashed
/// run racing this one would: the real create then meets what the rival left in the emulator.
struct RacedResource<Base: ManagedResource>: ManagedResource {
    typealias Found = Base.Found
    typealias Created = Base.Created

    let base: Base
    let rival: @Sendable () async throws -> Void

    var name: String { base.name }
    var description: String { base.description }
    static var notFoundCodes: Set<String> { Base.notFoundCodes }
    static var alreadyExistsCodes: Set<String> { Base.alreadyExistsCodes }

    func fetch() async throws -> Found? { try await base.fetch() }
    func tags(of found: Found) async throws -> [AWSTag] { try await base.tags(of: found) }
    func delete(_ found: Found) async throws { try await base.delete(found) }

    func create() async throws -> Created {
        try await rival()
        return try await base.create()
    }
}

@Suite("Managed AWS resources: the generic create-or-adopt, undo-if-owned and delete")
struct ManagedResourceTests {
    typealias F = AWSActionFixture

    func parameterGroup(_ f: AWSActionFixture, run: String, name: String, step: String = "params") throws -> DBParameterGroupResource {
        try DBParameterGroupResource(f.provider, F.invocation(step, run: run, ["name": name, "region": "us-east-1", "family": "postgres15"]))
    }

    @Test("found with this run's tag: recovered and owned, and undo deletes it")
    func foundWithThisRunsTagIsRecovered() async throws {
        try await F.with { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("mr-own")
            let group = try parameterGroup(f, run: run, name: name)
            let first = try await ResourceLifecycle.createOrAdopt(group, runID: run)
            #expect(first.outputs == ["result": "created", "owned": "true"])
            let again = try await ResourceLifecycle.createOrAdopt(try parameterGroup(f, run: run, name: name, step: "retried"), runID: run)
            #expect(again.outputs == ["result": "recovered", "owned": "true"])
            #expect(try await ResourceLifecycle.undoIfOwned(group, runID: run) == .deleted(name))
            #expect(try await ResourceLifecycle.find(group) == nil)
        }
    }

    @Test("found without this run's tag: adopted, not owned, and never deleted by undo")
    func foundUntaggedIsAdoptedAndKept() async throws {
        try await F.with { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("mr-pre")
            let sns = try f.aws.sns(region: "us-east-1")
            let arn = try await sns.createTopic(name: name)
            let otherRunsARN = try await sns.createTopic(name: name + "-other", tags: [AWSTag("runbook:run-id", F.runID())])
            for topicName in [name, name + "-other"] {
                let topic = SNSTopicResource(sns: sns, name: topicName, invocation: F.invocation("topic", run: run, ["name": topicName]))
                let adoption = try await ResourceLifecycle.createOrAdopt(topic, runID: run)
                #expect(adoption.outputs == ["result": "adopted", "owned": "false"], "\(topicName)")
                #expect(try await ResourceLifecycle.undoIfOwned(topic, runID: run) == .kept(topicName))
            }
            let left = try await sns.listTopics().items
            #expect(left.contains(arn) && left.contains(otherRunsARN), "undo keeps both")
            #expect(try await sns.listTagsForResource(arn: arn).isEmpty, "and tags neither")
            try await sns.deleteTopic(arn: arn)
            try await sns.deleteTopic(arn: otherRunsARN)
        }
    }

    @Test("a create that loses a race (AlreadyExists) finds the resource again: this run's is recovered, a stranger's adopted")
    func alreadyExistsRaceFindsAgain() async throws {
        try await F.with { f in
            let run = F.runID(), rds = try f.aws.rds(region: "us-east-1")
            for (tags, expected) in [([AWSTag("runbook:run-id", run)], ["result": "recovered", "owned": "true"]),
                                     ([], ["result": "adopted", "owned": "false"])] {
                let name = LocalAWSEmulator.uniqueName("mr-race")
                let raced = RacedResource(base: try parameterGroup(f, run: run, name: name)) {
                    _ = try await rds.createDBParameterGroup(name: name, family: "postgres15", description: "the rival", tags: tags)
                }
                let adoption = try await ResourceLifecycle.createOrAdopt(raced, runID: run)
                #expect(adoption.outputs == expected, "\(tags)")
                #expect(try await rds.describeDBParameterGroup(name: name).description == "the rival", "the rival's group, not a second one")
                try await rds.deleteDBParameterGroup(name: name)
            }
        }
    }

    @Test("a resource gone before its delete is done: undo says already gone, delete reports false, the delete action absent")
    func notFoundOnDeleteIsFine() async throws {
        try await F.with { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("mr-gone")
            let rds = try f.aws.rds(region: "us-east-1")
            let group = try parameterGroup(f, run: run, name: name)
            _ = try await ResourceLifecycle.createOrAdopt(group, runID: run)
            let found = try #require(try await ResourceLifecycle.find(group))
            try await rds.deleteDBParameterGroup(name: name)
            #expect(try await ResourceLifecycle.delete(group, found) == false, "DBParameterGroupNotFound from the delete is not an error")
            #expect(try await ResourceLifecycle.undoIfOwned(group, runID: run) == .alreadyGone)
            #expect(try await ResourceLifecycle.deleteIfPresent(group) == nil)
        }
    }

    @Test("undo of this run's instance waits through the acceptor waiters: deletion protection off, deleted, gone")
    func instanceUndoTurnsProtectionOffAndWaitsUntilGone() async throws {
        try await F.with { f in
            let run = F.runID(), id = LocalAWSEmulator.uniqueName("mr-db")
            let rds = try f.aws.rds(region: "us-east-1")
            let action = CreateDBInstanceAction(provider: f.provider)
            let inputs = ["identifier": id, "region": "us-east-1", "instance_class": "db.t3.micro", "engine": "postgres",
                          "master_username": "dbadmin", "master_password_param": "pw", "allocated_storage": "20",
                          "deletion_protection": "true", "pace": "20ms"]
            let secret = ["pw": "Passw0rd-for-tests"]
            let out = try await action.perform(F.invocation("primary", run: run, inputs, parameters: secret, secrets: ["pw"]))
            #expect(out["result"] == "created" && out["deletion_protection"] == "true", "\(out)")
            let undo = try await action.undo(F.invocation("primary", run: run, inputs, outputs: out, purpose: .compensation, parameters: secret, secrets: ["pw"]))
            #expect(undo == ["undo": "deleted \(id)"])
            await #expect(throws: AWSError.self) { _ = try await rds.describeDBInstance(identifier: id) }
            let again = try await action.undo(F.invocation("primary", run: run, inputs, outputs: out, purpose: .compensation))
            #expect(again == ["undo": "already gone"])
        }
    }

    @Test("a settle wait that never succeeds ends as a retryable failure naming what it waited for")
    func settleWaitTimesOut() async throws {
        try await F.with { f in
            let id = LocalAWSEmulator.uniqueName("mr-wait")
            let rds = try f.aws.rds(region: "us-east-1")
            _ = try await rds.createDBInstance(F.instanceRequest(id))
            let pacing = try WaitPacing(F.invocation("wait", run: F.runID(), ["pace": "10ms", "settle_timeout": "50ms"]))
            await #expect {
                _ = try await DBInstanceTarget(rds, id).settle(["never-reached"], pacing)
            } throws: { error in
                guard let failure = error as? ActionFailure else { return false }
                return failure.retryable && failure.message.hasPrefix("timed out after 50ms waiting for DB instance \(id) in us-east-1 to be never-reached")
            }
            #expect(try await DBInstanceTarget(rds, id).settle(DBInstanceTarget.settledStatuses, pacing)?.status == "available")
            _ = try await rds.deleteDBInstance(identifier: id, skipFinalSnapshot: true)
            #expect(try await DBInstanceTarget(rds, id).settle(["available"], pacing) == nil, "gone is an answer, not a failure")
        }
    }

    @Test("every create action has an undo; pacing fits its polls into the settle timeout")
    func createActionsHaveUndoAndPacingCountsPolls() throws {
        let provider = AWSClientProvider(environment: [:])
        let creating: [any StepAction] = [
            CreateNetworkAction(provider: provider), CreateDBParameterGroupAction(provider: provider), CreateDBSubnetGroupAction(provider: provider),
            CreateDBInstanceAction(provider: provider), CreateDBInstanceReadReplicaAction(provider: provider), CreateDBSnapshotAction(provider: provider),
            CopyDBSnapshotAction(provider: provider), RestoreDBInstanceFromSnapshotAction(provider: provider), PutMetricAlarmAction(provider: provider),
            CreateTopicAction(provider: provider), CreateRoleAction(provider: provider), CreateHostedZoneAction(provider: provider),
            CreateHealthCheckAction(provider: provider),
        ]
        for action in creating { #expect(action.hasUndo, "\(action.name)") }
        #expect(try !#require(AWSActions.all(provider: provider).first { $0.name == "aws.sns.delete-topic" }).hasUndo)

        func attempts(_ inputs: [String: String]) throws -> Int { try WaitPacing(F.invocation("w", run: "r", inputs)).maxAttempts }
        #expect(try attempts([:]) == 121, "30s for 60m: the first poll at once, then 120 more")
        #expect(try attempts(["pace": "20ms", "settle_timeout": "1s"]) == 51)
        #expect(try attempts(["pace": "5m", "settle_timeout": "1m"]) == 1)
        #expect(try attempts(["pace": "0s"]) == 1_000_000, "no pace: bounded, not a crash")
    }
}
