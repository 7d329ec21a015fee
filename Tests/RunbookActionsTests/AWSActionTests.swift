import Foundation
import RunbookActions
import RunbookAWS
import RunbookEngine
import RunbookTestSupport
import Testing

/// The AWS actions called directly (no engine), against the shared local emulator (status transitions off there).
/// Each test uses its own provider (pointed at the emulator) and its own client for setup and inspection, and shuts
/// both down at the end.
struct AWSActionFixture {
    let emulator: LocalAWSEmulator
    let provider: AWSClientProvider
    let aws: AWSClient

    /// - Parameter emulator: the shared emulator unless given (e.g. one with a data plane).
    static func with(emulator given: LocalAWSEmulator? = nil, _ body: (AWSActionFixture) async throws -> Void) async throws {
        let emulator: LocalAWSEmulator
        if let given { emulator = given } else { emulator = try await LocalAWSEmulator.shared() }
        let fixture = AWSActionFixture(emulator: emulator, provider: AWSClientProvider(environment: emulator.environment),
                                       aws: AWSClient(configuration: try AWSConfiguration.resolve(environment: emulator.environment)))
        do {
            try await body(fixture)
        } catch {
            try? await fixture.provider.shutdown()
            try? await fixture.aws.shutdown()
            throw error
        }
        try await fixture.provider.shutdown()
        try await fixture.aws.shutdown()
    }

    static func invocation(_ step: String, run: String, runbook: String = "actions-test", _ inputs: [String: String],
                           outputs: [String: String] = [:], purpose: InvocationPurpose = .action,
                           parameters: [String: String] = [:], secrets: Set<String> = []) -> ActionInvocation {
        ActionInvocation(runID: run, runbook: runbook, stepID: step, attempt: 1, purpose: purpose, inputs: inputs.mapValues { .scalar($0) },
                         parameters: parameters, secretParameterNames: secrets, workingDirectory: FileManager.default.currentDirectoryPath,
                         stepOutputs: outputs)
    }

    static func runID() -> String { LocalAWSEmulator.uniqueName("run") }

    /// The smallest PostgreSQL instance the emulator accepts, with a master user and password.
    static func instanceRequest(_ identifier: String) -> RDS.CreateDBInstanceRequest {
        var request = RDS.CreateDBInstanceRequest(identifier: identifier, instanceClass: "db.t3.micro", engine: "postgres")
        request.masterUsername = "dbadmin"
        request.masterUserPassword = "Passw0rd-for-tests"
        request.allocatedStorage = 20
        return request
    }

    /// The AWS action registered as `name`, as a runbook's `action:` finds it.
    func action(_ name: String) throws -> any StepAction {
        try #require(AWSActions.all(provider: provider).first { $0.name == name }, "no AWS action \(name)")
    }
}

@Suite("AWS actions in process")
struct AWSActionTests {
    typealias F = AWSActionFixture

    @Test("a pre-existing topic and parameter group are adopted; undo leaves them in place and unchanged")
    func preExistingIsAdoptedAndKept() async throws {
        try await F.with { f in
            let run = F.runID(), topicName = LocalAWSEmulator.uniqueName("pre-topic"), groupName = LocalAWSEmulator.uniqueName("pre-params")
            let sns = try f.aws.sns(region: "us-east-1"), rds = try f.aws.rds(region: "us-east-1")
            let topicARN = try await sns.createTopic(name: topicName)
            _ = try await rds.createDBParameterGroup(name: groupName, family: "postgres15", description: "owned by someone else")
            let paramsBefore = try await rds.describeAllDBParameters(name: groupName).filter { $0.name == "log_statement" }.map(\.value)

            let topic = CreateTopicAction(provider: f.provider)
            let topicInvocation = F.invocation("topic", run: run, ["name": topicName, "region": "us-east-1"])
            let topicOut = try await topic.perform(topicInvocation)
            #expect(topicOut["result"] == "adopted" && topicOut["owned"] == "false", "\(topicOut)")
            _ = try await topic.undo(F.invocation("topic", run: run, ["name": topicName, "region": "us-east-1"], outputs: topicOut, purpose: .compensation))
            #expect(try await sns.listTopics().items.contains(topicARN), "undo keeps the pre-existing topic")
            #expect(try await sns.listTagsForResource(arn: topicARN).isEmpty, "and does not tag it")

            let group = CreateDBParameterGroupAction(provider: f.provider)
            let groupInputs = ["name": groupName, "region": "us-east-1", "family": "postgres15"]
            var invocation = F.invocation("params", run: run, groupInputs)
            invocation.inputs["parameters"] = .map(["log_statement": .scalar("all")])
            let groupOut = try await group.perform(invocation)
            #expect(groupOut["result"] == "adopted" && groupOut["owned"] == "false", "\(groupOut)")
            #expect(groupOut["drift"] == "log_statement", "a difference is reported, not applied: \(groupOut)")
            var undo = invocation
            undo.purpose = .compensation
            undo.stepOutputs = groupOut
            _ = try await group.undo(undo)
            let after = try await rds.describeDBParameterGroup(name: groupName)
            #expect(after.description == "owned by someone else")
            #expect(try await rds.describeAllDBParameters(name: groupName).filter { $0.name == "log_statement" }.map(\.value) == paramsBefore)
            #expect(try await rds.listTagsForResource(arn: after.arn ?? "").isEmpty)

            try await sns.deleteTopic(arn: topicARN)
            try await rds.deleteDBParameterGroup(name: groupName)
        }
    }

