import Testing
import RunbookBenchmarks
import RunbookEngine

/// The benchmark's full-size validate case stays inside the parser's bounds on a runbook's size and nesting.
@Suite struct ValidateSizeTests {
    @Test func tenThousandStepRunbookValidates() throws {
        let source = RunbookGenerator.large(name: "bench-validate", count: 10_000)
        #expect(YAMLLimits.runbook.firstExcess(in: source, file: "bench-validate.yaml") == nil)
        let definition = try RunbookParser.parse(source: source, file: "bench-validate.yaml", registry: BenchmarkCases.registry())
        #expect(definition.steps.count == 10_000)
    }
}
