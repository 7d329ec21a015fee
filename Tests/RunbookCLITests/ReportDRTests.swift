import Foundation
import RunbookTestSupport
import Testing

/// Reports of a drill and of a promote-secondary run against the emulator, checked against each run's history.
@Suite("Reports of DR runs", .serialized)
struct ReportDRTests {
    static let fast = ["--param", "poll_interval=20ms"]

    func report(_ h: DRHarness, _ id: String) async throws -> [String: Any] {
        let result = try await h.run(["report", id, "--format", "json"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func objective(_ report: [String: Any], _ name: String) -> [String: Any] {
        (report["objectives"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name } ?? [:]
    }

    @Test("drill and promote-secondary reports match their histories")
    func drillAndPromotionReports() async throws {
        let h = try await DRHarness(emulator: try await LocalAWSEmulator.dedicated("reports"))
        defer { h.directory.remove() }
        try await h.setTransitions(times: 1)
        let name = LocalAWSEmulator.uniqueName("rep"), zone = "\(name).internal"
        let params = ["--param", "name=\(name)", "--param", "zone=\(zone)"] + Self.fast
        let (provisioned, _) = try await h.runJSON(["run", "provision"] + params)
        #expect(provisioned.exitCode == 0, "\(provisioned.stdout)\(provisioned.stderr)")

        let (drilled, drill) = try await h.runJSON(["run", "drill", "--param", "name=\(name)", "--param", "measure_writes=false", "--reason", "DR-2026-Q4 drill"] + Self.fast)
        #expect(drilled.exitCode == 0, "\(drilled.stdout)\(drilled.stderr)")
        let drillID = try #require(drill["id"] as? String)
        let drillReport = try await report(h, drillID)
        let rto = objective(drillReport, "rto")
        let measured = try #require(Double(DRHarness.outputs(drill)["report"]?["recovery_seconds"] ?? ""))
        #expect(rto["measured_seconds"] as? Double == measured && rto["target_seconds"] as? Double == 600 && rto["verdict"] as? String == "met", "\(rto)")
        #expect(rto["measured_by"] as? String == "report.recovery_seconds")
        let rows = (drillReport["timeline"] as? [String: Any])?["rows"] as? [[String: Any]] ?? []
        let failoverPolls = (rows.first { $0["step_id"] as? String == "failover" }?["polls"] as? [Any])?.count
        #expect(failoverPolls == DRHarness.polls(drill, "failover") && (failoverPolls ?? 0) >= 1, "one mark per poll the history records")
        let windows = (drillReport["timeline"] as? [String: Any])?["windows"] as? [[String: Any]] ?? []
        #expect(windows.first?["objective"] as? String == "rto", "the RTO window is marked from the failover step")
        #expect((drillReport["summary"] as? [String: Any])?["reason"] as? String == "DR-2026-Q4 drill")

        let started = try await h.run(["run", "promote-secondary", "--param", "measure=false", "--param", "force=true"] + params)
        #expect(started.exitCode == 3, "the promotion waits for its approval: \(started.stdout)\(started.stderr)")
        let promoteID = try #require(started.runID)
        let (approved, promote) = try await h.runJSON(["approve", promoteID, "approve", "--comment", "INC-42: us-east-1 is down, promote"])
        #expect(approved.exitCode == 0, "\(approved.stdout)\(approved.stderr)")
        let promoteReport = try await report(h, promoteID)

        let decisions = promoteReport["decisions"] as? [[String: Any]] ?? []
        #expect(decisions.count == 1 && decisions.first?["comment"] as? String == "INC-42: us-east-1 is down, promote", "\(decisions)")
        #expect((decisions.first?["caller_arn"] as? String)?.hasPrefix("arn:aws:") == true, "the approver's AWS identity is recorded")
        let deviations = promoteReport["deviations"] as? [[String: Any]] ?? []
        #expect(deviations.contains { $0["kind"] as? String == "risk_accepted" && ($0["text"] as? String)?.contains("force=true") == true }, "\(deviations)")
        #expect(objective(promoteReport, "rto")["measured_seconds"] as? Double == Double(DRHarness.outputs(promote)["report"]?["recovery_seconds"] ?? ""))
        #expect(objective(promoteReport, "rpo")["verdict"] as? String == "not_measured", "measure=false reads nothing from the databases")

        let resources = promoteReport["resources"] as? [[String: Any]] ?? []
        let promoted = resources.first { $0["step_id"] as? String == "promote" }
        #expect(promoted?["change"] as? String == "promoted" && promoted?["region"] as? String == "us-west-2" && (promoted?["resource"] as? String)?.hasSuffix(":db:\(name)-replica") == true, "\(resources)")
        let record = DRHarness.outputs(promote)["repoint-record"] ?? [:]
        let repointed = resources.first { $0["step_id"] as? String == "repoint-record" }?["before_after"] as? [String] ?? []
        #expect(repointed.contains("values: \(record["previous_values"] ?? "?") → \(record["values"] ?? "?")"), "the record's change as the history has it: \(repointed) vs \(record)")

        let history = try await h.run(["report", "--history", "--format", "json"])
        let historyRows = ((try? JSONSerialization.jsonObject(with: Data(history.stdout.utf8))) as? [String: Any])?["rows"] as? [[String: Any]] ?? []
        #expect(Set(historyRows.compactMap { $0["runbook"] as? String }) == ["drill", "promote-secondary"], "provision has no objectives: \(historyRows)")
        #expect(try await h.run(["audit", "verify"]).exitCode == 0)
    }
}
