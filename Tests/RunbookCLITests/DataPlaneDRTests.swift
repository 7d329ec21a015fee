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

    /// A session on `identifier` as the master user (a replica's password is its source's, as on RDS).
    static func session(_ aws: AWSClient, _ identifier: String, _ region: String, secretOf primary: String) async throws -> DatabaseSession {
        let db = try await aws.rds(region: region).describeDBInstance(identifier: identifier)
        let source = try await aws.rds(region: Self.region).describeDBInstance(identifier: primary)
        let arn = try #require(source.masterUserSecretARN)
        let secret = try await aws.secretsManager(region: Self.region).rdsMasterCredentials(secretID: arn)
        return try await DatabaseSession.connect(DatabaseTarget(
            host: try #require(db.endpointAddress), port: try #require(db.endpointPort), user: secret.username,
            credential: .password(secret.password), connectTimeout: .seconds(3), statementTimeout: .seconds(5)))
    }

    /// Runs `body` on such a session, closing it on every path.
    static func withSession<T: Sendable>(_ aws: AWSClient, _ identifier: String, _ region: String, secretOf primary: String,
                                         _ body: (DatabaseSession) async throws -> T) async throws -> T {
        let session = try await Self.session(aws, identifier, region, secretOf: primary)
        do {
            let value = try await body(session)
            await session.close()
            return value
        } catch {
            await session.close()
            throw error
        }
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
}
