import Foundation
import RunbookTestSupport
import Testing

/// `runbook report`: what an auditor reads after a run, checked against the run's own history.
@Suite struct ReportTests {
    static let secret = "s3cr3t-Pa55word-for-report"

    /// A gate, a step that fails once and is retried, a secret parameter, and two objectives.
    static let runbook = """
        name: dr-test
        parameters:
          rto_target: { type: duration, default: 1m }
          token: { type: string, secret: true }
          force: { type: bool, default: false, description: promote even when the lag is unknown }
          recovery: { type: string, default: "75.5" }
        objectives:
          rto: { target: "${{ params.rto_target }}", measured: report.recovery_seconds, from: flaky, description: seconds until writes resumed }
          rpo: { target: 0s, measured: report.rpo_seconds }
        steps:
          - id: gate
            action: pass
            approval: required
          - id: flaky
            needs: [gate]
            action: shell
            retry: { max_attempts: 2, initial_interval: 10ms, jitter: false }
            with:
              run: 'test -f attempted || { touch attempted; echo first attempt fails >&2; exit 1; }; sleep 0.5'
              env: { TOKEN: "${{ params.token }}" }
          - id: report
            needs: [flaky]
            action: pass
            with: { recovery_seconds: "${{ params.recovery }}", rpo_seconds: "0" }
        """

    func startGated(_ ws: Workspace, extra: [String] = []) async throws -> String {
        try ws.write(runbook: "dr-test", Self.runbook)
        let started = try await ws.runbook(["run", "dr-test", "--param", "token=\(Self.secret)", "--reason", "CHG-4711 quarterly DR test"] + extra)
        #expect(started.exitCode == 3, "\(started.stdout)\(started.stderr)")
        return try #require(started.runID)
    }

