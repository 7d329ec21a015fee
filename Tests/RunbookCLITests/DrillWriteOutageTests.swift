import Foundation
import RunbookAWS
import RunbookTestSupport
import Testing

/// The shipped drill with its canary writer, run by the built binary against an emulator whose RDS instances are real
/// PostgreSQL servers (provision makes them: a Multi-AZ primary and a streaming replica in the other region).
@Suite("drill measured from the database, end to end", .serialized)
struct DrillWriteOutageTests {
    static let fast = ["--param", "poll_interval=20ms"]

    /// Runs the binary to completion on a thread of its own (see `DRHarness.run`).
    static func run(_ emulator: LocalAWSEmulator, _ database: String, _ args: [String]) async throws -> (CommandResult, [String: Any]) {
        let binary = try RunbookBinary.path()
        let arguments = ["--db", database, "--runbooks", RunbookBinary.repositoryRoot() + "/Runbooks"] + args + ["--json"]
        let environment = emulator.environment
        let result = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try CommandRunner.run(binary, arguments, environment: environment) })
            }.start()
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result, object)
    }

    @Test("provision → drill with measure_writes: non-zero write_outage_seconds, lost_rows 0, every acknowledged row on the primary → cleanup")
    func measuredDrill() async throws {
        // The data-plane emulator the action tests use (names are unique; no transitions are set): a second one would cost
        // another initdb and servers on a two-CPU machine.
        let emulator = try await LocalAWSEmulator.withDataPlane()
        let directory = try TemporaryDirectory(prefix: "runbook-drill-writes")
        defer { directory.remove() }
        let database = directory.path + "/runbook.sqlite"
        let name = LocalAWSEmulator.uniqueName("fin"), zone = "\(name).internal"

        let (provisioned, _) = try await Self.run(emulator, database, ["run", "provision", "--param", "name=\(name)", "--param", "zone=\(zone)"] + Self.fast)
        #expect(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")
        guard provisioned.exitCode == 0 else { return }

        // The emulator's restart keeps the server down for about 0.1 s: at 50 ms between writes one always lands in it.
        let (drilled, drill) = try await Self.run(emulator, database, ["run", "drill", "--param", "name=\(name)", "--param", "measure_writes=true",
                                                                       "--param", "write_interval=50ms", "--param", "max_outage=60s"] + Self.fast)
        #expect(drilled.exitCode == 0, "\(drilled.stdout)\(drilled.stderr)")
        let outputs = DRHarness.outputs(drill)
        let report = outputs["report"] ?? [:]
        let failover = outputs["failover"] ?? [:]
        print("measured drill report: \(report); failover: \(failover.filter { $0.key != "first_write_error" })")
        let outage = try #require(Double(report["write_outage_seconds"] ?? ""), "\(report)")
        #expect(outage > 0, "the failover dropped writes: \(report)")
        #expect(report["lost_rows"] == "0", "\(report)")
        #expect(Double(report["recovery_seconds"] ?? "") != nil, "\(report)")
        let acknowledged = try #require(Int(report["canary_rows_acknowledged"] ?? ""), "\(report)")
        #expect(acknowledged >= 4 && outputs["check-writes"]?["checked"] == "true", "\(outputs["check-writes"] ?? [:])")
        #expect(Int(failover["write_failures"] ?? "") ?? 0 >= 1, "\(failover)")

        // The master password reaches no output of the run.
        let aws = AWSClient(configuration: try AWSConfiguration.resolve(environment: emulator.environment))
        do {
            let db = try await aws.rds(region: "us-east-1").describeDBInstance(identifier: name)
            let secret = try await aws.secretsManager(region: "us-east-1").rdsMasterCredentials(secretID: try #require(db.masterUserSecretARN))
            #expect(!drilled.stdout.contains(secret.password) && !drilled.stderr.contains(secret.password))
        } catch {
            try? await aws.shutdown()
            throw error
        }
        try await aws.shutdown()

        let (cleaned, _) = try await Self.run(emulator, database, ["run", "cleanup", "--param", "name=\(name)", "--param", "zone=\(zone)",
                                                                   "--param", "skip_final_snapshot=true"] + Self.fast)
        #expect(cleaned.exitCode == 0, "\(cleaned.stdout)\(cleaned.stderr)")
    }
}
