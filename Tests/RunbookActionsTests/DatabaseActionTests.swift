import Foundation
import RunbookActions
import RunbookAWS
import RunbookEngine
import RunbookPostgres
import RunbookTestSupport
import Testing

/// The data-plane actions against the emulator's real PostgreSQL servers (one server per RDS instance).
@Suite("database actions against real servers", .serialized)
struct DatabaseActionTests {
    typealias F = AWSActionFixture
    static let region = "us-east-1"

    /// A primary with an RDS-managed master secret and a parameter group of its own (or `group`).
    static func primary(_ f: F, _ name: String, group: String? = nil) async throws -> String {
        let rds = try f.aws.rds(region: region)
        let groupName = group ?? "\(name)-params"
        if group == nil { _ = try await rds.createDBParameterGroup(name: groupName, family: "postgres15", description: "test") }
        var request = RDS.CreateDBInstanceRequest(identifier: name, instanceClass: "db.t3.micro", engine: "postgres")
        request.masterUsername = "dbadmin"
        request.manageMasterUserPassword = true
        request.allocatedStorage = 20
        request.dbParameterGroupName = groupName
        _ = try await rds.createDBInstance(request)
        return groupName
    }

    static func inputs(_ identifier: String, _ more: [String: String] = [:]) -> [String: String] {
        ["identifier": identifier, "region": region, "connect_timeout": "5s", "apply_timeout": "20s"].merging(more) { $1 }
    }

    static func withDataPlane(_ body: (F) async throws -> Void) async throws {
        try await F.with(emulator: try await LocalAWSEmulator.withDataPlane(), body)
    }

    @Test("a fence makes the writer refuse writes with 25006, a re-run keeps what undo restores, and undo lets it write again")
    func fenceAndUnfence() async throws {
        try await Self.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("fence")
            let group = try await Self.primary(f, name)
            let write = WriteCanaryAction(provider: f.provider)
            let written = try await write.perform(F.invocation("canary", run: run, Self.inputs(name)))
            #expect(written["writable"] == "true")

            let fence = FenceWriterAction(provider: f.provider)
            let fenceInvocation = F.invocation("fence", run: run, Self.inputs(name))
            let fenced = try await fence.perform(fenceInvocation)
            #expect(fenced["fenced"] == "true" && fenced["parameter_group"] == group, "\(fenced)")
            #expect(fenced["previous_value"] == "", "nothing was set before: \(fenced)")
            #expect(fenced["final_lsn"]?.contains("/") == true, "\(fenced)")
            let refused = await #expect(throws: ActionFailure.self) {
                try await write.perform(F.invocation("canary", run: run, Self.inputs(name, ["sequence": "2"])))
            }
            #expect(refused?.message.contains("25006") == true, "\(String(describing: refused))")

            // A crash after the fence took effect: the step runs again and still knows what was there before.
            let again = try await fence.perform(fenceInvocation)
            #expect(again["previous_value"] == "", "\(again)")

