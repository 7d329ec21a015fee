import Testing
@testable import RunbookEngine

@Suite struct DefinitionParameterTests {
    let definition: RunbookDefinition = {
        let location = SourceLocation(file: "p.yaml", line: 1, column: 1)
        return RunbookDefinition(
            name: "p", description: "",
            parameters: [
                ParameterSpec(name: "target", type: .string, required: true, location: location),
                ParameterSpec(name: "password", type: .int, secret: true, location: location),
                ParameterSpec(name: "attempts", type: .int, defaultValue: "3", location: location),
                ParameterSpec(name: "lag", type: .duration, defaultValue: "5m", location: location),
                ParameterSpec(name: "force", type: .bool, defaultValue: "false", location: location),
                ParameterSpec(name: "note", type: .string, location: location),
            ],
            defaults: StepDefaults(), steps: [], source: "", sourceHash: "", origin: "p.yaml"
        )
    }()

    @Test func appliesDefaultsAndNormalisesBooleans() throws {
        let resolved = try ParameterResolver.resolve(definition: definition, provided: ["target": "/srv", "force": "YES"])
        #expect(resolved == ["target": "/srv", "attempts": "3", "lag": "5m", "force": "true"])
    }

    @Test func reportsEveryProblemAtOnce() {
        let provided = ["attempts": "x", "lag": "soon", "force": "maybe", "password": "hunter2", "targt": "/srv"]
        #expect(throws: ParameterError(problems: [
            "unknown parameter 'targt': runbook 'p' does not declare it (did you mean 'target'?)",
            "missing required parameter 'target' (pass --param target=VALUE)",
            "parameter 'password' must be an integer (the value is not shown: the parameter is secret)",
            "parameter 'attempts' must be an integer, got 'x'",
            "parameter 'lag' must be a duration such as 500ms, 10s, 5m or 1h, got 'soon'",
            "parameter 'force' must be true or false, got 'maybe'",
        ])) {
            try ParameterResolver.resolve(definition: definition, provided: provided)
        }
    }
}