    func reportJSON(_ ws: Workspace, _ id: String) async throws -> [String: Any] {
        let result = try await ws.runbook(["report", id, "--format", "json"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// The events of `kind` in `runbook history --json`.
    func historyEvents(_ ws: Workspace, _ id: String, kind: String) async throws -> [[String: Any]] {
        let history = try await ws.runbook(["history", id, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [String: Any])
        return (object["events"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == kind }
    }

    @Test func theReportCarriesTheObjectivesApprovalDeviationsAndAuditStateTheHistoryRecords() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let id = try await startGated(ws, extra: ["--param", "force=true"])
        let approved = try await ws.runbook(["approve", id, "gate", "--comment", "approved in CAB 2026-11-30", "--param", "token=\(Self.secret)"])
        #expect(approved.exitCode == 0, "\(approved.stdout)\(approved.stderr)")

        let report = try await reportJSON(ws, id)
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["status"] as? String == "succeeded" && summary["reason"] as? String == "CHG-4711 quarterly DR test")
        #expect((summary["parameters"] as? [String: String])?["token"] == "***")

        let recorded = try #require(try await historyEvents(ws, id, kind: "objectives_evaluated").last?["detail"] as? [String: String])
        let objectives = try #require(report["objectives"] as? [[String: Any]])
        #expect(objectives.count == 2)
        let rto = try #require(objectives.first)
        #expect(rto["name"] as? String == "rto" && rto["verdict"] as? String == "missed", "75.5 s is over the 1m target: \(rto)")
        #expect(rto["measured_seconds"] as? Double == Double(recorded["rto.measured_seconds"] ?? ""), "as the history recorded it: \(recorded)")
        #expect(rto["target_seconds"] as? Double == 60 && recorded["rto.result"] == "missed")
        #expect(objectives.last?["verdict"] as? String == "met")

        let approval = try #require(try await historyEvents(ws, id, kind: "step_approved").first?["detail"] as? [String: String])
        let decisions = try #require(report["decisions"] as? [[String: Any]])
        #expect(decisions.count == 1)
        #expect(decisions.first?["decision"] as? String == "approved" && decisions.first?["comment"] as? String == "approved in CAB 2026-11-30")
        #expect(decisions.first?["by"] as? String == approval["by"] && decisions.first?["host"] as? String == approval["host"])
        #expect(decisions.first?["requested_at"] is Int, "the wait for the approval is known")

        let deviations = try #require(report["deviations"] as? [[String: Any]])
        let kinds = deviations.compactMap { $0["kind"] as? String }
        #expect(kinds.contains("risk_accepted") && kinds.contains("retry") && kinds.contains("objective_missed"), "\(deviations)")
        #expect(deviations.contains { ($0["text"] as? String)?.contains("step flaky attempt 1 failed") == true })
        #expect(deviations.contains { ($0["text"] as? String)?.contains("parameter force=true") == true })
        #expect(!kinds.contains("definition_changed"), "the file is unchanged")

        let rows = try #require((report["timeline"] as? [String: Any])?["rows"] as? [[String: Any]])
        let flaky = try #require(rows.first { $0["step_id"] as? String == "flaky" }?["spans"] as? [[String: Any]])
        #expect(flaky.map { $0["outcome"] as? String } == ["failed", "succeeded"], "one bar per attempt: \(flaky)")
        let gate = try #require(rows.first { $0["step_id"] as? String == "gate" }?["spans"] as? [[String: Any]])
        #expect(gate.contains { $0["kind"] as? String == "approval_wait" && $0["outcome"] as? String == "approved" })

        let audit = try #require(report["audit"] as? [String: Any])
        #expect(audit["chain_intact"] as? Bool == true)
        let head = try await ws.runbook(["audit", "verify", id])
        #expect(head.stdout.contains(String((audit["head_hash"] as? String ?? "?").prefix(16))), "the head the report names is the one verify names")

        // The file changed after the run: the report says so.
        try ws.write(runbook: "dr-test", Self.runbook + "\n# edited\n")
        let later = try await reportJSON(ws, id)
        #expect((later["deviations"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "definition_changed" })
    }

    @Test func aDeclineIsReportedWithWhoDeclinedAndWhyAndTheRollback() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let id = try await startGated(ws)
        let declined = try await ws.runbook(["decline", id, "gate", "--comment", "replica lag too high", "--param", "token=\(Self.secret)"])
        #expect(declined.exitCode == 0, "\(declined.stdout)\(declined.stderr)")
        let markdown = try await ws.runbook(["report", id])
        #expect(markdown.exitCode == 0)
        #expect(markdown.stdout.contains("| gate | declined |") && markdown.stdout.contains("replica lag too high"), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("| declined |") && markdown.stdout.contains("rollback started"), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("# dr-test: rolled_back"))
        #expect(markdown.stdout.contains("| RTO | 60 s | — |") && markdown.stdout.contains("not measured"), "a rolled-back run measured nothing")
    }

    @Test func theHTMLIsSelfContainedAndNoFormatCarriesTheSecret() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let id = try await startGated(ws)
        _ = try await ws.runbook(["approve", id, "gate", "--param", "token=\(Self.secret)"])
        for (file, format) in [("r.html", "html"), ("r.md", "markdown"), ("r.json", "json")] {
            let written = try await ws.runbook(["report", id, "--output", ws.file(file)])
            #expect(written.exitCode == 0 && written.stdout.contains("wrote the report of run \(id) to"), "\(written.stdout)\(written.stderr)")
            let text = try String(contentsOfFile: ws.file(file), encoding: .utf8)
            #expect(!text.contains(Self.secret), "\(format) must not carry the secret")
            if format == "html" {
                #expect(text.contains("<svg") && text.contains("</html>"))
                for outside in ["http://", "https://", "file:", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe"] {
                    #expect(!text.contains(outside), "the HTML refers outside itself: \(outside)")
                }
            }
        }
        let again = try await ws.runbook(["report", id, "--output", ws.file("r.html")])
        #expect(again.exitCode == 2 && again.stderr.contains("already exists"), "an existing file is kept without --force")
        let database = try Data(contentsOf: URL(fileURLWithPath: ws.database))
        #expect(database.range(of: Data(Self.secret.utf8)) == nil)
        let missing = try await ws.runbook(["report", "nope"])
        #expect(missing.exitCode == 2 && missing.stderr.contains("no run 'nope'"), "\(missing.stderr)")
    }

    @Test func theHistoryListsEachRunOfARunbookWithObjectives() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "plain", "name: plain\nsteps:\n  - id: a\n    action: pass\n")
        #expect(try await ws.runbook(["run", "plain"]).exitCode == 0)
        let id = try await startGated(ws)
        _ = try await ws.runbook(["approve", id, "gate", "--param", "token=\(Self.secret)"])
        let history = try await ws.runbook(["report", "--history", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.map { $0["run_id"] as? String } == [id], "only the run whose runbook has objectives: \(rows)")
        #expect((rows.first?["objectives"] as? [[String: Any]])?.map { $0["verdict"] as? String } == ["missed", "met"])
        let markdown = try await ws.runbook(["report", "--history", "--runbook", "dr-test"])
        #expect(markdown.stdout.contains("RTO MISSED (75.5 s of 60 s); RPO met (0 s of 0 s)"), "\(markdown.stdout)")
        let none = try await ws.runbook(["report", "--history", "--runbook", "drill"])
        #expect(none.stdout.contains("No run of a runbook with recovery objectives"))
        let bad = try await ws.runbook(["report", "--history", "--since", "a year"])
        #expect(bad.exitCode == 2 && bad.stderr.contains("--since 'a year' is not a period"))
    }

