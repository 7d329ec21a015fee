import Foundation
import RunbookAWS
import RunbookPostgres
import RunbookTestSupport
import Testing

/// The regional round trip against the emulator's real PostgreSQL servers: provision → switchover → reprotect →
/// switchover (failback) → reprotect → cleanup, while an application commits rows through the failover record.
@Suite("Regional round trip", .serialized)
struct RoundTripTests {
    static let primary = "us-east-1", secondary = "us-west-2"
    static let appPassword = "app-password-7c1e9a"

    func params(_ name: String, _ zone: String) -> [String] {
        ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=50ms"]
    }

    @Test("provision → switchover → reprotect → failback → reprotect → cleanup under writes: nothing acknowledged lost, the topology mirrored and restored")
    func roundTrip() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("round-trip"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("rt"), zone = "\(name).internal"
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        let provisioned = try await roles(h, name, zone)
        #expect(provisioned.contains("instance us-east-1 NAME role=writer source=- multiAZ=true")
                && provisioned.contains("instance us-west-2 NAME-replica role=standby source=NAME multiAZ=false"), "\(provisioned)")
        try await Self.setUpApplication(h, name)
        let workload = try await RecordFollowingWorkload(h, zone: zone, password: Self.appPassword)
        let writes = Task { await workload.run() }

        var acknowledgedBefore = workload.acknowledged.count
        for (leg, writer) in [(1, "NAME-replica"), (2, "NAME")] {
            let (switched, run) = try await h.runJSON(["run", "switchover", "--yes"] + params(name, zone))
            #expect(switched.exitCode == 0, "switchover \(leg): \(switched.stdout)\(switched.stderr)")
            let report = DRHarness.outputs(run)["report"] ?? [:]
            #expect(report["rpo_bytes"] == "0" && report["rpo_basis"] == "lsn", "switchover \(leg): \(report)")
            #expect(report["new_writer"]?.hasPrefix(writer.replacingOccurrences(of: "NAME", with: name) + " in ") == true, "\(report)")
            try await workload.expectNothingLost(after: "switchover \(leg)")

            let (reprotected, _) = try await h.runJSON(["run", "reprotect", "--yes"] + params(name, zone))
            #expect(reprotected.exitCode == 0, "reprotect \(leg): \(reprotected.stdout)\(reprotected.stderr)")
            let topology = try await roles(h, name, zone)
            let expected = leg == 1 ? Self.mirrored(provisioned) : Self.restored(provisioned)
            #expect(topology == expected, "after reprotect \(leg): \(topology) vs \(expected)")
            try await workload.waitForWrites(after: acknowledgedBefore)
            acknowledgedBefore = workload.acknowledged.count
            if leg == 1 {
                // A drill finds the writer wherever it is: here in the secondary region.
                let (drilled, drill) = try await h.runJSON(["run", "drill", "--param", "name=\(name)", "--param", "poll_interval=50ms"])
                #expect(drilled.exitCode == 0, "drill of the mirrored deployment: \(drilled.stdout)\(drilled.stderr)")
                let report = DRHarness.outputs(drill)["report"] ?? [:]
                #expect(report["lost_rows"] == "0" && DRHarness.outputs(drill)["pre-check"]?["identifier"] == "\(name)-replica", "\(report)")
            }
        }
        workload.stop()
        await writes.value
        try await workload.expectNothingLost(after: "the round trip")
        await workload.shutdown()

