import ArgumentParser
import Foundation
import RunbookEngine

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the runbooks found, with descriptions.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let summaries: [RunbookSummary]
        do {
            summaries = try global.library.list(registry: global.registry)
        } catch {
            throw CLIExit.usage("\(error)")
        }
        if summaries.isEmpty {
            Terminal.out("no runbooks in \(global.runbookDirectory)")
            return
        }
        let width = summaries.map(\.name.count).max() ?? 4
        for summary in summaries {
            let text = summary.error.map { "INVALID: \($0)" } ?? summary.description
            Terminal.out("\(summary.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(text)")
        }
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a runbook's DAG.")
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, mermaid, dot }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The runbook's name or path.") var name: String
    @Option(help: "text, mermaid or dot.") var format: Format = .text

    func run() async throws {
        let definition = try global.loadDefinition(name)
        let graph = RunbookGraph(definition: definition)
        switch format {
        case .text: Terminal.out(graph.renderText())
        case .mermaid: Terminal.out(graph.renderMermaid())
        case .dot: Terminal.out(graph.renderDOT())
        }
    }
}

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Validate runbooks; report every error with file, line and column.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Runbook names or files (default: every runbook).") var targets: [String] = []

    func run() async throws {
        var names = targets
        if names.isEmpty {
            names = ((try? global.library.list(registry: global.registry)) ?? []).map(\.path)
            if names.isEmpty { throw CLIExit.usage("no runbooks in \(global.runbookDirectory)") }
        }
        var failed = false
        for name in names {
            do {
                let definition = try global.library.load(nameOrPath: name, registry: global.registry)
                Terminal.out("\(definition.origin): ok (\(definition.steps.count) steps)")
            } catch let failure as ValidationFailure {
                failed = true
                for diagnostic in failure.diagnostics { Terminal.write("\(diagnostic)\n", to: STDERR_FILENO) }
            } catch {
                failed = true
                Terminal.error("\(error)")
            }
        }
        if failed { throw CLIExit(ExitCodes.usage) }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "How many runs.") var limit: Int = 50
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let store = try global.openStore(create: false, reading: true)
        let runs = try await store.runs(limit: limit)
        var drivers: [String: DriverStatus] = [:]
        var objectives: [String: [ObjectiveResult]] = [:]
        for run in runs {
            drivers[run.id] = try await DriverStatus.of(run, store: store)
            objectives[run.id] = try await ObjectiveRecord.latest(runID: run.id, in: store)
        }
        if json {
            Terminal.out(JSONOutput.render(runs.map { run -> [String: Any] in
                [
                    "id": run.id, "runbook": run.runbook, "status": run.status.rawValue,
                    "started_at": Timestamp.iso(run.createdAt), "finished_at": run.finishedAt.map(Timestamp.iso) ?? NSNull(),
                    "duration_ms": run.finishedAt.map { Int($0 - run.createdAt) } ?? NSNull(),
                    "started_by": run.startedBy.description,
                    "driver": drivers[run.id]?.object ?? NSNull(),
                    "objectives": (objectives[run.id] ?? []).map(ObjectiveRecord.object),
                ]
            }))
            return
        }
        if runs.isEmpty {
            Terminal.out("no runs yet")
            return
        }
        let idWidth = max(2, runs.map(\.id.count).max() ?? 2)
        let nameWidth = max(7, runs.map(\.runbook.count).max() ?? 7)
        Terminal.out("\("ID".padding(toLength: idWidth, withPad: " ", startingAt: 0))  \("RUNBOOK".padding(toLength: nameWidth, withPad: " ", startingAt: 0))  STATUS             STARTED                   DURATION  OBJECTIVES")
        for run in runs {
            Terminal.out("\(run.id.padding(toLength: idWidth, withPad: " ", startingAt: 0))  \(run.runbook.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(run.status.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0))  \(Timestamp.iso(run.createdAt))  \(Timestamp.duration(from: run.createdAt, to: run.finishedAt).padding(toLength: 8, withPad: " ", startingAt: 0))  \(ObjectiveRecord.brief(objectives[run.id] ?? []))")
            if let note = drivers[run.id]?.note(runID: run.id) { Terminal.out("  ↳ \(note)") }
        }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "The timeline of a run: every step, attempt, poll and compensation.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (or a unique prefix).") var runID: String
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let store = try global.openStore(create: false, reading: true)
        let run = try await global.storedRun(runID, in: store)
        let events = try await store.events(runID: run.id)
        let driver = try await DriverStatus.of(run, store: store)
        if json {
            Terminal.out(JSONOutput.render(["run": AuditExport.runObject(run), "events": events.map(AuditExport.eventObject),
                                            "driver": driver?.object ?? NSNull()]))
            return
        }
        Terminal.out("run \(run.id)  \(run.runbook)  \(run.status.rawValue)  started by \(run.startedBy) at \(Timestamp.iso(run.createdAt))")
        if let note = driver?.note(runID: run.id) { Terminal.out(note) }
        if let reason = run.options.reason { Terminal.out("reason: \(reason)") }
        let objectives = try await ObjectiveRecord.latest(runID: run.id, in: store)
        if !objectives.isEmpty { Terminal.out("objectives: " + objectives.map(\.summary).joined(separator: "; ")) }
        if !run.parameters.isEmpty {
            Terminal.out("parameters: " + run.parameters.keys.sorted().map { "\($0)=\(run.parameters[$0] ?? "")" }.joined(separator: " "))
        }
        for event in events {
            // A takeover names both drivers: the one replaced (in its detail) and the one taking over.
            let taker = event.kind == EventKind.leaseTaken.rawValue ? " by \(event.actor)" : ""
            Terminal.out("\(Timestamp.iso(event.at))  #\(event.seq)  \(EventText.describe(kind: event.kind, step: event.stepID, attempt: event.attempt, detail: event.detail))\(taker)")
        }
        if let message = run.message { Terminal.out(message) }
    }
}

/// A run's recorded objective verdicts (its last `objectives_evaluated` event), for `runs`, `history` and reports.
enum ObjectiveRecord {
    static func latest(runID: String, in store: any RunStore) async throws -> [ObjectiveResult] {
        try await store.events(runID: runID, kind: .objectivesEvaluated).last.map { ObjectiveResult.fromEventDetail($0.detail) } ?? []
    }

    /// `rto met, rpo MISSED` (`-` when the run recorded none).
    static func brief(_ results: [ObjectiveResult]) -> String {
        results.isEmpty ? "-" : results.map { "\($0.name) \($0.verdict == .missed ? "MISSED" : $0.verdict == .met ? "met" : "not measured")" }.joined(separator: ", ")
    }

    static func object(_ result: ObjectiveResult) -> [String: Any] {
        [
            "name": result.name, "result": result.verdict.rawValue, "measured_by": result.measuredBy,
            "target_seconds": result.targetSeconds ?? NSNull(), "measured_seconds": result.measuredSeconds ?? NSNull(),
        ]
    }
}
