import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookAWS
import RunbookTestSupport
import Testing

/// Runs the built `runbook` against the local emulator, as an operator would, and inspects the emulator with the AWS client.
struct DRHarness {
    let emulator: LocalAWSEmulator
    let directory: TemporaryDirectory
    let binary: String
    var database: String { directory.path + "/runbook.sqlite" }
    var runbooks: String { RunbookBinary.repositoryRoot() + "/Runbooks" }

    /// - Parameter dataPlane: real PostgreSQL servers behind the RDS instances (an emulator of their own).
    init(dataPlane: Bool = false) async throws {
        try await self.init(emulator: dataPlane ? try await LocalAWSEmulator.withDataPlane("dr-runbooks") : try await LocalAWSEmulator.dedicated("dr-runbooks"))
    }

    /// A harness on an emulator of the caller's choosing (e.g. one of its own, for tests that change its settings).
    init(emulator: LocalAWSEmulator) async throws {
        self.emulator = emulator
        directory = try TemporaryDirectory(prefix: "runbook-dr")
        binary = try RunbookBinary.path()
    }

    func arguments(_ args: [String], runbooks: String? = nil) -> [String] { ["--db", database, "--runbooks", runbooks ?? self.runbooks] + args }

    /// Runs the binary to completion on a thread of its own, so the wait does not hold one of the (two, on this machine)
    /// threads of Swift's cooperative pool that every other suite running in parallel needs.
    func run(_ args: [String], runbooks: String? = nil) async throws -> CommandResult {
        let binary = binary, arguments = arguments(args, runbooks: runbooks), environment = emulator.environment
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try CommandRunner.run(binary, arguments, environment: environment) })
            }.start()
        }
    }

    /// `runbook ARGS --json`, parsed.
    func runJSON(_ args: [String], runbooks: String? = nil) async throws -> (CommandResult, [String: Any]) {
        let result = try await run(args + ["--json"], runbooks: runbooks)
        let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result, object)
    }

    /// Instances pass through creating/backing-up/rebooting/modifying for `times` describes each.
    func setTransitions(times: Int) async throws {
        for model in ["rds::dbinstance", "rds::dbsnapshot"] {
            guard let url = URL(string: emulator.endpoint + "/moto-api/state-manager/set-transition") else { return }
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = Data(#"{"model_name": "\#(model)", "transition": {"progression": "manual", "times": \#(times)}}"#.utf8)
            _ = try await URLSession.shared.data(for: request)
        }
    }

    func withAWS<T: Sendable>(_ body: (AWSClient) async throws -> T) async throws -> T {
        let client = AWSClient(configuration: try AWSConfiguration.resolve(environment: emulator.environment))
        do {
            let value = try await body(client)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Everything that exists for `name` (and `zone`), one line per resource, with its ownership tag shown as `run=ID`
    /// (or `RUN` when it equals `normalizeRun`), so two accounts can be compared.
    func state(_ name: String, zone: String, normalizeRun: String? = nil) async throws -> [String] {
        try await withAWS { aws in
            var lines: [String] = []
            func owner(_ tags: [AWSTag]) -> String {
                let id = tags.first { $0.key == "runbook:run-id" }?.value ?? "none"
                return "run=" + (id == normalizeRun ? "RUN" : (normalizeRun == nil ? id : "OTHER"))
            }
            for region in ["us-east-1", "us-west-2"] {
                let rds = try aws.rds(region: region)
                for db in try await rds.describeDBInstances().items where db.identifier == name || db.identifier == name + "-replica" {
                    lines.append("instance \(region) \(db.identifier) \(db.status) multiAZ=\(db.multiAZ) source=\(db.readReplicaSourceDBInstanceIdentifier ?? "-") \(owner(db.tags))")
                }
                for group in try await rds.describeDBParameterGroups().items where group.name == name + "-params" {
                    lines.append("parameter-group \(region) \(group.name) \(owner(try await rds.listTagsForResource(arn: group.arn ?? "")))")
                }
                for group in try await rds.describeDBSubnetGroups().items where group.name == name + "-subnets" {
                    lines.append("subnet-group \(region) \(group.name) \(owner(try await rds.listTagsForResource(arn: group.arn ?? "")))")
                }
                for snapshot in try await rds.describeDBSnapshots().items where snapshot.identifier.hasPrefix(name + "-") {
                    lines.append("snapshot \(region) \(snapshot.identifier)")
                }
                let ec2 = try aws.ec2(region: region)
                for vpc in try await ec2.describeVpcs(filters: [EC2.Filter("tag:Name", [name])]) {
                    let subnets = try await ec2.describeSubnets(filters: [EC2.Filter("vpc-id", [vpc.id])])
                    lines.append("vpc \(region) \(name) subnets=\(subnets.count) \(owner(vpc.tags))")
                }
                let cw = try aws.cloudWatch(region: region)
                for alarm in try await cw.describeAlarms(alarmNamePrefix: name + "-").items {
                    lines.append("alarm \(region) \(alarm.name) \(alarm.dimensions.map(\.value).joined()) \(owner(try await cw.listTagsForResource(arn: alarm.arn ?? "")))")
                }
                let sns = try aws.sns(region: region)
                for arn in try await sns.listTopics().items where arn.hasSuffix(":\(name)-alerts") {
                    lines.append("topic \(region) \(name)-alerts \(owner(try await sns.listTagsForResource(arn: arn)))")
                }
            }
            for role in ["\(name)-monitoring", "\(name)-promotion"] {
                if let found = try? await aws.iam.getRole(name: role) {
                    let policies = try await aws.iam.listAttachedRolePolicies(roleName: role).items.count
                    lines.append("role \(found.name) policies=\(policies) \(owner(try await aws.iam.listRoleTags(roleName: role)))")
                }
            }
            for hostedZone in try await aws.route53.listHostedZonesByName(dnsName: zone + ".") where hostedZone.name == zone + "." {
                lines.append("zone \(zone) private=\(hostedZone.privateZone) \(owner(try await aws.route53.listTagsForResource(resourceType: "hostedzone", id: hostedZone.id)))")
                for record in try await aws.route53.listAllResourceRecordSets(zoneID: hostedZone.id) where record.type == "CNAME" {
                    lines.append("record \(record.name) \(record.setIdentifier ?? "") \(record.failover ?? "") \(record.values.joined(separator: ",").replacingOccurrences(of: name, with: "NAME"))")
                }
            }
            for check in try await aws.route53.listHealthChecks().items {
                let tags = try await aws.route53.listTagsForResource(resourceType: "healthcheck", id: check.id)
                if tags.contains(AWSTag("Name", "\(name)-primary")) { lines.append("health-check \(name)-primary \(check.config.type) \(owner(tags))") }
            }
            return lines.map { $0.replacingOccurrences(of: name, with: "NAME") }.sorted()
        }
    }

    /// What drill's restore check may leave behind: the instance and the copied snapshot NAME-restore-check in us-west-2.
    func restoreCheckLeftovers(_ name: String) async throws -> [String] {
        try await withAWS { aws in
            let rds = try aws.rds(region: "us-west-2")
            var found: [String] = []
            for db in try await rds.describeDBInstances().items where db.identifier == name + "-restore-check" { found.append("instance \(db.identifier) \(db.status)") }
            for snapshot in try await rds.describeDBSnapshots().items where snapshot.identifier == name + "-restore-check" { found.append("snapshot \(snapshot.identifier)") }
            return found
        }
    }

    /// Steps' outputs by step id from a `--json` run object.
    static func outputs(_ run: [String: Any]) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        for step in run["steps"] as? [[String: Any]] ?? [] {
            if let id = step["id"] as? String { result[id] = step["outputs"] as? [String: String] ?? [:] }
        }
        return result
    }

    static func polls(_ run: [String: Any], _ step: String) -> Int {
        (run["steps"] as? [[String: Any]] ?? []).first { $0["id"] as? String == step }?["polls"] as? Int ?? 0
    }
}

/// The four DR runbooks end to end against the emulator with status transitions on (each instance and snapshot passes
/// through its intermediate statuses for two describes), so every runbook must wait before it acts.
@Suite("DR runbooks end to end", .serialized)
struct DRRunbookTests {
    static let fast = ["--param", "poll_interval=20ms"]

    func params(_ name: String, _ zone: String) -> [String] { ["--param", "name=\(name)", "--param", "zone=\(zone)"] + Self.fast }

    @Test("provision → drill → promote-secondary → cleanup, checking the account after each")
    func fullCycle() async throws {
        let h = try await DRHarness()
        defer { h.directory.remove() }
        try await h.setTransitions(times: 2)
        let name = LocalAWSEmulator.uniqueName("fin"), zone = "\(name).internal"

        let (provisioned, provision) = try await h.runJSON(["run", "provision"] + params(name, zone))
        #expect(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        #expect(DRHarness.polls(provision, "primary") >= 3, "the primary's waiter must poll through creating and backing-up")
        #expect(DRHarness.polls(provision, "replica") >= 2)
        let afterProvision = try await h.state(name, zone: zone)
        #expect(afterProvision.contains("instance us-east-1 NAME available multiAZ=true source=- run=\(provision["id"] as? String ?? "")"))
        #expect(afterProvision.contains { $0.hasPrefix("instance us-west-2 NAME-replica available multiAZ=false source=arn:aws:rds:us-east-1:") })
        #expect(afterProvision.contains { $0.hasPrefix("record db.NAME.internal. db-primary PRIMARY NAME.") })
        #expect(afterProvision.contains { $0.hasPrefix("record db.NAME.internal. db-secondary SECONDARY NAME-replica.") })
        #expect(afterProvision.filter { $0.hasPrefix("alarm ") }.count == 2)
        #expect(afterProvision.contains { $0.hasPrefix("health-check NAME-primary CLOUDWATCH_METRIC") })
        #expect(afterProvision.contains { $0.hasPrefix("zone NAME.internal private=true") })
        #expect(afterProvision.filter { $0.contains("run=none") }.isEmpty, "every resource carries the run's tags: \(afterProvision)")

        let azBefore = try await h.withAWS { try await $0.rds(region: "us-east-1").describeDBInstance(identifier: name).availabilityZone }
        let (drilled, drill) = try await h.runJSON(["run", "drill", "--param", "name=\(name)", "--param", "restore_check=true", "--param", "measure_writes=false"] + Self.fast)
        #expect(drilled.exitCode == 0, "\(drilled.stdout)\(drilled.stderr)")
        // The backup-restore check: latest snapshot copied to us-west-2, restored, verified, deleted again.
        let restoreReport = DRHarness.outputs(drill)["restore-report"] ?? [:]
        #expect(restoreReport["restore_verified"] == "true", "\(restoreReport)")
        #expect(restoreReport["restored_instance"] == "\(name)-restore-check" && restoreReport["restored_engine"] == "postgres")
        #expect(restoreReport["restored_instance_deleted"] == "deleted")
        #expect(restoreReport["restored_from_snapshot"]?.isEmpty == false)
        #expect(DRHarness.outputs(drill)["copy-snapshot"]?["result"] == "created")
        #expect(DRHarness.polls(drill, "copy-snapshot") >= 2, "the copy's waiter polls through creating")
        #expect(DRHarness.polls(drill, "restore") >= 3, "the restore waiter polls through creating and backing-up")
        #expect(DRHarness.polls(drill, "delete-restore") >= 2, "the delete waiter polls through deleting")
        #expect(try await h.restoreCheckLeftovers(name).isEmpty, "a successful drill leaves no restored instance and no copy")

        let report = DRHarness.outputs(drill)["report"] ?? [:]
        #expect(Double(report["recovery_seconds"] ?? "") != nil, "drill reports the recovery time: \(report)")
        #expect(report["replica_lag_seconds"] == "unknown")
        #expect(DRHarness.polls(drill, "failover") >= 2, "the failover waiter polls through rebooting")
        let azAfter = try await h.withAWS { try await $0.rds(region: "us-east-1").describeDBInstance(identifier: name).availabilityZone }
        #expect(azBefore != nil && azAfter != azBefore, "the forced failover moved the writer to the standby's AZ")

        // The same drill failing right after the restore: the rollback deletes the restored instance and the copy.
        let drillSource = try String(contentsOfFile: h.runbooks + "/drill.yaml", encoding: .utf8)
        let failing = drillSource.replacingOccurrences(of: "name: drill\n", with: "name: drill-failing\n")
            .replacingOccurrences(of: "  - id: verify-restore\n    description: the restored instance is available and runs the snapshot's engine\n    needs: [restore]\n",
                                  with: "  - id: verify-restore\n    needs: [restore, late-failure]\n")
            + "  - id: late-failure\n    needs: [restore]\n    action: fail\n    retry: { max_attempts: 1 }\n    with: { message: injected failure after the restore }\n"
        #expect(failing.contains("needs: [restore, late-failure]"))
        try h.directory.write("drill-runbooks/drill-failing.yaml", failing)
        let (failed, failedRun) = try await h.runJSON(["run", "drill-failing", "--param", "name=\(name)", "--param", "restore_check=true"] + Self.fast,
                                                runbooks: h.directory.path + "/drill-runbooks")
        #expect(failed.exitCode != 0)
        #expect(failedRun["status"] as? String == "rolled_back", "\(failed.stdout)\(failed.stderr)")
        #expect(DRHarness.outputs(failedRun)["restore"]?["result"] == "created", "the restore had happened before the failure")
        #expect(try await h.restoreCheckLeftovers(name).isEmpty, "the rollback deleted the restored instance and the copy")
        let statuses = Dictionary((failedRun["steps"] as? [[String: Any]] ?? []).compactMap { step in
            (step["id"] as? String).map { ($0, step["status"] as? String ?? "") }
        }, uniquingKeysWith: { first, _ in first })
        #expect(statuses["restore"] == "compensated" && statuses["copy-snapshot"] == "compensated", "\(statuses)")

        // The default drill (restore_check=false) skips the whole restore branch.
        let (plain, plainRun) = try await h.runJSON(["run", "drill", "--param", "name=\(name)", "--param", "measure_writes=false"] + Self.fast)
        #expect(plain.exitCode == 0, "\(plain.stdout)\(plain.stderr)")
        let plainStatuses = Dictionary((plainRun["steps"] as? [[String: Any]] ?? []).compactMap { step in
            (step["id"] as? String).map { ($0, step["status"] as? String ?? "") }
        }, uniquingKeysWith: { first, _ in first })
        #expect(plainStatuses["report"] == "succeeded" && plainStatuses["restore"] == "skipped" && plainStatuses["copy-snapshot"] == "skipped", "\(plainStatuses)")

        // Without lag data the promotion refuses (and changes nothing); with a datapoint under max_lag it proceeds.
        let (refused, _) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "measure=false"] + params(name, zone))
        #expect(refused.exitCode != 0)
        try await h.withAWS { aws in
            try await aws.cloudWatch(region: "us-west-2").putMetricData(namespace: "AWS/RDS", data: [
                .init(metricName: "ReplicaLag", value: 7, unit: "Seconds", dimensions: [.init("DBInstanceIdentifier", name + "-replica")]),
            ])
        }
        let (promoted, promote) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "measure=false"] + params(name, zone))
        #expect(promoted.exitCode == 0, "\(promoted.stdout)\(promoted.stderr)")
        let promoteReport = DRHarness.outputs(promote)["report"] ?? [:]
        #expect(promoteReport["replica_lag_at_promotion_seconds"] == "7")
        #expect(Double(promoteReport["recovery_seconds"] ?? "") != nil)
        let afterPromote = try await h.state(name, zone: zone)
        #expect(afterPromote.contains { $0.hasPrefix("instance us-west-2 NAME-replica available multiAZ=false source=- ") }, "\(afterPromote)")
        #expect(afterPromote.contains { $0.hasPrefix("instance us-east-1 NAME available") }, "the old primary is never deleted")
        #expect(afterPromote.contains { $0.hasPrefix("record db.NAME.internal. db-primary PRIMARY NAME-replica.") }, "\(afterPromote)")
        #expect(afterPromote.contains { $0.hasPrefix("alarm us-west-2 NAME-replica-connections NAME-replica") })

        let (cleaned, cleanup) = try await h.runJSON(["run", "cleanup", "--param", "name=\(name)", "--param", "zone=\(zone)"] + Self.fast)
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
        let unprotect = DRHarness.outputs(cleanup)["unprotect-primary"] ?? [:]
        #expect(unprotect["previous_deletion_protection"] == "true" && unprotect["result"] == "changed", "cleanup records the protection it turned off: \(unprotect)")
        let afterCleanup = try await h.state(name, zone: zone)
        // Both were writers by then (the old primary fenced, the promoted replica): each leaves its final snapshot.
        #expect(afterCleanup == ["snapshot us-east-1 NAME-final", "snapshot us-west-2 NAME-replica-final"], "cleanup leaves only the final snapshots: \(afterCleanup)")
        try await h.withAWS { aws in
            _ = try await aws.rds(region: "us-east-1").deleteDBSnapshot(snapshotIdentifier: name + "-final")
            _ = try await aws.rds(region: "us-west-2").deleteDBSnapshot(snapshotIdentifier: name + "-replica-final")
        }
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    @Test("a provision that fails at its last step rolls back to exactly the account it found, pre-existing topic untouched")
    func failureRollsBack() async throws {
        let h = try await DRHarness()
        defer { h.directory.remove() }
        try await h.setTransitions(times: 2)
        let name = LocalAWSEmulator.uniqueName("fin"), zone = "\(name).internal"
        let topicARN = try await h.withAWS { try await $0.sns(region: "us-east-1").createTopic(name: name + "-alerts", tags: [AWSTag("owner", "finance")]) }
        let before = try await h.state(name, zone: zone)
        #expect(before == ["topic us-east-1 NAME-alerts run=none"])

        // A variant of the shipped provision with a failing step after everything else.
        let source = try String(contentsOfFile: h.runbooks + "/provision.yaml", encoding: .utf8)
        let variant = source.replacingOccurrences(of: "name: provision\n", with: "name: provision-failing\n")
            + "  - id: late-failure\n    needs: [report]\n    action: fail\n    with: { message: injected failure }\n"
        try h.directory.write("runbooks/provision-failing.yaml", variant)
        let (result, run) = try await h.runJSON(["run", "provision-failing"] + params(name, zone), runbooks: h.directory.path + "/runbooks")
        #expect(result.exitCode != 0)
        #expect(run["status"] as? String == "rolled_back", "\(result.stdout)\(result.stderr)")
        #expect(DRHarness.outputs(run)["topic-primary"]?["result"] == "adopted", "the pre-existing topic is adopted, not created")
        let after = try await h.state(name, zone: zone)
        #expect(after == before, "rollback leaves the account as it was: \(after)")
        let tags = try await h.withAWS { try await $0.sns(region: "us-east-1").listTagsForResource(arn: topicARN) }
        #expect(tags == [AWSTag("owner", "finance")])
        try await h.withAWS { try await $0.sns(region: "us-east-1").deleteTopic(arn: topicARN) }
    }

    @Test("SIGKILL at five moments during provision, resume each time: same account as an uninterrupted run")
    func crashAndResume() async throws {
        let h = try await DRHarness()
        defer { h.directory.remove() }
        try await h.setTransitions(times: 2)
        let reference = LocalAWSEmulator.uniqueName("ref"), name = LocalAWSEmulator.uniqueName("crash")
        let slow = ["--param", "poll_interval=800ms"]

        let (clean, cleanRun) = try await h.runJSON(["run", "provision", "--param", "name=\(reference)", "--param", "zone=\(reference).internal"] + slow)
        #expect(clean.exitCode == 0)
        let expected = try await h.state(reference, zone: "\(reference).internal", normalizeRun: cleanRun["id"] as? String)

        var runID: String?
        var kills = 0
        for delay in [0.25, 0.4, 0.55, 0.7, 0.85] {
            let args = runID.map { ["resume", $0] } ?? (["run", "provision", "--param", "name=\(name)", "--param", "zone=\(name).internal"] + slow)
            let started = try CommandRunner.start(h.binary, h.arguments(args), environment: h.emulator.environment)
            try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            if started.process.isRunning {
                kill(started.process.processIdentifier, SIGKILL)
                kills += 1
            }
            await started.exited()
            if runID == nil {
                let runs = try await h.run(["runs", "--json"])
                let list = (try? JSONSerialization.jsonObject(with: Data(runs.stdout.utf8))) as? [[String: Any]] ?? []
                // Not the reference run: under load a kill can land before this process has created its run.
                runID = list.first { $0["id"] as? String != cleanRun["id"] as? String }?["id"] as? String
            }
        }
        let id = try #require(runID)
        #expect(kills >= 5, "each of the five kills landed while provision was running")
        let (resumed, final) = try await h.runJSON(["resume", id])
        #expect(resumed.exitCode == 0 && final["status"] as? String == "succeeded", "\(resumed.stdout)\(resumed.stderr)")
        let actual = try await h.state(name, zone: "\(name).internal", normalizeRun: id)
        #expect(actual == expected, "no duplicates, everything tagged with the run")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
        for (n, z) in [(reference, "\(reference).internal"), (name, "\(name).internal")] {
            #expect(try await h.run(["run", "cleanup", "--param", "name=\(n)", "--param", "zone=\(z)", "--param", "skip_final_snapshot=true"] + Self.fast).exitCode == 0)
        }
    }

    @Test("plan before and after provision changes nothing; a second provision adopts everything")
    func planAndSecondRun() async throws {
        let h = try await DRHarness()
        defer { h.directory.remove() }
        try await h.setTransitions(times: 2)
        let name = LocalAWSEmulator.uniqueName("fin"), zone = "\(name).internal"

        let planBefore = try await h.run(["plan", "provision", "--json"] + params(name, zone))
        #expect(planBefore.exitCode == 0)
        let rowsBefore = (try? JSONSerialization.jsonObject(with: Data(planBefore.stdout.utf8))) as? [[String: String]] ?? []
        #expect(rowsBefore.first { $0["step"] == "primary" }?["effect"] == "create")
        #expect(rowsBefore.first { $0["step"] == "zone" }?["effect"] == "create")
        #expect(try await h.state(name, zone: zone).isEmpty, "plan changes nothing")

        let (first, _) = try await h.runJSON(["run", "provision"] + params(name, zone))
        #expect(first.exitCode == 0)
        let afterFirst = try await h.state(name, zone: zone)

        let planAfter = try await h.run(["plan", "provision", "--json"] + params(name, zone))
        let rowsAfter = (try? JSONSerialization.jsonObject(with: Data(planAfter.stdout.utf8))) as? [[String: String]] ?? []
        #expect(rowsAfter.first { $0["step"] == "primary" }?["effect"] == "adopt")
        #expect(rowsAfter.first { $0["step"] == "record-primary" }?["effect"] == "nothing")
        #expect(!rowsAfter.contains { $0["effect"] == "create" }, "\(planAfter.stdout)")
        #expect(try await h.state(name, zone: zone) == afterFirst)

        let (second, run) = try await h.runJSON(["run", "provision"] + params(name, zone))
        #expect(second.exitCode == 0)
        for (step, outputs) in DRHarness.outputs(run) where step != "report" && step != "primary-settled" && outputs["result"] != nil {
            #expect(["adopted", "unchanged"].contains(outputs["result"] ?? ""), "\(step): \(outputs)")
        }
        #expect(try await h.state(name, zone: zone) == afterFirst, "a second run creates and changes nothing")
        #expect(try await h.run(["run", "cleanup", "--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "skip_final_snapshot=true"] + Self.fast).exitCode == 0)
        #expect(try await h.state(name, zone: zone).isEmpty)
    }
}