        let (cleaned, cleanup) = try await h.runJSON(["run", "cleanup"] + params(name, zone))
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
        let left = try await h.state(name, zone: zone)
        #expect(left.allSatisfy { $0.hasPrefix("snapshot ") && ($0.hasSuffix("-final") || $0.contains("-retired-")) }, "cleanup leaves only final snapshots: \(left)")
        // Back in provision's orientation NAME-replica is a replica: RDS takes no final snapshot of one.
        #expect(left.contains("snapshot \(Self.primary) NAME-final") && !left.contains("snapshot \(Self.secondary) NAME-replica-final"), "\(left)")
        #expect(DRHarness.outputs(cleanup)["delete-replica"]?["final_snapshot_skipped"] != nil, "\(DRHarness.outputs(cleanup)["delete-replica"] ?? [:])")
        #expect(try await roles(h, name, zone).isEmpty)
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    @Test("cleanup after a switchover keeps the writer's data: a final snapshot of NAME-replica, the writer now")
    func cleanupAfterASwitchover() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("cleanup-switched"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("cs"), zone = "\(name).internal"
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        let (switched, _) = try await h.runJSON(["run", "switchover", "--yes"] + params(name, zone))
        #expect(switched.exitCode == 0, "\(switched.stdout)\(switched.stderr)")

        let (cleaned, run) = try await h.runJSON(["run", "cleanup"] + params(name, zone))
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
        let left = try await h.state(name, zone: zone)
        #expect(left.contains("snapshot \(Self.secondary) NAME-replica-final"), "the writer's final snapshot: \(left)")
        #expect(!left.contains { $0.hasPrefix("instance ") }, "\(left)")
        #expect(DRHarness.outputs(run)["delete-replica"]?["final_snapshot"] == "\(name)-replica-final", "\(DRHarness.outputs(run)["delete-replica"] ?? [:])")
        #expect(DRHarness.outputs(run)["delete-primary-slot-standby"]?["result"] == "kept", "the fenced old writer NAME is no replica: deleted last")
    }

