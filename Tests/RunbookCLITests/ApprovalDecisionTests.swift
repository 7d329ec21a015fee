import Foundation
import RunbookTestSupport
import Testing

/// approve and decline with a comment, as an auditor later reads them in the history.
@Suite struct ApprovalDecisionTests {
    static let runbook = """
        name: gated
        steps:
          - id: check
            action: shell
            with: { run: 'echo checked >> log' }
            compensate: { action: shell, with: { run: 'echo undone >> log' } }
          - { id: go, needs: [check], approval: required, action: shell, with: { run: 'echo went >> log' } }
        """

    @Test func anApprovalKeepsItsCommentUserAndHostInTheHistory() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", Self.runbook)
        let paused = try await ws.runbook(["run", "gated"])
        let id = try #require(paused.runID)
        let approved = try await ws.runbook(["approve", id, "go", "--comment", "CHG-4711 approved in CAB"])
        #expect(approved.exitCode == 0, "\(approved.stderr)")
        let export = try await ws.runbook(["audit", "export", id, "--format", "json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8))) as? [String: Any] ?? [:]
        let events = object["events"] as? [[String: Any]] ?? []
        let approval = try #require(events.first { $0["kind"] as? String == "step_approved" }, "\(export.stdout.prefix(400))")
        let detail = approval["detail"] as? [String: String] ?? [:]
        #expect(detail["comment"] == "CHG-4711 approved in CAB")
        #expect(detail["by"] == (ProcessInfo.processInfo.environment["USER"] ?? "root"))
        #expect(detail["host"] == ProcessInfo.processInfo.hostName)
        #expect(try await ws.runbook(["history", id]).stdout.contains("CHG-4711 approved in CAB"))
    }

    @Test func withAWSCredentialsTheApprovalCarriesTheCallerARN() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", Self.runbook)
        let emulator = try await LocalAWSEmulator.dedicated("approvals")
        let paused = try await ws.runbook(["run", "gated"])
        let id = try #require(paused.runID)
        let approved = try await ws.runbook(["approve", id, "go", "--comment", "ok"], environment: emulator.environment)
        #expect(approved.exitCode == 0, "\(approved.stderr)")
        let history = try await ws.runbook(["history", id])
        // moto's default account answers GetCallerIdentity with this user ARN.
        #expect(history.stdout.contains("(arn:aws:sts::123456789012:user/moto)"), "\(approved.stderr)\n\(history.stdout)")
    }

    @Test func anApprovalByYesIsRecordedWithTheOperatorsCallerARN() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", Self.runbook)
        let emulator = try await LocalAWSEmulator.dedicated("approvals")
        let run = try await ws.runbook(["run", "gated", "--yes"], environment: emulator.environment)
        #expect(run.exitCode == 0, "\(run.stderr)")
        let id = try #require(run.runID)
        let history = try await ws.runbook(["history", id])
        #expect(history.stdout.contains("step go approved by") && history.stdout.contains("(arn:aws:sts::123456789012:user/moto) (--yes)"), "\(run.stderr)\n\(history.stdout)")
    }

    @Test func aDeclineRollsTheRunBackAndSaysWhoDeclinedAndWhy() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", Self.runbook)
        let paused = try await ws.runbook(["run", "gated"])
        let id = try #require(paused.runID)
        #expect(try await ws.runbook(["decline", id, "go"]).exitCode == 2, "a decline needs a comment")
        let declined = try await ws.runbook(["decline", id, "go", "--comment", "outside the maintenance window", "--json"])
        #expect(declined.exitCode == 0, "\(declined.stdout)\(declined.stderr)")
        #expect(declined.json?["status"] as? String == "rolled_back")
        #expect((declined.json?["message"] as? String)?.contains("declined by") == true)
        #expect((declined.json?["message"] as? String)?.contains("outside the maintenance window") == true)
        #expect(ws.lines("log") == ["checked", "undone"], "the gated step never ran; the step before it was undone")
        let history = try await ws.runbook(["history", id])
        #expect(history.stdout.contains("outside the maintenance window"), "\(history.stdout)")
        #expect(try await ws.runbook(["approve", id, "go"]).exitCode == 1, "a declined gate cannot be approved afterwards")
        #expect(try await ws.runbook(["audit", "verify"]).exitCode == 0)
    }

    @Test func aRunKeepsItsReasonAndAnEditedReasonIsCaught() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "gated", Self.runbook)
        let run = try await ws.runbook(["run", "gated", "--yes", "--reason", "INC-42: us-east-1 degraded"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let id = try #require(run.runID)
        #expect(try await ws.runbook(["history", id]).stdout.contains("reason: INC-42: us-east-1 degraded"))
        let export = try await ws.runbook(["audit", "export", id, "--format", "json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(export.stdout.utf8))) as? [String: Any] ?? [:]
        #expect((object["run"] as? [String: Any])?["reason"] as? String == "INC-42: us-east-1 degraded", "\(export.stdout.prefix(300))")
        #expect(try await ws.runbook(["audit", "verify"]).exitCode == 0)

        let edit = Process()
        edit.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        edit.arguments = [ws.database, "UPDATE runs SET options = replace(options, 'INC-42', 'CHG-7')"]
        try edit.run()
        edit.waitUntilExit()
        #expect(edit.terminationStatus == 0)
        let verify = try await ws.runbook(["audit", "verify"])
        #expect(verify.exitCode == 1, "an edited reason is caught: \(verify.stdout)\(verify.stderr)")
    }
}
