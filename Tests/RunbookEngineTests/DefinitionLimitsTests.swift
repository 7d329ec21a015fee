import Foundation
import Testing
@testable import RunbookEngine

/// Documents that would be huge once their aliases are expanded, or nested too deep to walk, are refused
/// with one diagnostic before anything builds or walks the tree; secrets cannot carry a default.
@Suite struct DefinitionLimitsTests {
    let registry = DefinitionFixtures.registry

    /// Nine anchors, each a list of nine aliases of the one before: about 390 million values once expanded.
    /// The last one is used where the validator does not walk into it, so unfixed code answers at once.
    static let aliasBomb: String = {
        var lines = ["name: test", "anchors:", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        let names = Array("abcdefghi").map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("  \(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]")
        }
        lines += ["description: *i", "steps:", "  - id: s", "    action: pass", ""]
        return lines.joined(separator: "\n")
    }()

    /// `depth` nested flow lists as the value of a `pass` step's input, on line 6.
    static func nestedFlow(_ depth: Int) -> String {
        DefinitionFixtures.runbook(steps: "  - id: s\n    action: pass\n    with:\n      x: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n")
    }

    /// `depth` nested block maps (`k0:`, `k1:` ...) under a `pass` step's `with:`, the first on line 6.
    static func nestedBlock(_ depth: Int) -> String {
        let keys = (0..<depth).map { String(repeating: " ", count: 6 + 2 * $0) + "k\($0):" }
        return DefinitionFixtures.runbook(steps: "  - id: s\n    action: pass\n    with:\n" + keys.joined(separator: "\n") + " leaf\n")
    }

