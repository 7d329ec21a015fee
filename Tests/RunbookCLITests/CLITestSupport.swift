import Foundation
import RunbookTestSupport
import Testing

/// A scratch workspace for one CLI test: its own database, runbook directory and working directory.
struct Workspace {
    let root: String
    var database: String { root + "/state/runbook.sqlite" }
    var runbooks: String { root + "/Runbooks" }
    var work: String { root + "/work" }

    init() throws {
        root = NSTemporaryDirectory() + "runbook-cli-\(UUID().uuidString)"
        for dir in [root, runbooks, work] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    func write(runbook name: String, _ yaml: String) throws {
        try yaml.write(toFile: runbooks + "/\(name).yaml", atomically: true, encoding: .utf8)
    }

    /// Run `runbook ARGS` with this workspace's database and runbooks, in its work directory.
    func runbook(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        try await CommandRunner.runDetached(try RunbookBinary.path(), ["--db", database, "--runbooks", runbooks] + arguments,
                                            environment: environment, directory: work)
    }

    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandRunner.Started {
        try CommandRunner.start(try RunbookBinary.path(), ["--db", database, "--runbooks", runbooks] + arguments,
                                environment: environment, directory: work)
    }

    func file(_ relative: String) -> String { work + "/" + relative }

    func lines(_ relative: String) -> [String] {
        ((try? String(contentsOfFile: file(relative), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

extension CommandResult {
    /// The run id printed on the first line (`run ID  (...)`).
    var runID: String? {
        guard let first = stdout.split(separator: "\n").first, first.hasPrefix("run ") else { return nil }
        return first.split(separator: " ").dropFirst().first.map(String.init)
    }

    var json: [String: Any]? {
        guard let start = stdout.firstIndex(of: "{") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(stdout[start...].utf8))) as? [String: Any]
    }
}

/// Wait until `condition` holds or `seconds` pass.
func eventually(_ seconds: Double = 20, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
