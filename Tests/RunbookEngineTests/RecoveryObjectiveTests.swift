import Foundation
@testable import RunbookEngine
import Testing

/// Recovery objectives: declared targets, checked by `validate`, judged against what the run measured and recorded
/// in the history when the run finishes.
@Suite struct RecoveryObjectiveTests {
    static func runbook(measured: String = "report.echo") -> String {
        """
        name: test
        parameters:
          rto_target: { type: duration, default: 5m }
        objectives:
          rto: { target: "${{ params.rto_target }}", measured: \(measured), description: seconds until writable }
          rpo: { target: 0s, measured: loss.echo }
        steps:
          - id: report
            action: note
            with: { key: r, echo: "42.5" }
          - id: loss
            needs: [report]
            action: note
            with: { key: l, echo: "0" }
        """
    }

    func recorded(_ h: EngineHarness, _ outcome: RunOutcome) async throws -> [ObjectiveResult] {
        let events = try await h.store.events(runID: outcome.run.id, kind: .objectivesEvaluated)
        return try #require(events.last.map { ObjectiveResult.fromEventDetail($0.detail) })
    }

    @Test func aRunRecordsEachTargetItsMeasurementAndWhetherItWasMet() async throws {
        let h = EngineHarness()
        let outcome = try await h.start(Self.runbook())
        #expect(outcome.run.status == .succeeded)
        let results = try await recorded(h, outcome)
        #expect(results.map(\.name) == ["rto", "rpo"])
        #expect(results[0].targetSeconds == 300 && results[0].measuredSeconds == 42.5 && results[0].verdict == .met)
        #expect(results[0].measuredBy == "report.echo" && results[0].description == "seconds until writable")
        #expect(results[1].targetSeconds == 0 && results[1].measuredSeconds == 0 && results[1].verdict == .met)
    }

    @Test func aTargetFromAParameterThatTheMeasurementExceedsIsMissed() async throws {
        let h = EngineHarness()
        let outcome = try await h.start(Self.runbook(), parameters: ["rto_target": "30s"])
        let results = try await recorded(h, outcome)
        #expect(results[0].targetSeconds == 30 && results[0].verdict == .missed)
        #expect(results[0].summary == "rto MISSED (42.5 s, target 30 s)")
    }

    @Test func aRunThatRollsBackRecordsItsObjectivesAsNotMeasured() async throws {
        let h = EngineHarness()
        let yaml = Self.runbook().replacingOccurrences(of: "with: { key: l, echo: \"0\" }", with: "with: { key: l, fatal: \"true\" }")
        let outcome = try await h.start(yaml)
        #expect(outcome.run.status == .rolledBack)
        let results = try await recorded(h, outcome)
        #expect(results.map(\.verdict) == [.notMeasured, .notMeasured], "nothing counts as measured after a rollback: \(results)")
    }

    @Test func validateNamesEachBadObjectiveAtItsLine() {
        let source = """
            name: test
            parameters:
              label: { type: string, default: x }
            objectives:
              rto: { target: "${{ params.label }}", measured: report.seconds }
              rpo: { target: soon, measured: nowhere.seconds }
              x: { target: 1m, measured: report }
              y: { target: "${{ steps.report.outputs.echo }}", measured: report.echo }
              z: { goal: 1m }
            steps:
              - id: report
                action: pass
            """
        let diagnostics = DefinitionFixtures.diagnostics(source)
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:5:") && $0.contains("must name a parameter of type duration, not string") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:6:") && $0.contains("target 'soon' is not a duration") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:6:") && $0.contains("names unknown step 'nowhere'") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:7:") && $0.contains("must name a step output as STEP.OUTPUT") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:8:") && $0.contains("target may only read parameters") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.hasPrefix("test.yaml:9:") && $0.contains("unknown key 'goal'") }, "\(diagnostics)")
    }
}
