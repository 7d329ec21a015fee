import Foundation
import Testing
@testable import RunbookEngine

@Suite struct DefinitionLibraryTests {
    /// A fresh directory with `files` (name -> contents).
    func directory(_ files: [String: String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("runbooks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, contents) in files {
            try contents.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
        return path
    }

    let good = "name: good\ndescription: A good one\nsteps:\n  - id: a\n    action: pass\n"

    @Test func listsRunbooksIncludingBrokenOnes() throws {
        let dir = try directory([
            "good.yaml": good,
            "broken.yml": "name: broken\nsteps: [\n",
            "invalid.yaml": "name: invalid\ndescription: Bad action\nsteps:\n  - id: a\n    action: nope\n",
            "notes.txt": "ignored",
        ])
        let light = try RunbookLibrary(directory: dir).list()
        #expect(light.map(\.name) == ["broken", "good", "invalid"])
        #expect(light[0].error?.hasPrefix(dir + "/broken.yml:3:1: invalid YAML:") == true)
        #expect(light[1] == RunbookSummary(name: "good", description: "A good one", path: dir + "/good.yaml"))
        #expect(light[2].error == nil)

        let validated = try RunbookLibrary(directory: dir).list(registry: DefinitionFixtures.registry)
        #expect(validated[2].description == "Bad action")
        #expect(validated[2].error == "\(dir)/invalid.yaml:5:13: step 'a': unknown action 'nope' (known actions: pass, shell)")
    }

    @Test func loadsByNameOrPath() throws {
        let dir = try directory(["good.yaml": good])
        let library = RunbookLibrary(directory: dir)
        #expect(try library.load(nameOrPath: "good", registry: DefinitionFixtures.registry).origin == dir + "/good.yaml")
        #expect(try library.load(nameOrPath: dir + "/good.yaml", registry: DefinitionFixtures.registry).name == "good")
    }

    @Test func missingRunbookNamesTheDirectoryAndWhatIsThere() throws {
        let dir = try directory(["good.yaml": good])
        #expect(throws: RunbookLibraryError("no runbook named 'goo' in \(dir) (looked for goo.yaml and goo.yml); available: good (did you mean 'good'?)")) {
            try RunbookLibrary(directory: dir).load(nameOrPath: "goo", registry: DefinitionFixtures.registry)
        }
        #expect(throws: RunbookLibraryError.self) {
            try RunbookLibrary(directory: dir + "/absent").load(nameOrPath: "good", registry: DefinitionFixtures.registry)
        }
    }

    @Test func defaultDirectory() {
        #expect(RunbookLibrary.defaultDirectory(environment: [:], cwd: "/work") == "/work/Runbooks")
        #expect(RunbookLibrary.defaultDirectory(environment: ["RUNBOOK_PATH": "/etc/rb"], cwd: "/work") == "/etc/rb")
        #expect(RunbookLibrary.defaultDirectory(environment: ["RUNBOOK_PATH": "books"], cwd: "/work") == "/work/books")
    }
}
