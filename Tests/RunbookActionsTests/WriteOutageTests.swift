import Foundation
import RunbookActions
import RunbookAWS
import RunbookEngine
import RunbookPostgres
import RunbookTestSupport
import Testing

/// The forced failover measured from the database: a canary writer through the primary's endpoint while the emulator
/// restarts the primary's real server (its forced failover: connections drop, committed data stays).
@Suite("write outage across a forced failover, against real servers", .serialized)
struct WriteOutageTests {
    typealias F = AWSActionFixture
    typealias D = DatabaseActionTests
    static let region = D.region

    /// A Multi-AZ primary with an RDS-managed master secret.
    static func multiAZPrimary(_ f: F, _ name: String) async throws {
        let rds = try f.aws.rds(region: region)
        var request = RDS.CreateDBInstanceRequest(identifier: name, instanceClass: "db.t3.micro", engine: "postgres")
        request.masterUsername = "dbadmin"
        request.manageMasterUserPassword = true
        request.allocatedStorage = 20
        request.multiAZ = true
        _ = try await rds.createDBInstance(request)
    }

    /// A session as the master user, for what the test does behind the actions' back.
    static func masterTarget(_ f: F, _ name: String) async throws -> DatabaseTarget {
        let db = try await f.aws.rds(region: region).describeDBInstance(identifier: name)
        let arn = try #require(db.masterUserSecretARN)
        let secret = try await f.aws.secretsManager(region: region).rdsMasterCredentials(secretID: arn)
        return DatabaseTarget(host: try #require(db.endpointAddress), port: try #require(db.endpointPort), user: secret.username,
                              credential: .password(secret.password))
    }

    static func milliseconds(_ outputs: [String: String], _ key: String) throws -> Int64 {
        try #require(Int64(outputs[key] ?? ""), "\(key) in \(outputs)")
    }

