import Foundation
import Testing
@testable import RunbookEngine

@Suite struct DefinitionParserTests {
    let registry = DefinitionFixtures.registry

    @Test func fullExampleBecomesTheModel() throws {
        let source = try DefinitionFixtures.source("restore-replica.yaml")
        let path = DefinitionFixtures.directory + "/restore-replica.yaml"
        let definition = try RunbookParser.parse(source: source, file: path, registry: registry)

        #expect(definition.name == "restore-replica")
        #expect(definition.description == "Restore a replica from the latest snapshot")
        #expect(definition.origin == path)
        #expect(definition.source == source)
        #expect(definition.sourceHash == RunbookParser.sourceHash(of: source))
        #expect(definition.sourceHash.count == 64)

        #expect(definition.parameters.map(\.name) == ["target", "password", "attempts", "lag", "force"])
        #expect(definition.parameter("target")?.required == true)
        #expect(definition.parameter("target")?.description == "Where to restore")
        #expect(definition.parameter("password")?.secret == true)
        #expect(definition.parameter("attempts")?.type == .int)
        #expect(definition.parameter("attempts")?.defaultValue == "3")
        #expect(definition.parameter("lag")?.type == .duration)
        #expect(definition.parameter("force")?.type == .bool)
        #expect(definition.parameter("force")?.location == SourceLocation(file: path, line: 8, column: 3))

        let defaults = RetryPolicy(maxAttempts: 3, backoff: .constant, initialInterval: .seconds(2), maxInterval: .seconds(60), jitter: true)
        #expect(definition.defaults == StepDefaults(retry: defaults, timeout: .seconds(600)))

        let check = try #require(definition.step("check"))
        #expect(check.retry == defaults)
        #expect(check.timeout == .seconds(600))
        #expect(check.needs == [])
        #expect(check.call.inputs == ["state": .scalar("ok")])
        #expect(check.compensate == nil && check.wait == nil && !check.irreversible && !check.approvalRequired)

        let makeDir = try #require(definition.step("make-dir"))
        #expect(makeDir.needs == ["check"])
        #expect(makeDir.when == "${{ params.force }}")
        #expect(makeDir.location == SourceLocation(file: path, line: 17, column: 5))
        #expect(makeDir.call.action == "shell")
        #expect(makeDir.call.inputs["run"] == .scalar("mkdir -p \"$DIR\""))
        #expect(makeDir.call.inputs["env"] == .map(["DIR": .scalar("${{ params.target }}/x"), "RUN": .scalar("${{run.id}}-${{ run.runbook }}")]))
        // Step retry keys override the defaults key by key: backoff and intervals stay.
        var stepRetry = defaults
        stepRetry.maxAttempts = 5
        #expect(makeDir.retry == stepRetry)
        #expect(makeDir.timeout == .seconds(30))
        let wait = try #require(makeDir.wait)
        #expect(wait.call.action == "shell")
        #expect(wait.until == OutputMatcher(output: "state", values: ["ready"]))
        #expect(wait.failIf == OutputMatcher(output: "state", values: ["failed", "gone"]))
        #expect(wait.interval == .milliseconds(500))
        #expect(wait.timeout == .seconds(600))
        let compensate = try #require(makeDir.compensate)
        #expect(compensate.action == "shell")
        #expect(compensate.inputs["run"] == .scalar("rm -rf \"$DIR\""))
        var compensateRetry = stepRetry
        compensateRetry.jitter = false
        #expect(makeDir.compensateRetry == compensateRetry)
        #expect(makeDir.irreversible)
        #expect(makeDir.approvalRequired)

        let report = try #require(definition.step("report"))
        #expect(report.compensateRetry == report.retry)
        #expect(report.call.inputs["items"] == .list([.scalar("a"), .scalar("b")]))
    }

