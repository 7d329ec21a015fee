import Foundation
import RunbookAWS
import RunbookPostgres
import RunbookTestSupport
import Testing

/// promote-secondary run by the built binary against the emulator's real PostgreSQL servers: the data loss
/// measured from the databases, the max_lag gate on it, and the old primary fenced (or not reachable).
@Suite("promote-secondary measured from the databases", .serialized)
struct DataPlaneDRTests {
    static let region = "us-east-1", secondary = "us-west-2"

    func params(_ name: String, _ zone: String) -> [String] {
        ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=20ms"]
    }

    /// Runs `body` on a session on `identifier` as the master user (a replica's password is its source's, as on RDS).
    static func withSession<T: Sendable>(_ aws: AWSClient, _ identifier: String, _ region: String, secretOf primary: String,
                                         _ body: (DatabaseSession) async throws -> T) async throws -> T {
        let db = try await aws.rds(region: region).describeDBInstance(identifier: identifier)
        let source = try await aws.rds(region: Self.region).describeDBInstance(identifier: primary)
        let secret = try await aws.secretsManager(region: Self.region).rdsMasterCredentials(secretID: try #require(source.masterUserSecretARN))
        let target = DatabaseTarget(host: try #require(db.endpointAddress), port: try #require(db.endpointPort), user: secret.username,
                                    credential: .password(secret.password), connectTimeout: .seconds(3), statementTimeout: .seconds(5))
        return try await DatabaseSession.with(target, body)
    }

    static func provision(_ h: DRHarness, _ name: String, _ zone: String, _ params: [String]) async throws {
        let (provisioned, _) = try await h.runJSON(["run", "provision"] + params)
        try #require(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        try await h.withAWS { aws in
            try await aws.cloudWatch(region: secondary).putMetricData(namespace: "AWS/RDS", data: [
                .init(metricName: "ReplicaLag", value: 0, unit: "Seconds", dimensions: [.init("DBInstanceIdentifier", name + "-replica")]),
            ])
        }
    }

    @Test("a replica cut off from its primary: the gate refuses and unfences; with force rpo_bytes is PostgreSQL's LSN distance and exactly the rows after the cut are lost")
    func pausedReplica() async throws {
        let h = try await DRHarness(dataPlane: true)
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("dp"), zone = "\(name).internal"
        try await Self.provision(h, name, zone, params(name, zone))
        try await h.withAWS { aws in
            try await Self.withSession(aws, name, Self.region, secretOf: name) { primary in
                try await primary.rows("CREATE TABLE workload (id int PRIMARY KEY)", doing: "creating")
                try await primary.rows("INSERT INTO workload SELECT generate_series(1, 3)", doing: "inserting")
            }
            try await Self.withSession(aws, name + "-replica", Self.secondary, secretOf: name) { replica in
                for _ in 0..<100 where (try? await replica.value("SELECT count(*)::text FROM workload", doing: "counting")) != "3" {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            try await h.emulator.dataPlane("cut-replication", identifier: name + "-replica", region: Self.secondary)
            try await Self.withSession(aws, name, Self.region, secretOf: name) { primary in
                try await primary.rows("INSERT INTO workload SELECT generate_series(4, 6)", doing: "inserting after the pause")
            }
        }

        let (refused, refusal) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "catch_up=1s", "--param", "max_lag=0s"] + params(name, zone))
        #expect(refused.exitCode == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refusal["status"] as? String == "rolled_back", "\(refused.stdout)")
        try await h.withAWS { aws in
            #expect(try await aws.rds(region: Self.secondary).describeDBInstance(identifier: name + "-replica").readReplicaSourceDBInstanceIdentifier != nil,
                    "nothing was promoted")
            try await Self.withSession(aws, name, Self.region, secretOf: name) { primary in
                try await primary.rows("INSERT INTO workload VALUES (7)", doing: "writing after the rollback (unfenced again)")
            }
        }