    @Test func aliasBombIsRefusedAtTheAliasThatCrossesTheBound() {
        // Counting values as the aliases expand: the bound is crossed at the first *f inside g.
        #expect(DefinitionFixtures.diagnostics(Self.aliasBomb) == [
            "test.yaml:9:10: alias *f makes the document expand to more than 1,000,000 values; a runbook may hold at most 1,000,000 (aliases of aliases multiply: write the values out instead)",
        ])
    }

    @Test func aliasBombIsRefusedByTheLibraryListingToo() {
        switch RunbookParser.peek(source: Self.aliasBomb, file: "bomb.yaml") {
        case .success:
            Issue.record("peek accepted a document that expands to about 390 million values")
        case .failure(let failure):
            #expect(failure.diagnostics.map(\.description) == [
                "bomb.yaml:9:10: alias *f makes the document expand to more than 1,000,000 values; a runbook may hold at most 1,000,000 (aliases of aliases multiply: write the values out instead)",
            ])
        }
    }

    @Test func deepFlowNestingIsRefusedAtTheListThatIsTooDeep() {
        // The root map, steps:, the step and with: are four levels; the 61st '[' is the 65th level.
        #expect(DefinitionFixtures.diagnostics(Self.nestedFlow(200)) == [
            "test.yaml:6:70: lists and maps are nested more than 64 deep here; a runbook may nest at most 64 levels",
        ])
    }

    @Test func deepBlockNestingIsRefusedAtTheMapThatIsTooDeep() {
        // k60's value is the 65th level; it starts at k61, on line 6 + 61, indented 6 + 2 * 61.
        #expect(DefinitionFixtures.diagnostics(Self.nestedBlock(100)) == [
            "test.yaml:67:129: lists and maps are nested more than 64 deep here; a runbook may nest at most 64 levels",
        ])
    }

    @Test func nestingUpToTheBoundStillValidates() {
        #expect(DefinitionFixtures.diagnostics(Self.nestedFlow(60)) == [])
        #expect(DefinitionFixtures.diagnostics(Self.nestedBlock(60)) == [])
    }

    @Test func peekRefusesDeepNestingToo() {
        guard case .failure(let failure) = RunbookParser.peek(source: Self.nestedFlow(200), file: "deep.yaml") else {
            Issue.record("peek accepted 200 nested lists")
            return
        }
        #expect(failure.diagnostics.map(\.description) == [
            "deep.yaml:6:70: lists and maps are nested more than 64 deep here; a runbook may nest at most 64 levels",
        ])
    }

    @Test func anAliasCountsEverythingItStandsFor() {
        let limits = YAMLLimits(maxValues: 12, maxDepth: 8, subject: "a test file")
        // The root map, key a, the list and its four items: 7; key b: 8; *x stands for the list's 5 values: 13.
        #expect(limits.firstExcess(in: "a: &x [1, 2, 3, 4]\nb: *x\n", file: "t.yaml")?.description
            == "t.yaml:2:4: alias *x makes the document expand to more than 12 values; a test file may hold at most 12 (aliases of aliases multiply: write the values out instead)")
        #expect(limits.firstExcess(in: "a: &x [1, 2, 3, 4]\nb: x\n", file: "t.yaml") == nil)
    }

    @Test func anAliasCarriesItsNestingWithIt() {
        let limits = YAMLLimits(maxValues: 100, maxDepth: 3, subject: "a test file")
        // [[1]] under the root map reaches the bound; the same two levels inside another list go one past it.
        #expect(limits.firstExcess(in: "a: &x [[1]]\nb: *x\n", file: "t.yaml") == nil)
        #expect(limits.firstExcess(in: "a: &x [[1]]\nb: [*x]\n", file: "t.yaml")?.description
            == "t.yaml:2:5: alias *x nests lists and maps more than 3 deep here; a test file may nest at most 3 levels")
    }

    @Test func syntaxErrorsAreStillReportedAsBefore() {
        #expect(YAMLLimits.runbook.firstExcess(in: "name: [a, b\n", file: "t.yaml") == nil)
        let diagnostics = DefinitionFixtures.diagnostics("name: [a, b\nsteps: []\n")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.contains("invalid YAML: ") == true)
    }

    @Test func shippedRunbooksStayWellWithinTheBounds() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Runbooks").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        let tight = YAMLLimits(maxValues: 10_000, maxDepth: 16, subject: "a runbook")
        for name in files {
            let source = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            #expect(tight.firstExcess(in: source, file: name) == nil, "\(name)")
        }
    }

    @Test func secretParameterCannotHaveADefault() {
        let source = DefinitionFixtures.runbook(
            parameters: "  password: { type: string, secret: true, default: hunter2 }\n",
            steps: "  - id: s\n    action: pass\n")
        let diagnostics = DefinitionFixtures.diagnostics(source)
        #expect(diagnostics == [
            "test.yaml:3:52: parameter 'password': a secret cannot have a default (the runbook file is stored with each run and shown by history and exports); pass it with --param password=VALUE or RUNBOOK_PARAM_PASSWORD",
        ])
        #expect(!diagnostics.joined().contains("hunter2"))
    }

    @Test func secretDefaultOfTheWrongTypeIsNotEchoed() {
        let source = DefinitionFixtures.runbook(
            parameters: "  pin:\n    type: int\n    secret: true\n    default: s3cr3t\n",
            steps: "  - id: s\n    action: pass\n")
        let diagnostics = DefinitionFixtures.diagnostics(source)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.hasPrefix("test.yaml:6:14: parameter 'pin': a secret cannot have a default") == true)
        #expect(!diagnostics.joined().contains("s3cr3t"))
    }

    @Test func emptySecretDefaultIsAllowed() throws {
        let source = DefinitionFixtures.runbook(
            parameters: "  password: { type: string, secret: true, default: \"\" }\n",
            steps: "  - id: s\n    action: pass\n")
        let definition = try RunbookParser.parse(source: source, file: "test.yaml", registry: registry)
        #expect(definition.parameter("password")?.secret == true)
    }

    @Test func storedDefinitionWithASecretDefaultStillLoads() throws {
        // A run started before the rule must still resume: trusted parsing skips the checks that only find errors.
        let source = DefinitionFixtures.runbook(
            parameters: "  password: { type: string, secret: true, default: old }\n",
            steps: "  - id: s\n    action: pass\n")
        let definition = try RunbookParser.parse(source: source, file: "run 1", registry: registry, trusted: true)
        #expect(definition.parameter("password")?.defaultValue == "old")
    }
}
