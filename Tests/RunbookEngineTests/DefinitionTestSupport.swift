import Foundation
@testable import RunbookEngine

/// A `shell`-like action for tests: `run` is required and literal-only, `env` is a map.
struct FakeShellAction: StepAction {
    var name: String { "shell" }
    var summary: String { "Runs a shell command (test double)" }
    var inputs: [ActionInputSpec] {
        [
            ActionInputSpec("run", required: true, literalOnly: true),
            ActionInputSpec("env", kind: .map),
        ]
    }
    func perform(_ invocation: ActionInvocation) async throws -> [String: String] { [:] }
}

/// An action that accepts any input (its inputs contain the `*` spec) and returns nothing.
struct FakePassAction: StepAction {
    var name: String { "pass" }
    var summary: String { "Does nothing (test double)" }
    var inputs: [ActionInputSpec] { [.anyInput] }
    func perform(_ invocation: ActionInvocation) async throws -> [String: String] { [:] }
}

enum DefinitionFixtures {
    static let registry = ActionRegistry([FakeShellAction(), FakePassAction()])

    static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }

    static func source(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    /// The diagnostics `source` produces as `FILE:LINE:COL: MESSAGE` lines, or `[]` when it parses.
    static func diagnostics(_ source: String, file: String = "test.yaml") -> [String] {
        do {
            _ = try RunbookParser.parse(source: source, file: file, registry: registry)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    /// A minimal valid runbook named `test` with `steps` appended under `steps:`.
    static func runbook(parameters: String = "", steps: String) -> String {
        "name: test\n" + (parameters.isEmpty ? "" : "parameters:\n" + parameters) + "steps:\n" + steps
    }
}