        let (promoted, run) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "catch_up=1s", "--param", "force=true"] + params(name, zone))
        #expect(promoted.exitCode == 0, "\(promoted.stdout)\(promoted.stderr)")
        let out = DRHarness.outputs(run)
        let report = out["data-report"] ?? [:]
        #expect(report["fenced"] == "true" && report["rpo_basis"] == "lsn", "\(report)")
        let bytes = try #require(UInt64(report["rpo_bytes"] ?? ""), "\(report)")
        #expect(bytes > 0)
        try await h.withAWS { aws in
            try await Self.withSession(aws, name + "-replica", Self.secondary, secretOf: name) { writer in
            let final = out["fence-primary"]?["final_lsn"] ?? "", replayed = out["recovery-point"]?["received_lsn"] ?? ""
            let distance = try await writer.value("SELECT pg_wal_lsn_diff(\(final)::pg_lsn, \(replayed)::pg_lsn)::bigint::text", doing: "measuring")
            #expect(distance == String(bytes), "PostgreSQL's own distance between \(final) and \(replayed)")
            let ids = try await writer.rows("SELECT id::text FROM workload ORDER BY id", doing: "reading").compactMap { $0.first ?? nil }
            #expect(ids == ["1", "2", "3"], "the rows committed after the pause are the ones lost")
            #expect(try await writer.replicationStatus().isStandby == false)
            }
        }

        // The master password reaches neither the database file, nor the output, nor the history or its export.
        let password = try await h.withAWS { aws in
            let arn = try #require(try await aws.rds(region: Self.region).describeDBInstance(identifier: name).masterUserSecretARN)
            return try await aws.secretsManager(region: Self.region).rdsMasterCredentials(secretID: arn).password
        }
        let id = try #require(run["id"] as? String)
        let history = try await h.run(["history", id])
        let export = try await h.run(["audit", "export", id, "--format", "json"])
        var stored = Data()
        for suffix in ["", "-wal"] { stored.append((try? Data(contentsOf: URL(fileURLWithPath: h.database + suffix))) ?? Data()) }
        #expect(password.count >= 8)
        #expect(stored.range(of: Data(password.utf8)) == nil, "the database file holds the master password")
        for text in [promoted.stdout, promoted.stderr, refused.stdout, refused.stderr, history.stdout, export.stdout] {
            #expect(!text.contains(password))
        }
        #expect(history.stdout.contains("fence-primary"), "the history was read")
    }

    @Test("a primary that does not answer: the promotion completes with exceptions, and resume fences it once it is back")
    func unreachablePrimary() async throws {
        let h = try await DRHarness(dataPlane: true)
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("dk"), zone = "\(name).internal"
        try await Self.provision(h, name, zone, params(name, zone))
        try await h.emulator.dataPlane("kill", identifier: name, region: Self.region)

        let started = ContinuousClock.now
        let (promoted, run) = try await h.runJSON(["run", "promote-secondary", "--yes", "--param", "fence_timeout=2s"] + params(name, zone))
        let took = ContinuousClock.now - started
        #expect(promoted.exitCode == 6, "\(promoted.stdout)\(promoted.stderr)")
        #expect(run["status"] as? String == "completed_with_exceptions")
        let report = DRHarness.outputs(run)["data-report"] ?? [:]
        #expect(report["fenced"] == "unreachable" && report["fence_error"]?.isEmpty == false, "\(report)")
        #expect(report["rpo_bytes"] == "unknown" && report["rpo_basis"] != "lsn", "\(report)")
        #expect(took < .seconds(60), "the dead primary costs its fence timeout and retries, not minutes: \(took)")
        let records = try await h.state(name, zone: zone)
        let newWriter = try await h.withAWS { try await $0.rds(region: Self.secondary).describeDBInstance(identifier: name + "-replica").endpointAddress }
        #expect(records.contains("record db.NAME.internal. db-primary PRIMARY \(newWriter ?? "?")"), "the PRIMARY record names the promoted instance: \(records)")

        try await h.emulator.dataPlane("start", identifier: name, region: Self.region)
        let id = try #require(run["id"] as? String)
        let (resumed, after) = try await h.runJSON(["resume", id])
        #expect(resumed.exitCode == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(after["status"] as? String == "succeeded")
        try await h.withAWS { aws in
            try await Self.withSession(aws, name, Self.region, secretOf: name) { old in
                let error = await #expect(throws: DatabaseError.self) { try await old.writeCanary(runID: "t", step: "t", sequence: 1) }
                #expect(error?.sqlState == "25006")
            }
        }
    }

    @Test("switchover: zero data loss by LSN, the final canary on the new writer, the old writer fenced and named by no record")
    func switchover() async throws {
        let h = try await DRHarness(dataPlane: true)
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("sw"), zone = "\(name).internal"
        try await Self.provision(h, name, zone, params(name, zone))
        let oldEndpoint = try await h.withAWS { aws in
            try await Self.withSession(aws, name, Self.region, secretOf: name) { primary in
                try await primary.rows("CREATE TABLE workload AS SELECT generate_series(1, 50) AS id", doing: "writing")
            }
            return try await aws.rds(region: Self.region).describeDBInstance(identifier: name).endpointAddress
        }
        let (switched, run) = try await h.runJSON(["run", "switchover", "--yes"] + params(name, zone))
        #expect(switched.exitCode == 0, "\(switched.stdout)\(switched.stderr)")
        let report = DRHarness.outputs(run)["report"] ?? [:]
        #expect(report["rpo_bytes"] == "0" && report["rpo_basis"] == "lsn" && report["fenced"] == "true", "\(report)")
        let outage = try #require(Double(report["write_outage_seconds"] ?? ""), "\(report)")
        let overhead = try #require(Double(report["tool_overhead_seconds"] ?? ""), "\(report)")
        let recovery = try #require(Double(report["recovery_seconds"] ?? ""), "\(report)")
        #expect(outage > 0, "writes stopped at the fence and came back on the new writer: \(report)")
        #expect(overhead >= 0 && overhead <= outage)
        #expect(abs(max(0, outage - recovery) - overhead) < 0.01, "the overhead is the outage less the promotion: \(report)")
        try await h.withAWS { aws in
            let count = try await Self.withSession(aws, name + "-replica", Self.secondary, secretOf: name) { writer in
                try await writer.value("SELECT count(*)::text FROM workload", doing: "counting")
            }
            #expect(count == "50", "every committed row is on the new writer")
            try await Self.withSession(aws, name, Self.region, secretOf: name) { old in
                let error = await #expect(throws: DatabaseError.self) { try await old.writeCanary(runID: "t", step: "t", sequence: 1) }
                #expect(error?.sqlState == "25006", "the old writer stays fenced")
            }
        }
        let records = try await h.state(name, zone: zone).filter { $0.hasPrefix("record ") }
        let newWriter = try await h.withAWS { try await $0.rds(region: Self.secondary).describeDBInstance(identifier: name + "-replica").endpointAddress }
        #expect(records.contains("record db.NAME.internal. db-primary PRIMARY \(newWriter ?? "?")"), "\(records)")
        #expect(!records.contains { $0.hasSuffix(" \(oldEndpoint ?? "?")") }, "no record names the fenced old writer: \(records)")
    }

    @Test("switchover whose replica cannot catch up rolls back: nothing promoted, the writer takes writes again")
    func switchoverThatCannotCatchUp() async throws {
        let h = try await DRHarness(dataPlane: true)
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("sc"), zone = "\(name).internal"
        try await Self.provision(h, name, zone, params(name, zone))
        try await h.emulator.dataPlane("cut-replication", identifier: name + "-replica", region: Self.secondary)
        let (switched, run) = try await h.runJSON(["run", "switchover", "--yes", "--param", "catch_up_timeout=2s"] + params(name, zone))
        #expect(switched.exitCode == 1 && run["status"] as? String == "rolled_back", "\(switched.stdout)\(switched.stderr)")
        try await h.withAWS { aws in
            #expect(try await aws.rds(region: Self.secondary).describeDBInstance(identifier: name + "-replica").readReplicaSourceDBInstanceIdentifier != nil)
            try await Self.withSession(aws, name, Self.region, secretOf: name) { primary in
                _ = try await primary.writeCanary(runID: "t", step: "after-rollback", sequence: 1)
            }
        }
    }

    @Test("SIGKILL at five moments during promote-secondary with an application writing, resumed each time: promoted once, fenced once, nothing acknowledged lost")
    func crashAndResumeUnderWrites() async throws {
        let emulator = try await LocalAWSEmulator.withDataPlane("sigkill")
        let h = try await DRHarness(emulator: emulator)
        defer { h.directory.remove() }
        let name = LocalAWSEmulator.uniqueName("dc"), zone = "\(name).internal"
        try await Self.provision(h, name, zone, params(name, zone))
        try await h.setTransitions(times: 12)  // the promotion takes 12 describes: long enough for five kills
        let target = try await h.withAWS { aws in
            try await Self.withSession(aws, name, Self.region, secretOf: name) { session in
                try await session.rows("CREATE TABLE workload (id int PRIMARY KEY)", doing: "creating")
                return session.target
            }
        }
        let workload = Workload(target: target)
        let writer = Task { await workload.run() }

        let slow = ["--param", "name=\(name)", "--param", "zone=\(zone)", "--param", "poll_interval=2s", "--param", "catch_up=10s"]
        // Kill at growing moments until five kills have landed mid-run (a kill that comes after the end is no kill).
        let (kills, id, ended) = try await h.killRepeatedly(runbook: "promote-secondary", args: slow)
        #expect(kills >= 5, "five kills landed while promote-secondary was running; it ended first: \(ended)")
        let (resumed, final) = try await h.runJSON(["resume", id])
        workload.stop()
        await writer.value
        #expect(resumed.exitCode == 0 && final["status"] as? String == "succeeded", "\(resumed.stdout)\(resumed.stderr)")
        let report = DRHarness.outputs(final)["data-report"] ?? [:]
        #expect(report["fenced"] == "true" && report["rpo_bytes"] == "0" && report["rpo_basis"] == "lsn", "\(report)")
        #expect(report["rpo_seconds"]?.isEmpty == false)

        let acknowledged = workload.acknowledged
        #expect(!acknowledged.isEmpty, "the application wrote before the fence")
        try await h.withAWS { aws in
            let ids = try await Self.withSession(aws, name + "-replica", Self.secondary, secretOf: name) { writer in
                try await writer.rows("SELECT id::text FROM workload", doing: "reading").compactMap { $0.first ?? nil }.compactMap(Int.init)
            }
            #expect(Set(acknowledged).isSubset(of: Set(ids)), "every acknowledged row is on the promoted writer")
            let group = try #require(try await aws.rds(region: Self.region).describeDBInstance(identifier: name).parameterGroups.first?.name)
            let setting = try await aws.rds(region: Self.region).describeAllDBParameters(name: group, source: "user")
                .first { $0.name == "default_transaction_read_only" }
            #expect(setting?.value == "1", "the old primary stays fenced")
            let replicas = try await aws.rds(region: Self.secondary).describeDBInstances().items.filter { $0.identifier.hasPrefix(name) }
            #expect(replicas.count == 1 && replicas.first?.readReplicaSourceDBInstanceIdentifier == nil, "promoted once, no second instance")
        }
        #expect(DRHarness.outputs(final)["fence-primary"]?["previous_value"] == "",
                "however often the fence ran, it knows the value it replaced (its undo restores that, not its own 1)")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }
}

/// An application committing one row every 100 ms (a fresh session each time), recording what was acknowledged.
final class Workload: @unchecked Sendable {
    let target: DatabaseTarget
    private let lock = NSLock()
    private var ids: [Int] = []
    private var stopped = false

    init(target: DatabaseTarget) {
        var quick = target
        quick.connectTimeout = .seconds(2)
        quick.statementTimeout = .seconds(2)
        self.target = quick
    }

    var acknowledged: [Int] { lock.withLock { ids } }
    func stop() { lock.withLock { stopped = true } }

    func run() async {
        var next = 1
        while !lock.withLock({ stopped }) {
            let id = next
            next += 1
            let committed = (try? await DatabaseSession.with(target) { session in
                try await session.rows("INSERT INTO workload VALUES (\(id))", doing: "writing")
                return true
            }) ?? false
            if committed { lock.withLock { ids.append(id) } }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
