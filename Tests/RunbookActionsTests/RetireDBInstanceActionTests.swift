import Foundation
import RunbookActions
import RunbookAWS
import RunbookEngine
import RunbookTestSupport
import Testing

/// `aws.rds.retire-db-instance` against the emulator's real PostgreSQL servers: the kept old writer is read-only only
/// once its own group applies, which takes the reboot.
@Suite("retire-db-instance against real servers", .serialized)
struct RetireDBInstanceActionTests {
    typealias F = AWSActionFixture
    typealias D = DatabaseActionTests

    @Test("the old writer is renamed into its read-only group and rebooted: it refuses writes; a re-run changes nothing; another deployment's name is refused")
    func retiresAndResumes() async throws {
        try await D.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("retire"), kept = "\(name)-retired-r1"
            _ = try await D.primary(f, name)
            let rds = try f.aws.rds(region: D.region)
            try await rds.addTagsToResource(arn: try #require(try await rds.describeDBInstance(identifier: name).arn),
                                            tags: [AWSTag("runbook:deployment", name), AWSTag("runbook:role", "old-writer")])
            _ = try await rds.createDBParameterGroup(name: kept, family: "postgres15", description: "test")
            try await rds.modifyDBParameterGroup(name: kept, parameters: [.init(name: "default_transaction_read_only", value: "1")])

            let retire = RetireDBInstanceAction(provider: f.provider)
            let inputs = D.inputs(name, ["new_identifier": kept, "parameter_group": kept, "deployment": name, "pace": "50ms"])
            let retired = try await retire.perform(F.invocation("keep-old", run: run, inputs))
            #expect(retired["identifier"] == kept && retired["previous_identifier"] == name, "\(retired)")
            let db = try await rds.describeDBInstance(identifier: kept)
            #expect(db.parameterGroups.first?.name == kept && db.parameterGroups.first?.status == "in-sync", "\(db.parameterGroups)")
            #expect(db.tags.contains(AWSTag("runbook:role", "retired")), "\(db.tags)")
            await #expect(throws: (any Error).self) { _ = try await rds.describeDBInstance(identifier: name) }

            let write = WriteCanaryAction(provider: f.provider)
            let refused = await #expect(throws: ActionFailure.self) { try await write.perform(F.invocation("canary", run: run, D.inputs(kept))) }
            #expect(refused?.message.contains("25006") == true, "\(String(describing: refused))")

            // A crash after the rename: the re-run finds the kept instance and goes on.
            let again = try await retire.perform(F.invocation("keep-old", run: run, inputs))
            #expect(again["identifier"] == kept, "\(again)")

            _ = try await D.primary(f, name + "-other")
            let other = D.inputs(kept, ["new_identifier": name + "-other", "parameter_group": kept, "deployment": name, "pace": "50ms"])
            let taken = await #expect(throws: ActionFailure.self) { try await retire.perform(F.invocation("keep-old", run: run, other)) }
            #expect(taken?.message.contains("is not part of deployment \(name)") == true, "\(String(describing: taken))")
        }
    }
}
