import Foundation
import RunbookTestSupport
import Testing

/// Hostile or mistaken input through the binary: alias bombs, deep nesting, secret defaults, repeated
/// `--param`s and parameter files that are not a map of values. Each is refused with a sentence and exit 2.
@Suite struct InputHardeningTests {
    /// The tester's 409-byte file: nine anchors of nine aliases each, the last one a `pass` step's input.
    static let aliasBomb: String = {
        var lines = ["name: bomb", "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        let names = Array("abcdefghi").map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]")
        }
        lines += ["steps:", "  - id: s", "    action: pass", "    with: { x: *i }", ""]
        return lines.joined(separator: "\n")
    }()

    static let deepNesting = "name: deep\nsteps:\n  - id: s\n    action: pass\n    with:\n      x: "
        + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\n"

    static let good = "name: good\ndescription: a runbook that is fine\nsteps:\n  - { id: s, action: pass }\n"

    /// Run the binary under a 512 MB address-space limit, so a document that expands without bound makes the
    /// unfixed binary fail in a second instead of taking the machine's memory.
    func limited(_ ws: Workspace, _ arguments: [String]) async throws -> CommandResult {
        let script = "ulimit -v 524288 && exec \"$0\" \"$@\""
        return try await CommandRunner.runDetached("/bin/sh", ["-c", script, try RunbookBinary.path(), "--db", ws.database, "--runbooks", ws.runbooks] + arguments,
                                                   directory: ws.work)
    }

    // MARK: - Alias bombs and deep nesting

    @Test func aliasBombIsRefusedByValidateAndRun() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "bomb", Self.aliasBomb)
        let expected = "\(ws.runbooks)/bomb.yaml:8:8: alias *f makes the document expand to more than 1,000,000 values"
        for command in ["validate", "run"] {
            let result = try await limited(ws, [command, "bomb"])
            #expect(result.exitCode == 2, "\(command): \(result.stderr.suffix(300))")
            #expect(result.stderr.contains(expected), "\(command): \(result.stderr.suffix(300))")
        }
        #expect(!FileManager.default.fileExists(atPath: ws.database))
    }

    @Test func listShowsTheBombInvalidAndStillListsTheGoodRunbook() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "bomb", Self.aliasBomb)
        try ws.write(runbook: "good", Self.good)
        let result = try await limited(ws, ["list"])
        #expect(result.exitCode == 0, "\(result.stderr.suffix(300))")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("bomb  INVALID: \(ws.runbooks)/bomb.yaml:8:8: alias *f makes the document expand") })
        #expect(lines.contains("good  a runbook that is fine"))
    }

    @Test func deepNestingIsASentenceNotACrash() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "deep", Self.deepNesting)
        try ws.write(runbook: "good", Self.good)
        let expected = "\(ws.runbooks)/deep.yaml:6:70: lists and maps are nested more than 64 deep here; a runbook may nest at most 64 levels"
        for command in ["validate", "run"] {
            let result = try await ws.runbook([command, "deep"])
            #expect(result.exitCode == 2, "\(command) exited \(result.exitCode)")
            #expect(result.stderr.contains(expected), "\(command): \(result.stderr.suffix(300))")
        }
        let list = try await ws.runbook(["list"])
        #expect(list.exitCode == 0, "list exited \(list.exitCode)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("deep  INVALID: \(expected)"))
        #expect(lines.contains("good  a runbook that is fine"))
    }

    // MARK: - Secret defaults

    @Test func secretWithADefaultIsRefusedWithoutShowingIt() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "secretive", """
            name: secretive
            parameters:
              token: { type: string, secret: true, default: tok-123-abc }
            steps:
              - { id: s, action: pass }
            """)
        for command in ["validate", "run"] {
            let result = try await ws.runbook([command, "secretive"])
            #expect(result.exitCode == 2, "\(command) exited \(result.exitCode)")
            #expect(result.stderr.contains("\(ws.runbooks)/secretive.yaml:3:49: parameter 'token': a secret cannot have a default"), "\(command): \(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains("tok-123-abc"))
        }
        #expect(!FileManager.default.fileExists(atPath: ws.database))
    }

    // MARK: - Parameter input

    static let parameterised = """
        name: params
        parameters:
          region: { type: string, required: true }
          token: { type: string, secret: true }
        steps:
          - { id: s, action: pass, with: { r: "${{ params.region }}" } }
        """

    @Test func repeatedParamIsRefusedNamingBothValues() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "params", Self.parameterised)
        let result = try await ws.runbook(["run", "params", "--param", "region=us-east-1", "--param", "region=eu-west-1"])
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("--param region is given twice ('us-east-1', then 'eu-west-1'); give it once"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.database))
    }

    @Test func repeatedSecretParamIsRefusedWithoutItsValues() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "params", Self.parameterised)
        let result = try await ws.runbook(["run", "params", "--param", "region=x", "--param", "token=first-s3cret", "--param", "token=second-s3cret"])
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("--param token is given twice (the values are not shown: the parameter is secret); give it once"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("s3cret"))
    }

    /// Run `params` with `contents` as its `--param-file`; returns the result and the file's path.
    func runWithParamFile(_ contents: Data) async throws -> (CommandResult, String, Workspace) {
        let ws = try Workspace()
        try ws.write(runbook: "params", Self.parameterised)
        let path = ws.file("values.yaml")
        try contents.write(to: URL(fileURLWithPath: path))
        return (try await ws.runbook(["run", "params", "--param-file", path]), path, ws)
    }

    @Test func paramFileThatIsNotYAMLGetsOneSentenceWithItsLine() async throws {
        let (result, path, ws) = try await runWithParamFile(Data("region: us-east-1\ntoken: \"unterminated\n".utf8))
        defer { ws.remove() }
        #expect(result.exitCode == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("runbook: \(path):3:1: invalid YAML: "), "\(result.stderr)")
    }

    @Test func paramFileThatIsNotTextGetsOneSentence() async throws {
        let (result, path, ws) = try await runWithParamFile(Data([0xFF, 0xFE, 0x00, 0x81, 0xC3, 0x28, 0x0A]))
        defer { ws.remove() }
        #expect(result.exitCode == 2)
        #expect(result.stderr == "runbook: parameter file \(path) is not UTF-8 text; write it as a YAML map of name: value\n", "\(result.stderr)")
    }

    @Test func missingParamFileIsNamed() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "params", Self.parameterised)
        let path = ws.file("nowhere.yaml")
        let result = try await ws.runbook(["run", "params", "--param-file", path])
        #expect(result.exitCode == 2)
        #expect(result.stderr == "runbook: parameter file \(path) does not exist\n", "\(result.stderr)")
    }

    @Test func paramFileThatIsAListIsRefused() async throws {
        let (result, path, ws) = try await runWithParamFile(Data("- region\n- us-east-1\n".utf8))
        defer { ws.remove() }
        #expect(result.exitCode == 2)
        #expect(result.stderr == "runbook: \(path):1:1: the parameter file must be a YAML map of name: value, got a list\n", "\(result.stderr)")
    }

    @Test func paramFileThatIsAScalarIsRefused() async throws {
        let (result, path, ws) = try await runWithParamFile(Data("us-east-1\n".utf8))
        defer { ws.remove() }
        #expect(result.exitCode == 2)
        #expect(result.stderr == "runbook: \(path):1:1: the parameter file must be a YAML map of name: value, got a single value\n", "\(result.stderr)")
    }

    @Test func paramFileValueThatIsAMapOrListIsRefused() async throws {
        let (result, path, ws) = try await runWithParamFile(Data("region:\n  name: us-east-1\ntoken: [a, b]\n".utf8))
        defer { ws.remove() }
        #expect(result.exitCode == 2)
        #expect(result.stderr.contains("\(path):2:3: parameter 'region' must be a single value, got a map"), "\(result.stderr)")
        #expect(result.stderr.contains("\(path):3:8: parameter 'token' must be a single value, got a list"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.database))
    }

    @Test func paramFileValuesAreTakenAsWritten() async throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write(runbook: "params", Self.parameterised)
        try "region: 1.10\n".write(toFile: ws.file("values.yaml"), atomically: true, encoding: .utf8)
        let result = try await ws.runbook(["run", "params", "--param-file", ws.file("values.yaml"), "--json"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let parameters = result.json?["parameters"] as? [String: Any]
        #expect(parameters?["region"] as? String == "1.10", "\(result.stdout)")
    }
}
