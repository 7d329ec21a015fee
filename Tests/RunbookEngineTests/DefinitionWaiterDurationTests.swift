import Testing
@testable import RunbookEngine

@Suite struct DefinitionWaiterDurationTests {
    static func runbook(_ interval: String, type: String = "duration") -> String {
        """
        name: test
        parameters:
          poll: { type: \(type), default: \(type == "duration" ? "30s" : "3") }
        steps:
          - id: create
            action: pass
            wait:
              action: pass
              with: { state: ready }
              until: { output: state, equals: ready }
              interval: \(interval)
              timeout: "${{ params.poll }}"
        """
    }

    @Test func aDurationParameterMayPaceAWaiter() throws {
        let definition = try RunbookParser.parse(source: Self.runbook("\"${{ params.poll }}\""), file: "test.yaml", registry: DefinitionFixtures.registry)
        let wait = try #require(definition.steps.first?.wait)
        #expect(wait.intervalTemplate == "${{ params.poll }}")
        let durations = try wait.durations(parameters: ["poll": "250ms"])
        #expect(durations.interval == .milliseconds(250))
        #expect(durations.timeout == .milliseconds(250))
    }

    @Test func onlyDurationParametersAreAccepted() {
        let wrongType = DefinitionFixtures.diagnostics(Self.runbook("\"${{ params.poll }}\"", type: "int"))
        #expect(wrongType.contains { $0.hasPrefix("test.yaml:11:17: ") && $0.contains("parameter 'poll', which is of type int; declare it with type: duration") })
        let notAParam = DefinitionFixtures.diagnostics(Self.runbook("\"${{ run.id }}\""))
        #expect(notAParam.contains { $0.contains("may only use ${{ params.NAME }}") })
        let unknown = DefinitionFixtures.diagnostics(Self.runbook("\"${{ params.pol }}\""))
        #expect(unknown.contains { $0.contains("unknown parameter 'pol'") })
    }
}

@Suite struct TrustedParseTests {
    /// A stored definition is parsed without the checks that only find errors, into the same model.
    @Test func trustedParseBuildsTheSameModelAndSkipsReferenceChecks() throws {
        let valid = """
            name: test
            parameters:
              who: { type: string, default: x }
            steps:
              - { id: a, action: pass, with: { v: "${{ params.who }}" } }
              - { id: b, needs: [a], action: pass, with: { v: "${{ steps.a.outputs.v }}" } }
            """
        let checked = try RunbookParser.parse(source: valid, file: "test.yaml", registry: DefinitionFixtures.registry)
        let trusted = try RunbookParser.parse(source: valid, file: "test.yaml", registry: DefinitionFixtures.registry, trusted: true)
        #expect(checked == trusted)
        // A reference error (found by a full parse) is not looked for in trusted mode.
        let stale = valid.replacingOccurrences(of: "params.who", with: "params.gone")
        #expect(!DefinitionFixtures.diagnostics(stale).isEmpty)
        #expect(throws: Never.self) {
            _ = try RunbookParser.parse(source: stale, file: "test.yaml", registry: DefinitionFixtures.registry, trusted: true)
        }
    }
}