    /// Headless Chromium (Debian's `chromium`, which `.ci/run` installs) draws the HTML report: the picture is not
    /// blank and the timeline's SVG is drawn (its green for succeeded attempts is on the page).
    @Test func aRealBrowserRendersTheReportWithItsTimeline() async throws {
        let chromium = try #require(["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                    "Chromium is not installed: apt-get install chromium (.ci/run does)")
        let ws = try Workspace()
        defer { ws.remove() }
        let id = try await startGated(ws, extra: ["--param", "recovery=0.1"])
        _ = try await ws.runbook(["approve", id, "gate", "--param", "token=\(Self.secret)"])
        #expect(try await ws.runbook(["report", id, "--output", ws.file("report.html")]).exitCode == 0)
        let png = ws.file("report.png")
        let shot = try await CommandRunner.runDetached(chromium, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--user-data-dir=\(ws.file("chromium"))",
            "--window-size=1100,1000", "--screenshot=\(png)", "file://" + ws.file("report.html"),
        ], environment: ["HOME": ws.root])
        #expect(FileManager.default.fileExists(atPath: png), "chromium wrote no screenshot: \(shot.stderr)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/png_ink.py").path
        let stats = try await CommandRunner.runDetached("/usr/bin/env", ["python3", script, png, "2da44e"])
        let numbers = stats.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(numbers.count == 4, "\(stats.stdout)\(stats.stderr)")
        #expect(numbers[0] == 1100 && numbers[1] == 1000)
        #expect(numbers[2] > 1100 * 1000 / 50, "at least 2% of the page is drawn: \(numbers)")
        // The legend's swatch is 140 pixels of that green (all there is with the bars left out). The bars' share of the
        // width depends on how long the whole run took, approval wait included (a loaded CI machine drew 466 pixels of
        // them), so the check asks for at least as much green in bars as in the swatch.
        #expect(numbers[3] > 140 + 140, "the timeline's bars are drawn, not only its legend: \(numbers)")
    }

    /// With a signing key the report lists the signatures; it says they were not checked until given the public
    /// key, then whether they verify with it.
    @Test func theReportShowsTheSignaturesAndChecksThemWithThePublicKey() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let keygen = try await ws.runbook(["audit", "keygen", "--output", ws.file("signing.pem")])
        let publicKey = try #require(keygen.stdout.split(separator: "\n").first.map(String.init))
        let other = try #require(try await ws.runbook(["audit", "keygen", "--output", ws.file("other.pem")]).stdout.split(separator: "\n").first.map(String.init))
        let signing = ["RUNBOOK_SIGNING_KEY": ws.file("signing.pem")]
        try ws.write(runbook: "dr-test", Self.runbook)
        let started = try await ws.runbook(["run", "dr-test", "--param", "token=\(Self.secret)"], environment: signing)
        let id = try #require(started.runID)
        #expect(try await ws.runbook(["approve", id, "gate", "--param", "token=\(Self.secret)"], environment: signing).exitCode == 0)

        let unchecked = try await reportJSON(ws, id)
        let audit = try #require(unchecked["audit"] as? [String: Any])
        let signatures = audit["signatures"] as? [[String: Any]] ?? []
        #expect(signatures.map { $0["point"] as? String } == ["stopped", "approval", "stopped"], "the pause, the approval, the end: \(signatures)")
        #expect((audit["signature"] as? String)?.contains("NOT CHECKED") == true)
        let checked = try await ws.runbook(["report", id, "--public-key", publicKey])
        #expect(checked.stdout.contains("| Signature | valid: signed by key"), "\(checked.stdout)")
        let wrong = try await ws.runbook(["report", id, "--public-key", other])
        #expect(wrong.stdout.contains("| Signature | FAILS with key"), "\(wrong.stdout)")
        let pem = try String(contentsOfFile: ws.file("signing.pem"), encoding: .utf8)
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let json = try await ws.runbook(["report", id, "--format", "json"])
        #expect(!checked.stdout.contains(body) && !json.stdout.contains(body), "the private key is never in a report")
    }
}