    @Test("a created resource carries the three runbook tags; a second perform of the same run recovers it; undo deletes it")
    func createdIsTaggedRecoveredAndUndone() async throws {
        try await F.with { f in
            let run = F.runID(), groupName = LocalAWSEmulator.uniqueName("own-params"), vpcName = LocalAWSEmulator.uniqueName("own-net")
            let rds = try f.aws.rds(region: "us-west-2"), ec2 = try f.aws.ec2(region: "us-west-2")

            let group = CreateDBParameterGroupAction(provider: f.provider)
            let groupInvocation = F.invocation("params-secondary", run: run, runbook: "provision",
                                               ["name": groupName, "region": "us-west-2", "family": "postgres15"])
            let first = try await group.perform(groupInvocation)
            #expect(first["result"] == "created" && first["owned"] == "true")
            let tags = try await rds.listTagsForResource(arn: try await rds.describeDBParameterGroup(name: groupName).arn ?? "")
            #expect(tags.contains(AWSTag("runbook:run-id", run)))
            #expect(tags.contains(AWSTag("runbook:step", "params-secondary")))
            #expect(tags.contains(AWSTag("runbook:runbook", "provision")))
            let second = try await group.perform(groupInvocation)
            #expect(second["result"] == "recovered" && second["owned"] == "true", "\(second)")
            _ = try await group.undo(F.invocation("params-secondary", run: run, ["name": groupName, "region": "us-west-2", "family": "postgres15"],
                                                  outputs: second, purpose: .compensation))
            await #expect(throws: AWSError.self) { _ = try await rds.describeDBParameterGroup(name: groupName) }

            // A VPC has no unique name: only the run's tag prevents a second one on a retried create.
            let network = CreateNetworkAction(provider: f.provider)
            let netInvocation = F.invocation("network-secondary", run: run, ["name": vpcName, "region": "us-west-2", "cidr": "10.40.0.0/16"])
            let created = try await network.perform(netInvocation)
            #expect(created["result"] == "created")
            let again = try await network.perform(netInvocation)
            #expect(again["result"] == "recovered" && again["vpc_id"] == created["vpc_id"], "\(again)")
            let vpcs = try await ec2.describeVpcs(filters: [EC2.Filter("tag:Name", [vpcName])])
            #expect(vpcs.count == 1, "no duplicate VPC")
            #expect(vpcs.first?.tags.contains(AWSTag("runbook:run-id", run)) == true)
            _ = try await network.undo(F.invocation("network-secondary", run: run, ["name": vpcName, "region": "us-west-2"], outputs: again, purpose: .compensation))
            #expect(try await ec2.describeVpcs(filters: [EC2.Filter("tag:Name", [vpcName])]).isEmpty)
        }
    }

