import ArgumentParser
import Foundation
import RunbookEngine
import RunbookReport

/// `runbook report RUN` (one run's evidence) and `runbook report --history` (the DR test history).
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's report for auditors (objectives, timeline, approvals, deviations, resources, audit status), or the DR test history.",
        discussion: "The format follows --output's extension (.html, .md, .json) unless --format says; standard output is markdown unless --format says.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case html, markdown, json }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (or a unique prefix); not with --history.") var runID: String?
    @Option(help: "html, markdown or json.") var format: Format?
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output (never the state database).") var output: String?
    @Flag(help: "Replace the --output file if it exists.") var force = false
    @Flag(help: "The history of DR tests and failovers: one row per run of a runbook with recovery objectives.") var history = false
    @Option(help: "With --history: how far back, e.g. 365d, 12h, 90m.") var since = "365d"
    @Option(help: "With --history: only this runbook.") var runbook: String?
    @Option(name: .customLong("public-key"), help: ArgumentHelp(
        "Check the run's signatures with this public key (the text `audit keygen` printed, or a file holding it).",
        valueName: "key")) var publicKey: String?

    func validate() throws {
        if history && runID != nil { throw ValidationError("give a run id or --history, not both") }
        if !history && runID == nil { throw ValidationError("give a run id (see `runbook runs`), or --history") }
        if !history && runbook != nil { throw ValidationError("--runbook goes with --history") }
    }

    var chosenFormat: Format {
        if let format { return format }
        switch output.map({ URL(fileURLWithPath: $0).pathExtension.lowercased() }) {
        case "html"?, "htm"?: return .html
        case "json"?: return .json
        default: return output == nil ? .markdown : .html
        }
    }

    func run() async throws {
        let destination = try output.map { try ExportFile(path: $0, force: force, databasePath: global.databasePath) }
        let key = try publicKey.map(SigningKeyFile.publicKey)
        let store = try global.openStore(create: false, reading: true)
        let now = CommandProcess.clock.nowMilliseconds
        let text: String
        let what: String
        if history {
            let model = try await historyModel(store, now: now)
            text = try render(model, now: now)
            what = "the history of \(model.rows.count) runs"
        } else {
            let model = try await runModel(store, key: key)
            text = try render(model, now: now)
            what = "the report of run \(model.summary.runID)"
        }
        guard let destination else {
            Terminal.out(text.hasSuffix("\n") ? String(text.dropLast()) : text)
            return
        }
        try destination.write(Data(text.utf8))
        Terminal.out("wrote \(what) to \(destination.path)")
    }

    private func render(_ model: RunReportModel, now: Int64) throws -> String {
        switch chosenFormat {
        case .html: return ReportHTML.render(model, generatedAt: now)
        case .markdown: return ReportMarkdown.render(model, generatedAt: now)
        case .json: return try ReportJSON.render(model)
        }
    }

    private func render(_ model: HistoryReportModel, now: Int64) throws -> String {
        switch chosenFormat {
        case .html: return HistoryReport.html(model, generatedAt: now)
        case .markdown: return HistoryReport.markdown(model)
        case .json: return try ReportJSON.render(model)
        }
    }

    private func runModel(_ store: any RunStore, key: AuditPublicKey?) async throws -> RunReportModel {
        let run = try await global.storedRun(runID ?? "", in: store)
        let events = try await store.events(runID: run.id)
        let steps = try await store.steps(runID: run.id)
        let definition: RunbookDefinition
        do {
            definition = try RunbookParser.parseStored(run.definition, origin: "run \(run.id)", registry: global.registry)
        } catch {
            throw CLIExit(ExitCodes.failed, "run \(run.id): its stored definition no longer parses (\(error)); `runbook audit export \(run.id)` still shows every event")
        }
        let builder = RunReportBuilder(run: run, steps: steps, events: events, definition: definition,
                                       currentDefinitionHash: currentDefinitionHash(of: run), audit: auditStatus(run, events, steps, key: key))
        return builder.build()
    }

    /// SHA-256 of the runbook file the run came from (or of the same name in the library) as it is today.
    private func currentDefinitionHash(of run: RunRecord) -> String? {
        let candidates = [run.origin, global.runbookDirectory + "/" + run.runbook + ".yaml"]
        for path in candidates where path.hasPrefix("/") || path.hasSuffix(".yaml") {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) { return RunbookParser.sourceHash(of: text) }
        }
        return nil
    }

    private func auditStatus(_ run: RunRecord, _ events: [AuditEvent], _ steps: [StepRecord], key: AuditPublicKey?) -> RunReportModel.AuditStatus {
        let problem = AuditChain.verify(run: run, events: events, steps: steps)
        return RunReportModel.AuditStatus(
            chainIntact: problem == nil, problem: problem?.description, events: events.count, headSeq: events.last?.seq,
            headHash: events.last?.hash, signature: Self.signatureText(run, events, key: key),
            signatures: AuditSignatures.signatures(in: events))
    }

    /// The signature status in a sentence: checked with `key` when given, else what the history carries.
    static func signatureText(_ run: RunRecord, _ events: [AuditEvent], key: AuditPublicKey?) -> String {
        let signatures = AuditSignatures.signatures(in: events)
        let keys = AuditSignatures.fingerprints(in: events)
        guard let key else {
            if signatures.isEmpty { return "not signed: the hash chain is only self-consistent (whoever can write the database could recompute it)" }
            return "\(signatures.count) signature\(signatures.count == 1 ? "" : "s") by key \(keys.joined(separator: ", ")), NOT CHECKED: pass --public-key KEY to check them; until then the chain is only self-consistent"
        }
        let status = AuditSignatures.verify(run: run, events: events, publicKey: key)
        return status.isValid ? "valid: \(status)" : "FAILS with key \(key.fingerprint): \(status)"
    }

    private func historyModel(_ store: any RunStore, now: Int64) async throws -> HistoryReportModel {
        guard let window = Self.period(since) else {
            throw CLIExit.usage("--since '\(since)' is not a period; write a number followed by d, h, m or s, such as 365d or 12h")
        }
        let from = now - window
        var rows: [HistoryReportModel.Row] = []
        for run in try await store.runs(limit: Int.max / 2) where run.createdAt >= from && (runbook == nil || run.runbook == runbook) {
            guard let definition = try? RunbookParser.parseStored(run.definition, origin: "run \(run.id)", registry: global.registry),
                  !definition.objectives.isEmpty else { continue }
            let objectives = try await ObjectiveRecord.latest(runID: run.id, in: store)
            rows.append(HistoryReportModel.Row(
                runID: run.id, runbook: run.runbook, startedAt: run.createdAt, finishedAt: run.finishedAt, status: run.status.rawValue,
                reason: run.options.reason, startedBy: run.startedBy.description, objectives: objectives))
        }
        return HistoryReportModel(since: from, until: now, runbook: runbook, rows: rows)
    }

    /// `365d`, `12h`, `90m`, `30s` in milliseconds.
    static func period(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("d"), let days = Int64(trimmed.dropLast()), days >= 0, days < 100_000 { return days * 86_400_000 }
        return DurationText.parse(trimmed).map(DurationText.milliseconds)
    }
}