    @Test("a measured forced failover: writes fail and resume (non-zero outage), every acknowledged row is still there, and a lost one is found")
    func measuredFailover() async throws {
        try await D.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("outage")
            try await Self.multiAZPrimary(f, name)
            let azBefore = try await f.aws.rds(region: Self.region).describeDBInstance(identifier: name).availabilityZone

            // The emulator's restart keeps the server down for about 0.1 s, less than the default 200 ms between writes:
            // at 50 ms at least one write always lands in it.
            let reboot = RebootDBInstanceAction(provider: f.provider)
            let started = Date()
            let out = try await reboot.perform(F.invocation("failover", run: run, D.inputs(name, [
                "force_failover": "true", "measure_writes": "true", "write_interval": "50ms", "max_outage": "60s",
            ])))
            let elapsed = Date().timeIntervalSince(started)
            print("measured failover: \(out.filter { $0.key != "first_write_error" }) in \(String(format: "%.1f", elapsed)) s; "
                  + "first error: \(out["first_write_error"] ?? "")")
            #expect(out["result"] == "rebooted" && out["writes_measured"] == "true", "\(out)")
            let outage = try #require(Double(out["write_outage_seconds"] ?? ""), "\(out)")
            #expect(outage > 0, "the restart dropped writes: \(out)")
            #expect(outage < 30, "\(out)")
            let failures = try #require(Int(out["write_failures"] ?? ""))
            #expect(failures >= 1, "\(out)")
            #expect(out["first_write_error"]?.isEmpty == false)
            let arn = try #require(try await f.aws.rds(region: Self.region).describeDBInstance(identifier: name).masterUserSecretARN)
            let password = try await f.aws.secretsManager(region: Self.region).rdsMasterCredentials(secretID: arn).password
            #expect(!out.values.contains { $0.contains(password) }, "no output holds the master password")
            let acknowledged = try #require(Int(out["canary_rows_acknowledged"] ?? ""))
            #expect(acknowledged >= 4, "one before the reboot and three after the writes resumed: \(out)")
            #expect(out["canary_step"] == "failover")

            // The outage is bounded by the writes around it: last ack before ≤ first failure ≤ resumption, and the
            // reported figure is the distance from the last ack before to the first ack after.
            let lastBefore = try Self.milliseconds(out, "last_write_before_outage_at")
            let firstFailure = try Self.milliseconds(out, "first_failure_at")
            let resumed = try Self.milliseconds(out, "writes_resumed_at")
            let requested = try Self.milliseconds(out, "requested_at")
            #expect(lastBefore <= firstFailure && firstFailure <= resumed, "\(out)")
            #expect(abs(Double(resumed - lastBefore) / 1000 - outage) < 0.05, "\(out)")
            #expect(requested <= resumed)
            let azAfter = try await f.aws.rds(region: Self.region).describeDBInstance(identifier: name).availabilityZone
            #expect(azBefore != nil && azAfter != azBefore, "a forced failover")

            // Every acknowledged row is on the instance: rows 1…N of the step, no gap.
            let target = try await Self.masterTarget(f, name)
            let rows = try await DatabaseSession.with(target) { try await $0.canaries(runID: run) }.filter { $0.step == "failover" }
            #expect(Set(rows.map(\.sequence)).isSuperset(of: Set((1...Int64(acknowledged)))), "\(rows.map(\.sequence))")

            let check = CheckCanaryAction(provider: f.provider)
            let checkInputs = D.inputs(name, ["canary_step": "failover", "acknowledged": String(acknowledged)])
            let checked = try await check.perform(F.invocation("check-writes", run: run, checkInputs))
            #expect(checked["lost_rows"] == "0" && checked["checked"] == "true" && checked["acknowledged"] == String(acknowledged), "\(checked)")

            // A lost acknowledged row is found and fails the check, not retryable on a writer.
            _ = try await DatabaseSession.with(target) { session in
                try await session.rows("DELETE FROM runbook_canary WHERE run_id = \(run) AND step = 'failover' AND seq = 2", doing: "losing a row")
            }
            let lost = await #expect(throws: ActionFailure.self) { try await check.perform(F.invocation("check-writes", run: run, checkInputs)) }
            #expect(lost?.outputs["lost_rows"] == "1" && lost?.outputs["missing_sequences"] == "2", "\(String(describing: lost))")
            #expect(lost?.retryable == false)

            // Nothing measured: the check checks nothing and needs no database.
            let nothing = try await check.perform(F.invocation("check-writes", run: run, ["identifier": "no-such-db", "region": Self.region,
                                                                                           "canary_step": "failover", "acknowledged": ""]))
            #expect(nothing["checked"] == "false" && nothing["lost_rows"] == "", "\(nothing)")
        }
    }

    @Test("no write acknowledged before the reboot: the reboot is not requested, and the failure is retryable")
    func unreachableWriterIsNotRebooted() async throws {
        try await D.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("outage-down")
            try await Self.multiAZPrimary(f, name)
            let azBefore = try await f.aws.rds(region: Self.region).describeDBInstance(identifier: name).availabilityZone
            try await f.emulator.dataPlane("kill", identifier: name, region: Self.region)
            do {
                let reboot = RebootDBInstanceAction(provider: f.provider)
                let error = await #expect(throws: ActionFailure.self) {
                    try await reboot.perform(F.invocation("failover", run: run, D.inputs(name, [
                        "force_failover": "true", "measure_writes": "true", "write_interval": "50ms", "connect_timeout": "1s",
                    ])))
                }
                #expect(error?.retryable == true && error?.message.contains("not requested") == true, "\(String(describing: error))")
                let azAfter = try await f.aws.rds(region: Self.region).describeDBInstance(identifier: name).availabilityZone
                #expect(azAfter == azBefore, "no failover happened")
            }
            try await f.emulator.dataPlane("start", identifier: name, region: Self.region)
        }
    }

    @Test("a re-run after a crash: no second failover once the server restarted after the earlier attempt's first row; a reboot when it did not")
    func rerunAfterCrash() async throws {
        try await D.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("outage-rerun")
            try await Self.multiAZPrimary(f, name)
            let rds = try f.aws.rds(region: Self.region)
            let reboot = RebootDBInstanceAction(provider: f.provider)
            func invocation(attempt: Int) -> ActionInvocation {
                var invocation = F.invocation("failover", run: run, D.inputs(name, [
                    "force_failover": "true", "measure_writes": "true", "write_interval": "50ms", "max_outage": "60s",
                ]))
                invocation.attempt = attempt
                return invocation
            }

            // An earlier attempt that committed its first row and crashed before the reboot call: the re-run reboots.
            let before = try await rds.describeDBInstance(identifier: name).availabilityZone
            _ = try await WriteCanaryAction(provider: f.provider).perform(F.invocation("failover", run: run, D.inputs(name)))
            let first = try await reboot.perform(invocation(attempt: 2))
            #expect(first["result"] == "rebooted" && first["writes_measured"] == "true", "\(first)")
            let afterFirst = try await rds.describeDBInstance(identifier: name).availabilityZone
            #expect(afterFirst != before, "the re-run failed over")

            // That attempt's outputs lost in a crash after the reboot: the next re-run neither reboots nor measures.
            let second = try await reboot.perform(invocation(attempt: 3))
            #expect(second["result"] == "already-rebooted" && second["writes_measured"] == "false", "\(second)")
            #expect(try await rds.describeDBInstance(identifier: name).availabilityZone == afterFirst, "no second failover")
        }
    }

    @Test("without measure_writes the reboot measures nothing and says so")
    func unmeasuredReboot() async throws {
        try await D.withDataPlane { f in
            let run = F.runID(), name = LocalAWSEmulator.uniqueName("outage-off")
            try await Self.multiAZPrimary(f, name)
            let out = try await RebootDBInstanceAction(provider: f.provider).perform(F.invocation("failover", run: run, D.inputs(name, ["force_failover": "true"])))
            #expect(out["result"] == "rebooted" && out["writes_measured"] == "false" && out["write_outage_seconds"] == "", "\(out)")
            #expect(out["canary_rows_acknowledged"] == "")
        }
    }
}