    @Test func documentedExampleIsValid() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/runbook-format.md").standardized.path
        let text = try String(contentsOfFile: docs, encoding: .utf8)
        let start = try #require(text.range(of: "```yaml\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let example = String(text[start.upperBound..<end.lowerBound])
        let definition = try RunbookParser.parse(source: example, file: "restore-replica.yaml", registry: registry)
        #expect(definition.steps.map(\.id) == ["check", "make-dir", "report"])
        #expect(definition.step("make-dir")?.compensateRetry.maxAttempts == 2)
    }

    @Test func noDefaultsMeansOneAttemptAndNoTimeout() throws {
        let source = DefinitionFixtures.runbook(steps: "  - id: a\n    action: pass\n")
        let definition = try RunbookParser.parse(source: source, file: "test.yaml", registry: registry)
        #expect(definition.steps[0].retry.maxAttempts == 1)
        #expect(definition.steps[0].timeout == nil)
    }

    @Test func sourceHashIsLowerCaseHexSHA256() {
        #expect(RunbookParser.sourceHash(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func unknownKeysAtEveryLevelAreReportedWithSuggestions() {
        let source = """
        name: test
        descripton: x
        parameters:
          p: { type: string, requred: true }
        defaults:
          retry: { max_attempt: 2 }
          timout: 1m
        steps:
          - id: make-dir
            action: shell
            with: { run: "true" }
            retires: 3
            wait:
              action: pass
              untill: { output: s, equals: x }
              until: { output: s, equal: x }
            compensate:
              action: pass
              retry: { jiter: false }
              whith: {}
        """
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:2:1: unknown key 'descripton' (did you mean 'description'?)",
            "test.yaml:4:22: parameter 'p': unknown key 'requred' (did you mean 'required'?)",
            "test.yaml:6:12: defaults retry: unknown key 'max_attempt' (did you mean 'max_attempts'?)",
            "test.yaml:7:3: defaults: unknown key 'timout' (did you mean 'timeout'?)",
            "test.yaml:12:5: step 'make-dir': unknown key 'retires' (did you mean 'retry'?)",
            "test.yaml:15:7: step 'make-dir' wait: unknown key 'untill' (did you mean 'until'?)",
            "test.yaml:16:14: step 'make-dir' wait until: missing key 'equals' or 'in' (the values that satisfy the condition)",
            "test.yaml:16:27: step 'make-dir' wait until: unknown key 'equal' (did you mean 'equals'?)",
            "test.yaml:19:16: step 'make-dir' compensate retry: unknown key 'jiter' (did you mean 'jitter'?)",
            "test.yaml:20:7: step 'make-dir' compensate: unknown key 'whith' (did you mean 'with'?)",
        ])
    }

    @Test func aKeyGivenTwiceNamesTheLineOfTheFirst() {
        let source = """
        name: test
        steps:
          - id: a
            action: pass
            retires: 2
            action: shell
            retires: 3
        """
        let diagnostics = DefinitionFixtures.diagnostics(source)
        #expect(diagnostics.contains("test.yaml:6:5: step 'a': duplicate key 'action' (first at line 4)"), "\(diagnostics)")
        #expect(diagnostics.contains("test.yaml:7:5: step 'a': duplicate key 'retires' (first at line 5)"), "\(diagnostics)")
        #expect(diagnostics.contains("test.yaml:5:5: step 'a': unknown key 'retires' (did you mean 'retry'?)"), "\(diagnostics)")
    }

    @Test func yamlSyntaxErrorsCarryYamsPosition() {
        let diagnostics = DefinitionFixtures.diagnostics("name: test\nsteps:\n  - id: [a\n")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.hasPrefix("test.yaml:4:1: invalid YAML: ") == true)
    }

    @Test func wrongValueKinds() {
        #expect(DefinitionFixtures.diagnostics("name: test\nsteps: abc\n") == [
            "test.yaml:2:8: 'steps' must be a list of steps, got 'abc'",
        ])
        let source = DefinitionFixtures.runbook(steps: """
          - id: a
            action: pass
            needs: { b: c }
            irreversible: maybe
            approval: yes
            description: [x]
            retry: { max_attempts: 0, backoff: linear }

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:5:12: step 'a': 'needs' must be a list of step ids, got a map",
            "test.yaml:6:19: step 'a': 'irreversible' must be true or false, got 'maybe'",
            "test.yaml:7:15: step 'a': approval must be 'required' (or left out), got 'yes'",
            "test.yaml:8:18: step 'a': 'description' must be a single value, got a list",
            "test.yaml:9:28: step 'a' retry: max_attempts must be at least 1, got 0",
            "test.yaml:9:40: step 'a' retry: backoff must be exponential or constant, got 'linear'",
        ])
    }

    @Test func unknownActionsAndInputs() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: a
            action: shel
          - id: b
            action: frobnicate
          - id: c
            action: shell
            with: { rn: ls }
          - id: d
            action: shell
            with: { run: ls, env: [x] }

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:4:13: step 'a': unknown action 'shel' (did you mean 'shell'?)",
            "test.yaml:6:13: step 'b': unknown action 'frobnicate' (known actions: pass, shell)",
            "test.yaml:9:11: step 'c': action 'shell' needs input 'run'",
            "test.yaml:9:13: step 'c': action 'shell' has no input 'rn' (did you mean 'run'?)",
            "test.yaml:12:27: step 'd' input 'env': must be a map, got a list",
        ])
    }

    @Test func stepIdsMustBeValidAndUnique() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: Make_Dir
            action: pass
          - id: a
            action: pass
          - id: a
            action: pass
          - action: pass

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:3:9: step id 'Make_Dir' is not valid; use lower-case letters, digits and '-', not starting with '-'",
            "test.yaml:7:9: duplicate step id 'a' (first used at line 5)",
            "test.yaml:9:5: step 4: missing key 'id'",
        ])
    }

    @Test func needsMustNameKnownSteps() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: check
            action: pass
          - id: b
            needs: [chek, check, check]
            action: pass

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:6:13: step 'b': needs unknown step 'chek' (did you mean 'check'?)",
            "test.yaml:6:26: step 'b': needs 'check' more than once",
        ])
    }

    @Test func cycleIsNamed() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: a
            needs: [c]
            action: pass
          - id: b
            needs: [a]
            action: pass
          - id: c
            needs: [b]
            action: pass

        """)
        #expect(DefinitionFixtures.diagnostics(source) == ["test.yaml:4:13: cycle: a -> c -> b -> a"])
    }

    @Test func templateReferencesAreChecked() {
        let source = DefinitionFixtures.runbook(parameters: "  target: { type: string }\n", steps: """
          - id: a
            action: pass
            with: { x: "${{ params.targt }}", y: "${{ env.HOME }}", z: "${{ outputs.id }}" }
          - id: b
            action: pass
            when: "${{ steps.c.outputs.ok }}"
          - id: c
            needs: [a]
            action: pass
            with:
              from-a: "${{ steps.a.outputs.id }}"
              from-b: "${{ steps.b.outputs.id }}"
              nope: "${{ steps.nope.outputs.id }}"
              self: "${{ steps.c.outputs.id }}"
              open: "${{ params.target"

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:7:16: step 'a' input 'x': ${{ params.targt }} names unknown parameter 'targt' (did you mean 'target'?)",
            "test.yaml:7:42: step 'a' input 'y': unknown expression 'env.HOME'; use params.NAME, steps.ID.outputs.KEY, outputs.KEY, run.id or run.runbook",
            "test.yaml:7:64: step 'a' input 'z': ${{ outputs.id }} is only available in wait: and compensate: inputs (it reads the outputs of the step's own action)",
            "test.yaml:10:11: step 'b' when: ${{ steps.c.outputs.ok }} refers to step 'c', which step 'b' does not need (directly or through other steps); add 'c' to its needs:",
            "test.yaml:16:15: step 'c' input 'from-b': ${{ steps.b.outputs.id }} refers to step 'b', which step 'c' does not need (directly or through other steps); add 'b' to its needs:",
            "test.yaml:17:13: step 'c' input 'nope': ${{ steps.nope.outputs.id }} names unknown step 'nope'",
            "test.yaml:18:13: step 'c' input 'self': ${{ steps.c.outputs.id }} refers to the step itself; use ${{ outputs.KEY }} in wait: or compensate: to read its own outputs",
            "test.yaml:19:13: step 'c' input 'open': '${{' has no closing '}}' in '${{ params.target'",
        ])
    }

    @Test func transitiveAncestorOutputsAreAllowed() throws {
        let source = DefinitionFixtures.runbook(steps: """
          - id: a
            action: pass
          - id: b
            needs: [a]
            action: pass
          - id: c
            needs: [b]
            action: pass
            with: { x: "${{ steps.a.outputs.id }}" }

        """)
        let definition = try RunbookParser.parse(source: source, file: "test.yaml", registry: registry)
        #expect(definition.steps.count == 3)
    }

    @Test func literalOnlyInputsRefuseTemplates() {
        let source = DefinitionFixtures.runbook(parameters: "  dir: { type: string }\n", steps: """
          - id: a
            action: shell
            with: { run: "mkdir ${{ params.dir }}" }

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:7:18: step 'a' input 'run': ${{ }} is not allowed here; pass values through env: instead",
        ])
    }

    @Test func badDurationsNameTheValueAndTheForms() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: a
            action: pass
            timeout: 10 minutes

        """)
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:5:14: step 'a': timeout '10 minutes' is not a duration; write a number followed by ms, s, m or h, such as 500ms, 10s, 5m or 1h (or combined, such as 1h30m)",
        ])
    }

    @Test func parameterTypesAndDefaultsAreChecked() {
        let source = DefinitionFixtures.runbook(parameters: """
          attempts: { type: int, default: abc }
          mode: { type: strng }
          target: { type: string, required: true, default: x }
          lag: { type: duration, default: soon }

        """, steps: "  - id: a\n    action: pass\n")
        #expect(DefinitionFixtures.diagnostics(source) == [
            "test.yaml:3:35: parameter 'attempts': default 'abc' must be an integer (the parameter's type is int)",
            "test.yaml:4:17: parameter 'mode': type 'strng' is not one of string, int, duration, bool (did you mean 'string'?)",
            "test.yaml:5:27: parameter 'target': a parameter cannot be both required and have a default; drop one (a default already makes it optional)",
            "test.yaml:6:35: parameter 'lag': default 'soon' must be a duration such as 500ms, 10s, 5m or 1h (the parameter's type is duration)",
        ])
    }

    @Test func nameMustMatchTheFileName() {
        let source = "name: other\nsteps:\n  - id: a\n    action: pass\n"
        #expect(DefinitionFixtures.diagnostics(source, file: "dir/test.yaml") == [
            "dir/test.yaml:1:7: name 'other' must equal the file name without .yaml ('test')",
        ])
    }

    @Test func emptyStepsAndMissingKeys() {
        #expect(DefinitionFixtures.diagnostics("name: test\nsteps: []\n") == [
            "test.yaml:2:8: 'steps' is empty; a runbook needs at least one step",
        ])
        #expect(DefinitionFixtures.diagnostics("description: x\n") == [
            "test.yaml:1:1: missing key 'name'",
            "test.yaml:1:1: missing key 'steps'",
        ])
        #expect(DefinitionFixtures.diagnostics("") == ["test.yaml:1:1: the file is empty; a runbook needs name: and steps:"])
    }

    @Test func everyErrorIsReportedAtOnceInPositionOrder() {
        let source = DefinitionFixtures.runbook(steps: """
          - id: b
            needs: [a]
            action: pass
            timeout: forever
          - id: a
            action: nope

        """) + "descripton: late\n"
        let diagnostics = DefinitionFixtures.diagnostics(source)
        #expect(diagnostics.count == 3)
        #expect(diagnostics.map { $0.split(separator: ":").prefix(3).joined(separator: ":") } == [
            "test.yaml:6:14", "test.yaml:8:13", "test.yaml:9:1",
        ])
    }

    @Test func tenThousandStepsParse() throws {
        var steps = "  - id: s0\n    action: pass\n"
        for index in 1..<10_000 {
            steps += "  - id: s\(index)\n    needs: [s\(index - 1)]\n    action: pass\n"
            if index % 10 == 0 { steps += "    with: { x: \"${{ steps.s\(index / 2).outputs.v }}\" }\n" }
        }
        let definition = try RunbookParser.parse(source: DefinitionFixtures.runbook(steps: steps), file: "test.yaml", registry: registry)
        #expect(definition.steps.count == 10_000)
        #expect(RunbookGraph(definition: definition).topologicalOrder.last == "s9999")
    }
}