    @Test("cleanup of a mirrored deployment deletes the standby (NAME, a replica) before the writer: RDS never promotes it")
    func cleanupOfAMirroredDeployment() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("cleanup-mirrored"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("cm"), zone = "\(name).internal"
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        for runbook in ["switchover", "reprotect"] {
            let (done, _) = try await h.runJSON(["run", runbook, "--yes"] + params(name, zone))
            #expect(done.exitCode == 0, "\(runbook): \(done.stdout)\(done.stderr)")
        }

        let (cleaned, run) = try await h.runJSON(["run", "cleanup"] + params(name, zone))
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
        let left = try await h.state(name, zone: zone)
        #expect(left.contains("snapshot \(Self.secondary) NAME-replica-final"), "the writer's final snapshot: \(left)")
        #expect(DRHarness.outputs(run)["delete-primary-slot-standby"]?["final_snapshot_skipped"] != nil,
                "NAME was deleted as a read replica: \(DRHarness.outputs(run)["delete-primary-slot-standby"] ?? [:])")
        let step = { (id: String) in (run["steps"] as? [[String: Any]])?.first { $0["id"] as? String == id } ?? [:] }
        let standbyGone = try #require(step("delete-primary-slot-standby")["finished_at"] as? String)
        let writerDeleted = try #require(step("delete-replica")["started_at"] as? String)
        #expect(standbyGone <= writerDeleted, "the standby was gone (\(standbyGone)) before the writer's delete began (\(writerDeleted))")
        #expect(!left.contains { $0.hasPrefix("instance ") }, "\(left)")
    }

    @Test("reprotect with keep_old_writer keeps the old writer renamed, read-only in a group of its own and tagged retired; cleanup removes it")
    func keepOldWriter() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("keep-old-writer"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("ko"), zone = "\(name).internal"
        let provisioned = try await switchedWithApplication(h, name, zone)

        let (reprotected, run) = try await h.runJSON(["run", "reprotect", "--yes", "--param", "keep_old_writer=true"] + params(name, zone))
        #expect(reprotected.exitCode == 0, "\(reprotected.stdout)\(reprotected.stderr)")
        let status = { (id: String) in (run["steps"] as? [[String: Any]])?.first { $0["id"] as? String == id }?["status"] as? String }
        #expect(status("approve-retire") == "skipped" && status("retire-old") == "skipped" && status("keep-old") == "succeeded",
                "nothing is deleted, so nothing asks for approval; the pivot is keeping the old writer")
        #expect(try await roles(h, name, zone) == Self.mirrored(provisioned), "the new standby took the old writer's slot")
        let kept = "\(name)-retired-\(run["id"] as? String ?? "?")"
        let db = try await h.withAWS { try await $0.rds(region: Self.primary).describeDBInstance(identifier: kept) }
        #expect(db.tags.contains(AWSTag("runbook:role", "retired")) && db.tags.contains(AWSTag("runbook:deployment", name)), "\(db.tags)")
        #expect(db.parameterGroups.first?.name == kept && db.parameterGroups.first?.status == "in-sync", "\(db.parameterGroups)")
        try await Self.expectRefusesTheApplicationsWrite(try #require(db.endpointAddress))

        let (cleaned, _) = try await h.runJSON(["run", "cleanup"] + params(name, zone))
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
        let left = try await h.withAWS { aws in
            let rds = try aws.rds(region: Self.primary)
            let instances = try await rds.describeDBInstances().items.map(\.identifier).filter { $0.hasPrefix(name) }
            let groups = try await rds.describeDBParameterGroups().items.map(\.name).filter { $0.hasPrefix(name) }
            let snapshots = try await rds.describeDBSnapshots().items.map(\.identifier).filter { $0.hasPrefix(name) }
            return (instances, groups, snapshots)
        }
        #expect(left.0.isEmpty && left.1.isEmpty, "cleanup leaves no instance or parameter group: \(left)")
        #expect(left.2.contains("\(kept)-final"), "the kept old writer's final snapshot: \(left.2)")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    @Test("promote-secondary, reprotect, promote-secondary again: the second regional failover finds the standby in us-east-1 by itself")
    func failoverTwice() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("failover-twice"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("ft"), zone = "\(name).internal"
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        let provisioned = try await roles(h, name, zone)
        for (leg, standby) in [(1, "\(name)-replica"), (2, name)] {
            let (failedOver, run) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "force=true"] + params(name, zone))
            #expect(failedOver.exitCode == 0, "promote-secondary \(leg): \(failedOver.stdout)\(failedOver.stderr)")
            #expect(DRHarness.outputs(run)["locate"]?["standby_identifier"] == standby, "\(DRHarness.outputs(run)["locate"] ?? [:])")
            #expect(DRHarness.outputs(run)["data-report"]?["fenced"] == "true", "\(DRHarness.outputs(run)["data-report"] ?? [:])")

            let (reprotected, _) = try await h.runJSON(["run", "reprotect", "--yes"] + params(name, zone))
            #expect(reprotected.exitCode == 0, "reprotect \(leg): \(reprotected.stdout)\(reprotected.stderr)")
            let topology = try await roles(h, name, zone)
            let expected = leg == 1 ? Self.mirrored(provisioned) : Self.restored(provisioned)
            #expect(topology == expected, "after reprotect \(leg): \(topology) vs \(expected)")
        }
        // With nothing to promote (the standby promoted, no reprotect yet), it refuses and changes nothing.
        let (first, _) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "force=true"] + params(name, zone))
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        let (again, _) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "force=true"] + params(name, zone))
        #expect(again.exitCode == 1 && (again.stdout + again.stderr).contains("has no standby to promote"), "\(again.stdout)\(again.stderr)")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    @Test("SIGKILL at five moments during switchover and during reprotect, resumed each time: the round trip's end state, nothing duplicated, no acknowledged row lost")
    func killedAndResumed() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("round-trip-kills"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("rk"), zone = "\(name).internal"
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        let provisioned = try await roles(h, name, zone)
        try await Self.setUpApplication(h, name)
        let workload = try await RecordFollowingWorkload(h, zone: zone, password: Self.appPassword)
        let writes = Task { await workload.run() }
        try await h.setTransitions(times: 8)  // every status change takes 8 describes: long enough for five kills
        let slow = ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=500ms"]
        for runbook in ["switchover", "reprotect"] {
            let extra = runbook == "switchover" ? ["--param", "outage_poll_interval=500ms"] : []
            let (kills, id, _) = try await h.killRepeatedly(runbook: runbook, args: slow + extra)
            #expect(kills >= 5, "five kills landed while \(runbook) was running")
            let (resumed, final) = try await h.runJSON(["resume", id])
            #expect(resumed.exitCode == 0 && final["status"] as? String == "succeeded", "\(runbook): \(resumed.stdout)\(resumed.stderr)")
            if runbook == "switchover" {
                #expect(DRHarness.outputs(final)["report"]?["rpo_bytes"] == "0", "\(DRHarness.outputs(final)["report"] ?? [:])")
                try await workload.expectNothingLost(after: "the killed switchover")
            }
        }
        let topology = try await roles(h, name, zone)
        #expect(topology == Self.mirrored(provisioned), "the same end state as an uninterrupted round trip's first half: \(topology)")
        try await workload.waitForWrites(after: workload.acknowledged.count)
        workload.stop()
        await writes.value
        try await workload.expectNothingLost(after: "the killed reprotect")
        await workload.shutdown()
        let snapshots = try await h.state(name, zone: zone).filter { $0.contains("-retired-") }
        #expect(snapshots.count == 1, "the old writer was retired once: \(snapshots)")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    @Test("SIGKILL while keep-old renames and reboots the old writer, and after kept-fenced starts, resumed each time: kept once, read-only")
    func keepOldWriterKilledAndResumed() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.withDataPlane("keep-kills"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("kk"), zone = "\(name).internal"
        let provisioned = try await switchedWithApplication(h, name, zone)
        try await h.setTransitions(times: 8)  // a rename and a reboot each take 8 describes, 4 s at 500 ms
        var command = ["run", "reprotect", "--yes", "--param", "name=\(name)", "--param", "zone=\(zone)",
                       "--param", "poll_interval=500ms", "--param", "keep_old_writer=true"]
        var runID = ""
        for (step, delay) in [("keep-old", 1500), ("kept-fenced", 100)] {
            let (killed, id) = try await h.killOnce(command, when: step, runbook: "reprotect", after: .milliseconds(delay))
            #expect(killed, "the run was still going \(delay) ms after \(step) started")
            runID = id
            command = ["resume", id]
        }
        let (resumed, final) = try await h.runJSON(["resume", runID])
        #expect(resumed.exitCode == 0 && final["status"] as? String == "succeeded", "\(resumed.stdout)\(resumed.stderr)")
        #expect(try await roles(h, name, zone) == Self.mirrored(provisioned))
        let kept = try await h.withAWS { aws in
            try await aws.rds(region: Self.primary).describeDBInstances().items.filter { $0.identifier.hasPrefix("\(name)-retired-") }
        }
        #expect(kept.map(\.identifier) == ["\(name)-retired-\(runID)"], "kept once, under this run's name: \(kept.map(\.identifier))")
        try await Self.expectRefusesTheApplicationsWrite(try #require(kept.first?.endpointAddress))
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }

    /// A provisioned deployment with the application's table and user, switched over: provision's topology (roles()).
    func switchedWithApplication(_ h: DRHarness, _ name: String, _ zone: String) async throws -> [String] {
        try await DataPlaneDRTests.provision(h, name, zone, params(name, zone))
        let provisioned = try await roles(h, name, zone)
        try await Self.setUpApplication(h, name)
        let (switched, _) = try await h.runJSON(["run", "switchover", "--yes"] + params(name, zone))
        #expect(switched.exitCode == 0, "\(switched.stdout)\(switched.stderr)")
        return provisioned
    }

    /// The application's write to the instance at `address` is refused as read-only (SQLSTATE 25006).
    static func expectRefusesTheApplicationsWrite(_ address: String) async throws {
        let target = DatabaseTarget(host: address, port: 5432, database: "postgres", user: "app", credential: .password(appPassword),
                                    connectTimeout: .seconds(2), statementTimeout: .seconds(2))
        do {
            _ = try await DatabaseSession.with(target) { try await $0.rows("INSERT INTO workload VALUES (1)", doing: "writing") }
            Issue.record("the kept old writer at \(address) took a write")
        } catch let error as DatabaseError {
            #expect(error.isReadOnlyRefusal, "the kept old writer refuses writes as read-only: \(error)")
        }
    }

    /// The application's table and its own database user on the writer (it never logs in as the master user).
    static func setUpApplication(_ h: DRHarness, _ name: String) async throws {
        try await h.withAWS { aws in
            try await DataPlaneDRTests.withSession(aws, name, primary, secretOf: name) { db in
                try await db.rows("CREATE TABLE workload (id int PRIMARY KEY)", doing: "creating")
                // Interpolation would make the password a bind parameter, which CREATE ROLE does not take.
                try await db.rows("CREATE ROLE app LOGIN PASSWORD '\(unescaped: appPassword)'", doing: "creating the application's role")
                try await db.rows("GRANT SELECT, INSERT ON workload TO app", doing: "granting")
            }
        }
    }

    /// Provision's topology with the regions' roles swapped and reprotect's names for what follows the roles.
    static func mirrored(_ provisioned: [String]) -> [String] {
        [
            "alarm us-east-1 NAME-lag NAME", "alarm us-west-2 NAME-replica-connections NAME-replica",
            "backups us-east-1 of NAME-replica from us-west-2",
            "health-check NAME-replica-writer CLOUDWATCH_METRIC",
            "instance us-east-1 NAME role=standby source=NAME-replica multiAZ=false", "instance us-west-2 NAME-replica role=writer source=- multiAZ=true",
            "record PRIMARY NAME-replica", "record SECONDARY NAME",
        ]
    }

    /// Provision's topology again (the writer's health check is reprotect's).
    static func restored(_ provisioned: [String]) -> [String] {
        provisioned.map { $0 == "health-check NAME-primary CLOUDWATCH_METRIC" ? "health-check NAME-writer CLOUDWATCH_METRIC" : $0 }.sorted()
    }

    /// The deployment's roles and what follows them: instances (role tag, replication source), what the failover
    /// records name, alarms and their instance, health checks and their alarm, backup replication.
    func roles(_ h: DRHarness, _ name: String, _ zone: String) async throws -> [String] {
        try await h.withAWS { aws in
            var lines: [String] = [], endpoints: [String: String] = [:]
            for region in [Self.primary, Self.secondary] {
                let rds = try aws.rds(region: region)
                for db in try await rds.describeDBInstances().items where [name, name + "-replica"].contains(db.identifier) && db.status != "deleting" {
                    let role = db.tags.first { $0.key == "runbook:role" }?.value ?? "none"
                    let source = db.readReplicaSourceDBInstanceIdentifier.flatMap { $0.split(separator: ":").last.map(String.init) } ?? "-"
                    lines.append("instance \(region) \(db.identifier) role=\(role) source=\(source) multiAZ=\(db.multiAZ)")
                    if let address = db.endpointAddress { endpoints[address] = db.identifier }
                }
                for backup in try await rds.describeDBInstanceAutomatedBackups().items where backup.status == "replicating" && backup.instanceIdentifier.hasPrefix(name) {
                    lines.append("backups \(region) of \(backup.instanceIdentifier) from \(backup.region ?? "?")")
                }
                for alarm in try await aws.cloudWatch(region: region).describeAlarms(alarmNamePrefix: name + "-").items {
                    lines.append("alarm \(region) \(alarm.name) \(alarm.dimensions.map(\.value).joined())")
                }
            }
            for hostedZone in try await aws.route53.listHostedZonesByName(dnsName: zone + ".") where hostedZone.name == zone + "." {
                for record in try await aws.route53.listAllResourceRecordSets(zoneID: hostedZone.id) where record.type == "CNAME" {
                    lines.append("record \(record.failover ?? "-") \(record.values.map { endpoints[$0] ?? "unknown \($0)" }.joined(separator: ","))")
                }
            }
            for check in try await aws.route53.listHealthChecks().items {
                let tags = try await aws.route53.listTagsForResource(resourceType: "healthcheck", id: check.id)
                guard let label = tags.first(where: { $0.key == "Name" })?.value, label.hasPrefix(name + "-") else { continue }
                // moto keeps no AlarmIdentifier, so only the check's name says which writer's alarm it watches.
                lines.append("health-check \(label) \(check.config.type)")
            }
            return lines.map { $0.replacingOccurrences(of: name, with: "NAME") }.sorted()
        }
    }
}

/// An application that commits one row every 100 ms through whatever the PRIMARY failover record names (read from
/// Route 53 before each write), as its own database user; it records what was acknowledged.
final class RecordFollowingWorkload: @unchecked Sendable {
    let aws: AWSClient
    let zone: String
    let password: String
    private let lock = NSLock()
    private var ids: [Int] = []
    private var stopped = false

    init(_ h: DRHarness, zone: String, password: String) async throws {
        aws = AWSClient(configuration: try AWSConfiguration.resolve(environment: h.emulator.environment))
        self.zone = zone
        self.password = password
    }

    var acknowledged: [Int] { lock.withLock { ids } }
    func stop() { lock.withLock { stopped = true } }
    func shutdown() async { try? await aws.shutdown() }

    /// The address the PRIMARY record names now.
    func writerAddress() async throws -> String? {
        for hostedZone in try await aws.route53.listHostedZonesByName(dnsName: zone + ".") where hostedZone.name == zone + "." {
            return try await aws.route53.listAllResourceRecordSets(zoneID: hostedZone.id).first { $0.failover == "PRIMARY" }?.values.first
        }
        return nil
    }

    func target(_ address: String) -> DatabaseTarget {
        DatabaseTarget(host: address, port: 5432, database: "postgres", user: "app", credential: .password(password),
                       connectTimeout: .seconds(2), statementTimeout: .seconds(2))
    }

    func run() async {
        var next = 1
        while !lock.withLock({ stopped }) {
            let id = next
            next += 1
            if let address = try? await writerAddress() {
                let committed = (try? await DatabaseSession.with(target(address)) { session in
                    try await session.rows("INSERT INTO workload VALUES (\(id))", doing: "writing")
                    return true
                }) ?? false
                if committed { lock.withLock { ids.append(id) } }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits (up to 10 s) until the application has had a write acknowledged since it had `count`: it writes on.
    func waitForWrites(after count: Int) async throws {
        for _ in 0..<100 where acknowledged.count <= count { try await Task.sleep(for: .milliseconds(100)) }
        #expect(acknowledged.count > count, "the application's writes were acknowledged again (\(acknowledged.count) rows in all)")
    }

    /// Every acknowledged row is on the writer the PRIMARY record names.
    func expectNothingLost(after moment: String) async throws {
        let acknowledged = Set(self.acknowledged)
        let address = try #require(try await writerAddress())
        let stored = try await DatabaseSession.with(target(address)) { session in
            try await session.rows("SELECT id::text FROM workload", doing: "reading").compactMap { $0.first ?? nil }.compactMap(Int.init)
        }
        let missing = acknowledged.subtracting(stored)
        #expect(missing.isEmpty, "after \(moment): acknowledged rows missing on the writer \(address): \(missing.sorted())")
    }
}

/// reprotect refuses, changing nothing, when the deployment has no single writer or its old writer was never fenced.
@Suite("reprotect refusals", .serialized)
struct ReprotectRefusalTests {
    @Test("an old writer that was not fenced, then no writer at all: reprotect exits 1 and changes nothing")
    func refusals() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.dedicated("reprotect-refusals"))
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("rf"), zone = "\(name).internal"
        let params = ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=20ms"]
        let (provisioned, _) = try await h.runJSON(["run", "provision"] + params)
        try #require(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        // Someone promoted the replica by hand: two standalone instances, the old one never fenced.
        try await h.withAWS { _ = try await $0.rds(region: "us-west-2").promoteReadReplica(identifier: name + "-replica") }
        let before = try await h.state(name, zone: zone)

        let (refused, run) = try await h.runJSON(["run", "reprotect", "--yes"] + params)
        #expect(refused.exitCode == 1 && run["status"] as? String == "rolled_back", "\(refused.stdout)\(refused.stderr)")
        #expect((run["message"] as? String)?.contains("\(name)-replica in us-west-2 is a standalone writer that was not fenced") == true, "\(run["message"] ?? "")")
        #expect(try await h.state(name, zone: zone) == before, "nothing changed")

        try await h.withAWS { aws in
            let rds = try aws.rds(region: "us-east-1")
            let arn = try #require(try await rds.describeDBInstance(identifier: name).arn)
            try await rds.addTagsToResource(arn: arn, tags: [AWSTag("runbook:role", "standby")])
        }
        let (noWriter, none) = try await h.runJSON(["run", "reprotect", "--yes"] + params)
        #expect(noWriter.exitCode == 1, "\(noWriter.stdout)\(noWriter.stderr)")
        #expect((none["message"] as? String)?.contains("deployment \(name) has no writer") == true, "\(none["message"] ?? "")")
        #expect(try await h.state(name, zone: zone) == before, "nothing changed")
    }
}

extension DRHarness {
    /// Runs `command` and SIGKILLs it `delay` after step `step` of its `runbook` run has started (read from the run's
    /// history, as another terminal would); false when it ended first. Returns the run's id.
    func killOnce(_ command: [String], when step: String, runbook: String, after delay: Duration) async throws -> (killed: Bool, runID: String) {
        let started = try CommandRunner.start(binary, arguments(command), environment: emulator.environment)
        var runID: String?
        for _ in 0..<600 where started.process.isRunning {
            if runID == nil {
                let list = (try? JSONSerialization.jsonObject(with: Data(try await run(["runs", "--json"]).stdout.utf8))) as? [[String: Any]] ?? []
                runID = list.first { $0["runbook"] as? String == runbook }?["id"] as? String
            }
            if let id = runID {
                let history = (try? JSONSerialization.jsonObject(with: Data(try await run(["history", id, "--json"]).stdout.utf8))) as? [String: Any]
                let events = history?["events"] as? [[String: Any]] ?? []
                if events.contains(where: { $0["step"] as? String == step && ["step_started", "attempt_started"].contains($0["kind"] as? String) }) {
                    try await Task.sleep(for: delay)
                    let running = started.process.isRunning
                    if running { kill(started.process.processIdentifier, SIGKILL) }
                    await started.exited()
                    return (running, id)
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await started.exited()
        return (false, try #require(runID, "no \(runbook) run was recorded: \(started.stdout)\(started.stderr)"))
    }

    /// Starts `runbook` (then resumes it) and SIGKILLs it after 0.4–1 s, until five kills landed mid-run or it ended.
    func killRepeatedly(runbook: String, args: [String]) async throws -> (kills: Int, runID: String, ended: String) {
        var runID: String?
        var kills = 0
        var ended = ""
        for attempt in 0..<14 where kills < 5 {
            let delay = [0.4, 0.7, 1.0][attempt % 3]
            let command = runID.map { ["resume", $0] } ?? (["run", runbook, "--yes"] + args)
            let started = try CommandRunner.start(binary, arguments(command), environment: emulator.environment)
            try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            let running = started.process.isRunning
            if running {
                kill(started.process.processIdentifier, SIGKILL)
                kills += 1
            }
            await started.exited()
            if runID == nil {
                let runs = try await run(["runs", "--json"])
                let list = (try? JSONSerialization.jsonObject(with: Data(runs.stdout.utf8))) as? [[String: Any]] ?? []
                runID = list.first { $0["runbook"] as? String == runbook }?["id"] as? String
            }
            if !running {
                ended = started.stdout + started.stderr
                break
            }
        }
        return (kills, try #require(runID, "no \(runbook) run was recorded (\(kills) kills): \(ended)"), ended)
    }
}