    @Test("Route 53: the same run and step give the same caller reference, so a create retried after a crash gets the same zone and health check")
    func route53CallerReference() async throws {
        try await F.with { f in
            let run = F.runID(), zoneName = LocalAWSEmulator.uniqueName("cr") + ".example.com", checkName = LocalAWSEmulator.uniqueName("hc")
            let r53 = f.aws.route53
            // As if the action crashed right after CreateHostedZone, before tagging: an untagged zone with this step's reference.
            let reference = "runbook-\(run)-zone"
            let orphan = try await r53.createHostedZone(name: zoneName, callerReference: reference).hostedZone
            let zone = CreateHostedZoneAction(provider: f.provider)
            let zoneInvocation = F.invocation("zone", run: run, ["name": zoneName, "private": "false"])
            let recovered = try await zone.perform(zoneInvocation)
            #expect(recovered["result"] == "recovered" && recovered["zone_id"].map(Route53.normalizeID) == Route53.normalizeID(orphan.id), "\(recovered)")
            #expect(try await r53.listHostedZonesByName(dnsName: zoneName).filter { $0.name == zoneName + "." }.count == 1, "no second zone")
            #expect(try await r53.listTagsForResource(resourceType: "hostedzone", id: orphan.id).contains(AWSTag("runbook:run-id", run)))
            // Another step of the same run does not claim the zone as its own creation.
            let other = try await zone.perform(F.invocation("zone-2", run: run, ["name": zoneName, "private": "false"]))
            #expect(other["result"] != "created" && other["zone_id"].map(Route53.normalizeID) == Route53.normalizeID(orphan.id))

            let check = CreateHealthCheckAction(provider: f.provider)
            let checkInvocation = F.invocation("health-check", run: run, ["name": checkName, "alarm_name": "x-connections", "alarm_region": "us-east-1"])
            let createdCheck = try await check.perform(checkInvocation)
            #expect(createdCheck["result"] == "created")
            let retried = try await check.perform(checkInvocation)
            #expect(retried["result"] == "recovered" && retried["health_check_id"] == createdCheck["health_check_id"], "\(retried)")
            let mine = try await r53.listHealthChecks().items.filter { $0.callerReference == "runbook-\(run)-health-check" }
            #expect(mine.count == 1)

            _ = try await check.undo(F.invocation("health-check", run: run, ["name": checkName], outputs: retried, purpose: .compensation))
            #expect(try await r53.listHealthChecks().items.filter { $0.callerReference == "runbook-\(run)-health-check" }.isEmpty)
            _ = try await zone.undo(F.invocation("zone", run: run, ["name": zoneName], outputs: recovered, purpose: .compensation))
            #expect(try await r53.listHostedZonesByName(dnsName: zoneName).filter { $0.name == zoneName + "." }.isEmpty)
        }
    }