            var undo = fenceInvocation
            undo.purpose = .compensation
            undo.stepOutputs = again
            _ = try await fence.undo(undo)
            let afterUndo = try await write.perform(F.invocation("canary", run: run, Self.inputs(name, ["sequence": "3"])))
            #expect(afterUndo["writable"] == "true")
            let parameters = try await f.aws.rds(region: Self.region).describeAllDBParameters(name: group, source: "user")
            #expect(parameters.first { $0.name == "default_transaction_read_only" }?.value == "0")
        }
    }

    @Test("a parameter group shared with another instance is never modified, and the other instance still writes")
    func sharedGroupIsRefused() async throws {
        try await Self.withDataPlane { f in
            let run = F.runID(), first = LocalAWSEmulator.uniqueName("shared-a"), second = LocalAWSEmulator.uniqueName("shared-b")
            let group = try await Self.primary(f, first)
            _ = try await Self.primary(f, second, group: group)
            let fence = FenceWriterAction(provider: f.provider)
            let error = await #expect(throws: ActionFailure.self) {
                try await fence.perform(F.invocation("fence", run: run, Self.inputs(first)))
            }
            #expect(error?.message.contains("shared with \(second)") == true, "\(String(describing: error))")
            #expect(error?.retryable == false)
            let parameters = try await f.aws.rds(region: Self.region).describeAllDBParameters(name: group, source: "user")
            #expect(!parameters.contains { $0.name == "default_transaction_read_only" })
            let write = WriteCanaryAction(provider: f.provider)
            #expect(try await write.perform(F.invocation("canary", run: run, Self.inputs(second)))["writable"] == "true")
        }
    }

    @Test("a paused standby is behind by the LSN distance, misses the rows written since, and catches up when resumed")
    func standbyReplay() async throws {
        try await Self.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("replay"), replica = LocalAWSEmulator.uniqueName("replay-r")
            _ = try await Self.primary(f, name)
            let rds = try f.aws.rds(region: Self.region)
            _ = try await rds.createDBInstanceReadReplica(RDS.CreateDBInstanceReadReplicaRequest(identifier: replica, sourceDBInstanceIdentifier: name))
            let write = WriteCanaryAction(provider: f.provider), status = DatabaseStatusAction(provider: f.provider)
            let check = CheckCanaryAction(provider: f.provider)
            let first = try await write.perform(F.invocation("canary", run: run, Self.inputs(name)))
            let lsn1 = try #require(first["lsn"])
            try await Self.waitUntilCaughtUp(status, replica, lsn1, run)
            _ = try await check.perform(F.invocation("check", run: run, Self.inputs(replica, ["canary_step": "canary", "sequence": "1"])))

            try await f.emulator.dataPlane("pause-replay", identifier: replica, region: Self.region)
            let paused = try await status.perform(F.invocation("status", run: run, Self.inputs(replica)))
            let second = try await write.perform(F.invocation("canary", run: run, Self.inputs(name, ["sequence": "2"])))
            let lsn2 = try #require(second["lsn"])
            let behind = try await status.perform(F.invocation("status", run: run, Self.inputs(replica, ["until_lsn": lsn2])))
            #expect(behind["role"] == "standby" && behind["caught_up"] == "false", "\(behind)")
            let distance = try #require(WALPositionText.distance(from: paused["replay_lsn"] ?? "", to: lsn2))
            #expect(behind["behind_bytes"] == String(distance), "\(behind) vs \(paused)")
            #expect(distance > 0)
            await #expect(throws: ActionFailure.self, "row 2 was committed after the pause") {
                try await check.perform(F.invocation("check", run: run, Self.inputs(replica, ["canary_step": "canary", "sequence": "2"])))
            }

            try await f.emulator.dataPlane("resume-replay", identifier: replica, region: Self.region)
            try await Self.waitUntilCaughtUp(status, replica, lsn2, run)
            let found = try await check.perform(F.invocation("check", run: run, Self.inputs(replica, ["canary_step": "canary", "sequence": "2"])))
            #expect(found["count"] == "2")
        }
    }

    @Test("a network fence replaces the security groups, a re-run after a crash keeps the originals, and undo restores them")
    func networkFence() async throws {
        try await Self.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("netfence")
            let rds = try f.aws.rds(region: Self.region)
            var request = RDS.CreateDBInstanceRequest(identifier: name, instanceClass: "db.t3.micro", engine: "postgres")
            request.masterUsername = "dbadmin"
            request.manageMasterUserPassword = true
            request.allocatedStorage = 20
            request.vpcSecurityGroupIDs = ["sg-0app1", "sg-0app2"]
            _ = try await rds.createDBInstance(request)
            let fence = FenceWriterAction(provider: f.provider)
            let invocation = F.invocation("fence", run: run, Self.inputs(name, ["method": "network", "security_group": "sg-0closed"]))
            _ = try await fence.perform(invocation)
            let again = try await fence.perform(invocation)
            #expect(try await rds.describeDBInstance(identifier: name).vpcSecurityGroups.map(\.id) == ["sg-0closed"])
            #expect(again["previous_security_groups"] == "sg-0app1,sg-0app2", "\(again)")
            var undo = invocation
            undo.purpose = .compensation
            undo.stepOutputs = again
            _ = try await fence.undo(undo)
            #expect(try await rds.describeDBInstance(identifier: name).vpcSecurityGroups.map(\.id).sorted() == ["sg-0app1", "sg-0app2"])
        }
    }

    @Test("the master secret reaches no output")
    func masterSecretStaysOut() async throws {
        try await Self.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("secret")
            _ = try await Self.primary(f, name)
            let rds = try f.aws.rds(region: Self.region)
            let arn = try #require(try await rds.describeDBInstance(identifier: name).masterUserSecretARN)
            let password = try await f.aws.secretsManager(region: Self.region).rdsMasterCredentials(secretID: arn).password
            var outputs: [String: String] = [:]
            for action in DatabaseActions.all(provider: f.provider) where !["db.fence", "db.check-canary", "db.recovery-point"].contains(action.name) {
                outputs.merge(try await action.perform(F.invocation("step", run: run, Self.inputs(name)))) { $1 }
            }
            #expect(outputs.count > 5)
            #expect(!outputs.values.contains { $0.contains(password) } && !outputs.keys.contains { $0.contains(password) })
        }
    }

    static func waitUntilCaughtUp(_ status: DatabaseStatusAction, _ replica: String, _ lsn: String, _ run: String) async throws {
        for _ in 0..<100 {
            let out = try await status.perform(F.invocation("status", run: run, inputs(replica, ["until_lsn": lsn])))
            if out["caught_up"] == "true" { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(replica) did not replay \(lsn) within 10 s")
    }
}

/// LSN arithmetic for the tests, through the client's own type.
enum WALPositionText {
    static func distance(from: String, to: String) -> UInt64? {
        guard let a = WALPosition(from), let b = WALPosition(to) else { return nil }
        return b.bytesAhead(of: a)
    }
}