    @Test("upsert-record captures the previous value and undo restores exactly it")
    func upsertRecordRestoresPrevious() async throws {
        try await F.with { f in
            let run = F.runID(), zoneName = LocalAWSEmulator.uniqueName("rec") + ".example.com"
            let r53 = f.aws.route53
            let zone = try await r53.createHostedZone(name: zoneName, callerReference: LocalAWSEmulator.uniqueName("ref")).hostedZone
            let recordName = "db.\(zoneName)."
            _ = try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [
                .init(.create, Route53.ResourceRecordSet(name: recordName, type: "CNAME", ttl: 300, values: ["old.example.net"])),
            ])
            let action = UpsertRecordAction(provider: f.provider)
            let inputs = ["zone": zoneName, "name": recordName, "values": "new.example.net", "ttl": "60"]
            let out = try await action.perform(F.invocation("repoint", run: run, inputs))
            #expect(out["result"] == "changed" && out["previous_values"] == "old.example.net" && out["previous_ttl"] == "300", "\(out)")
            func current() async throws -> Route53.ResourceRecordSet? {
                try await r53.listAllResourceRecordSets(zoneID: zone.id).first { $0.name == recordName && $0.type == "CNAME" }
            }
            #expect(try await current()?.values == ["new.example.net"])
            _ = try await action.undo(F.invocation("repoint", run: run, inputs, outputs: out, purpose: .compensation))
            let restored = try await current()
            #expect(restored?.values == ["old.example.net"] && restored?.ttl == 300, "\(String(describing: restored))")

            if let restored { _ = try await r53.changeResourceRecordSets(zoneID: zone.id, changes: [.init(.delete, restored)]) }
            try await r53.deleteHostedZone(id: zone.id)
        }
    }

    @Test("set-deletion-protection records the previous value, applies the change, and undo restores exactly it")
    func deletionProtectionCapturedAndRestored() async throws {
        try await F.with { f in
            let run = F.runID(), id = LocalAWSEmulator.uniqueName("dp")
            let rds = try f.aws.rds(region: "us-east-1")
            var request = F.instanceRequest(id)
            request.deletionProtection = true
            _ = try await rds.createDBInstance(request)

            let action = SetDeletionProtectionAction(provider: f.provider)
            let inputs = ["identifier": id, "region": "us-east-1", "enabled": "false", "pace": "20ms"]
            let out = try await action.perform(F.invocation("unprotect", run: run, inputs))
            #expect(out["previous_deletion_protection"] == "true" && out["result"] == "changed", "\(out)")
            #expect(try await rds.describeDBInstance(identifier: id).deletionProtection == false)
            // Re-run after a crash between the modify and the stored outputs: still knows the value from before.
            let rerun = try await action.perform(F.invocation("unprotect", run: run, inputs))
            #expect(rerun["previous_deletion_protection"] == "true" && rerun["result"] == "changed", "\(rerun)")
            let undone = try await action.undo(F.invocation("unprotect", run: run, inputs, outputs: out, purpose: .compensation))
            #expect(undone["undo"]?.hasPrefix("restored") == true, "\(undone)")
            let after = try await rds.describeDBInstance(identifier: id)
            #expect(after.deletionProtection == true, "undo restores the previous value")
            #expect(!after.tags.contains { $0.key == "runbook:previous-deletion-protection" }, "undo removes its record")

            // Nothing changed: undo does nothing (the value stays what it is).
            let keep = ["identifier": id, "region": "us-east-1", "enabled": "true", "pace": "20ms"]
            let unchanged = try await action.perform(F.invocation("protect", run: run, keep))
            #expect(unchanged["result"] == "unchanged" && unchanged["previous_deletion_protection"] == "true")
            _ = try await rds.modifyDBInstance(.init(identifier: id, applyImmediately: true, deletionProtection: false))
            let noop = try await action.undo(F.invocation("protect", run: run, keep, outputs: unchanged, purpose: .compensation))
            #expect(noop["undo"]?.hasPrefix("nothing") == true)
            #expect(try await rds.describeDBInstance(identifier: id).deletionProtection == false, "an unchanged step's undo changes nothing")

            _ = try await rds.deleteDBInstance(identifier: id, skipFinalSnapshot: true)
            let gone = try await action.undo(F.invocation("unprotect", run: run, inputs, outputs: out, purpose: .compensation))
            #expect(gone["undo"] == "already gone")
            let absent = try await action.perform(F.invocation("unprotect", run: run, inputs))
            #expect(absent["result"] == "absent")
        }
    }

    @Test("a master_password secret reaches only the CreateDBInstance call, never the outputs")
    func secretNeverInOutputs() async throws {
        try await F.with { f in
            let run = F.runID(), id = LocalAWSEmulator.uniqueName("sec"), secret = "Sup3r-Secret-\(UUID().uuidString.prefix(6))"
            let action = CreateDBInstanceAction(provider: f.provider)
            let inputs = ["identifier": id, "region": "us-east-1", "instance_class": "db.t3.micro", "engine": "postgres",
                          "master_username": "dbadmin", "master_password_param": "master_password", "allocated_storage": "20", "pace": "20ms"]
            let invocation = F.invocation("primary", run: run, inputs, parameters: ["master_password": secret], secrets: ["master_password"])
            let out = try await action.perform(invocation)
            #expect(out["result"] == "created")
            #expect(!out.values.contains { $0.contains(secret) } && !out.keys.contains { $0.contains(secret) }, "\(out)")
            let recovered = try await action.perform(invocation)
            #expect(recovered["result"] == "recovered" && !recovered.values.contains { $0.contains(secret) })
            let undo = try await action.undo(F.invocation("primary", run: run, inputs, outputs: out, purpose: .compensation,
                                                          parameters: ["master_password": secret], secrets: ["master_password"]))
            #expect(undo["undo"] == "deleted \(id)" && !undo.values.contains { $0.contains(secret) })
        }
    }

    @Test("delete actions treat not-found as done")
    func deletesTreatNotFoundAsDone() async throws {
        try await F.with { f in
            let run = F.runID(), missing = LocalAWSEmulator.uniqueName("missing")
            let region = ["region": "us-east-1"]
            let cases: [(any StepAction, [String: String])] = [
                (DeleteDBInstanceAction(provider: f.provider), ["identifier": missing, "skip_final_snapshot": "true"]),
                (try f.action("aws.rds.delete-db-snapshot"), ["snapshot_identifier": missing]),
                (try f.action("aws.rds.delete-db-snapshot"), ["snapshot_identifier": missing, "only_this_run": "true"]),
                (try f.action("aws.rds.delete-db-parameter-group"), ["name": missing]),
                (try f.action("aws.rds.delete-db-subnet-group"), ["name": missing]),
                (try f.action("aws.sns.delete-topic"), ["name": missing]),
                (DeleteAlarmsAction(provider: f.provider), ["names": missing]),
                (try f.action("aws.ec2.delete-network"), ["name": missing]),
                (try f.action("aws.iam.delete-role"), ["name": missing]),
                (try f.action("aws.route53.delete-hosted-zone"), ["name": missing + ".example.com"]),
            ]
            for (action, inputs) in cases {
                let out = try await action.perform(F.invocation("delete", run: run, inputs.merging(region) { a, _ in a }))
                #expect(out["result"] == "absent", "\(action.name): \(out)")
            }
        }
    }

    @Test("each delete action plans `delete NOUN NAME` for what exists, deletes it with its own outputs, then plans `NAME is absent`")
    func deleteActionsPlanDeleteAndReport() async throws {
        try await F.with { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("del")
            func invocation(_ inputs: [String: String], run: String = run) -> ActionInvocation {
                F.invocation("delete", run: run, inputs.merging(["region": "us-east-1"]) { given, _ in given })
            }
            func create(_ action: String, _ inputs: [String: String]) async throws -> [String: String] {
                try await f.action(action).perform(invocation(inputs))
            }
            /// Plans, performs and plans again the delete of what `inputs` name: the outputs of the perform.
            func delete(_ action: String, _ inputs: [String: String], plan: String) async throws -> [String: String] {
                let delete = try f.action(action)
                #expect(try await delete.plan(invocation(inputs)) == ActionPlan(.change, plan), "\(action)")
                let out = try await delete.perform(invocation(inputs))
                let absent = inputs["name"] ?? inputs["snapshot_identifier"] ?? ""
                #expect(try await delete.plan(invocation(inputs)) == ActionPlan(.nothing, "\(absent) is absent"), "\(action)")
                #expect(!delete.hasUndo, "\(action)")
                return out
            }

            _ = try await create("aws.iam.create-role", ["name": name, "trust_service": "lambda.amazonaws.com"])
            #expect(try await delete("aws.iam.delete-role", ["name": name], plan: "delete IAM role \(name)") == ["result": "deleted"])

            _ = try await create("aws.rds.create-db-parameter-group", ["name": name, "family": "postgres15"])
            #expect(try await delete("aws.rds.delete-db-parameter-group", ["name": name], plan: "delete parameter group \(name)") == ["result": "deleted"])

            let network = try await create("aws.ec2.create-network", ["name": name, "cidr": "10.60.0.0/16"])
            _ = try await create("aws.rds.create-db-subnet-group", ["name": name, "subnet_ids": network["subnet_ids"] ?? ""])
            #expect(try await delete("aws.rds.delete-db-subnet-group", ["name": name], plan: "delete subnet group \(name)")
                    == ["result": "deleted", "undo": "deleted \(name)"])
            #expect(try await delete("aws.ec2.delete-network", ["name": name], plan: "delete VPC \(name)")
                    == ["result": "deleted", "vpc_id": network["vpc_id"] ?? "?"])

            _ = try await create("aws.sns.create-topic", ["name": name])
            #expect(try await delete("aws.sns.delete-topic", ["name": name], plan: "delete SNS topic \(name)") == ["result": "deleted"])
            let sns = try f.aws.sns(region: "us-east-1")
            let stranger = try await sns.createTopic(name: name)
            #expect(try await f.action("aws.sns.delete-topic").perform(invocation(["name": name]))
                    == ["result": "kept", "reason": "\(name) was not created by runbook"])
            try await sns.deleteTopic(arn: stranger)

            let zone = try await create("aws.route53.create-hosted-zone", ["name": name + ".example.com", "private": "false"])
            #expect(try await delete("aws.route53.delete-hosted-zone", ["name": name + ".example.com"], plan: "delete hosted zone \(name).example.com")
                    == ["result": "deleted", "deleted": zone["zone_id"] ?? "?"])
            let check = try await create("aws.route53.create-health-check", ["name": name, "alarm_name": name, "alarm_region": "us-east-1"])
            #expect(try await delete("aws.route53.delete-health-check", ["name": name], plan: "delete health check \(name)")
                    == ["result": "deleted", "deleted": check["health_check_id"] ?? "?"])

            let rds = try f.aws.rds(region: "us-east-1")
            _ = try await rds.createDBInstance(F.instanceRequest(name))
            let snapshot = ["snapshot_identifier": name + "-snap", "identifier": name]
            _ = try await create("aws.rds.create-db-snapshot", snapshot)
            let refused = await #expect(throws: ActionFailure.self) {
                _ = try await f.action("aws.rds.delete-db-snapshot").perform(invocation(snapshot.merging(["only_this_run": "true"]) { a, _ in a }, run: F.runID()))
            }
            #expect(refused?.message == "DB snapshot \(name)-snap in us-east-1 was not created by this run; refusing to delete it")
            #expect(try await delete("aws.rds.delete-db-snapshot", snapshot.merging(["only_this_run": "true"]) { a, _ in a }, plan: "delete snapshot \(name)-snap")
                    == ["result": "deleted", "undo": "deleted \(name)-snap"])
            _ = try await rds.deleteDBInstance(identifier: name, skipFinalSnapshot: true)
        }
    }

    @Test("cross-region snapshot copy: tagged with the run, recovered on a retry, a stranger's copy refused, undo deletes only this run's copy")
    func crossRegionCopy() async throws {
        try await F.with { f in
            let run = F.runID(), id = LocalAWSEmulator.uniqueName("cp")
            let east = try f.aws.rds(region: "us-east-1"), west = try f.aws.rds(region: "us-west-2")
            var request = F.instanceRequest(id)
            request.backupRetentionPeriod = 1
            _ = try await east.createDBInstance(request)
            try await Task.sleep(for: .milliseconds(1100))  // SnapshotCreateTime has second resolution in the XML
            _ = try await east.createDBSnapshot(snapshotIdentifier: id + "-manual", instanceIdentifier: id)

            let latest = try await FindLatestSnapshotAction(provider: f.provider).perform(F.invocation("latest-snapshot", run: run, ["identifier": id, "region": "us-east-1"]))
            #expect(latest["snapshot_identifier"] == id + "-manual", "the manual snapshot is newer than the automated one: \(latest)")
            #expect(latest["engine"] == "postgres")

            let copy = CopyDBSnapshotAction(provider: f.provider)
            let inputs = ["source_snapshot": latest["snapshot_arn"] ?? "", "source_region": "us-east-1", "target_snapshot_identifier": id + "-copy",
                          "region": "us-west-2", "pace": "20ms"]
            let out = try await copy.perform(F.invocation("copy-snapshot", run: run, inputs))
            #expect(out["result"] == "created" && out["snapshot_arn"]?.hasPrefix("arn:aws:rds:us-west-2:") == true, "\(out)")
            let copied = try #require(try await west.describeDBSnapshots(snapshotIdentifier: id + "-copy").items.first)
            #expect(try await west.listTagsForResource(arn: copied.arn ?? "").contains(AWSTag("runbook:run-id", run)))
            let again = try await copy.perform(F.invocation("copy-snapshot", run: run, inputs))
            #expect(again["result"] == "recovered")
            await #expect(throws: ActionFailure.self, "another run's copy is not adopted") {
                _ = try await copy.perform(F.invocation("copy-snapshot", run: F.runID(), inputs))
            }
            let strangerUndo = try await copy.undo(F.invocation("copy-snapshot", run: F.runID(), inputs, purpose: .compensation))
            #expect(strangerUndo["undo"]?.hasPrefix("kept") == true)
            _ = try await copy.undo(F.invocation("copy-snapshot", run: run, inputs, outputs: out, purpose: .compensation))
            await #expect(throws: AWSError.self) { _ = try await west.describeDBSnapshots(snapshotIdentifier: id + "-copy") }

            _ = try await east.deleteDBSnapshot(snapshotIdentifier: id + "-manual")
            _ = try await east.deleteDBInstance(identifier: id, skipFinalSnapshot: true)
        }
    }
}
