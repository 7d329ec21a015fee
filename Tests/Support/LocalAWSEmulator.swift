import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The local AWS endpoint (moto_server) shared by every test in the process.
///
/// Started lazily on first use, on a free loopback port, through the project's launcher
/// `Tests/Emulator/emulator.py` if present (else `python3 -m moto.server`). The server is told
/// the test process's pid and exits with it. Set `RUNBOOK_TEST_AWS_ENDPOINT` to use an
/// already-running endpoint instead.
///
/// Tests run in parallel in one process: do not ``reset()`` between tests; give resources
/// unique names (see ``uniqueName(_:)``).
public final class LocalAWSEmulator: Sendable {
    /// e.g. `http://127.0.0.1:50123`
    public let endpoint: String

    private init(endpoint: String) {
        self.endpoint = endpoint
    }

    /// Environment for a client talking to the emulator (endpoint, test keys, us-east-1).
    public var environment: [String: String] {
        [
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        ]
    }

    /// The process-wide emulator, started on first call.
    public static func shared() async throws -> LocalAWSEmulator {
        try await Starter.instance.get()
    }

    /// Empties every backend (`POST /moto-api/reset`). Affects all tests using the emulator.
    public func reset() async throws {
        guard let url = URL(string: endpoint + "/moto-api/reset") else { throw EmulatorError("bad endpoint \(endpoint)") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        let (_, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw EmulatorError("reset failed: \(response)")
        }
    }

    /// A name unique to this test run: `prefix-xxxxxxxx` (lower case, valid for RDS identifiers).
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    struct EmulatorError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    private actor Starter {
        static let instance = Starter()
        var task: Task<LocalAWSEmulator, any Error>?
        var dedicated: [String: Task<LocalAWSEmulator, any Error>] = [:]

        func get() async throws -> LocalAWSEmulator {
            if let task { return try await task.value }
            let t = Task { try await LocalAWSEmulator.start() }
            task = t
            return try await t.value
        }

        func get(_ key: String, dataPlane: Bool = false) async throws -> LocalAWSEmulator {
            if let task = dedicated[key] { return try await task.value }
            let t = Task { try await LocalAWSEmulator.start(dataPlane: dataPlane) }
            dedicated[key] = t
            return try await t.value
        }
    }

    /// An emulator of its own for the suites that share `key` (started once per test process): for tests
    /// that change global emulator settings, such as status transitions, without affecting other suites.
    public static func dedicated(_ key: String) async throws -> LocalAWSEmulator {
        try await Starter.instance.get(key)
    }

    /// An emulator whose RDS PostgreSQL instances are real PostgreSQL servers on loopback (shared by the
    /// suites that pass the same `key`). The other emulators run with `--no-dataplane`.
    public static func withDataPlane(_ key: String = "dataplane") async throws -> LocalAWSEmulator {
        try await Starter.instance.get("dataplane:" + key, dataPlane: true)
    }

    /// One instance's server as the data-plane hooks describe it.
    public struct DataPlaneServer: Sendable, Decodable {
        public var identifier: String
        public var region: String
        public var role: String
        public var running: Bool
        public var host: String
        public var port: Int
    }

    /// The data plane's servers (`GET /runbook-emulator/dataplane/instances`).
    public func dataPlaneServers() async throws -> [DataPlaneServer] {
        struct Listing: Decodable { var instances: [DataPlaneServer] }
        let data = try await hook("GET", "instances", nil)
        return try JSONDecoder().decode(Listing.self, from: data).instances
    }

    /// Test hooks: `pause-replay`, `resume-replay` (a standby), `kill` (SIGKILL a server, kept down), `start`.
    public func dataPlane(_ hookName: String, identifier: String, region: String) async throws {
        _ = try await hook("POST", hookName, ["identifier": identifier, "region": region])
    }

    private func hook(_ method: String, _ name: String, _ body: [String: String]?) async throws -> Data {
        guard let url = URL(string: endpoint + "/runbook-emulator/dataplane/" + name) else { throw EmulatorError("bad endpoint \(endpoint)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONEncoder().encode(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
            throw EmulatorError("data-plane hook \(name) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }

    /// The directory holding Package.swift, found by walking up from this file.
    static func repositoryRoot(from file: String = #filePath) -> URL? {
        var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    static func start(dataPlane: Bool = false) async throws -> LocalAWSEmulator {
        if let endpoint = ProcessInfo.processInfo.environment["RUNBOOK_TEST_AWS_ENDPOINT"], !endpoint.isEmpty {
            return LocalAWSEmulator(endpoint: endpoint)
        }
        let pid = String(ProcessInfo.processInfo.processIdentifier)
        guard let launcher = repositoryRoot()?.appendingPathComponent("Tests/Emulator/emulator.py"),
              FileManager.default.fileExists(atPath: launcher.path) else {
            // Stock moto: pick a free port; a small shell watchdog stops moto when the test process exits.
            let port = try freePort()
            let script = "python3 -m moto.server -H 127.0.0.1 -p \(port) >/dev/null 2>&1 & child=$!; "
                + "while kill -0 \(pid) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null"
            let process = try spawn(["sh", "-c", script], standardError: FileHandle.nullDevice)
            return try await serving(port: port, process: process)
        }
        let arguments = ["python3", launcher.path, "--host", "127.0.0.1", "--port", "0", "--parent-pid", pid]
            + (dataPlane ? [] : ["--no-dataplane"])
        do {
            let (process, port) = try await launch(arguments)
            return try await serving(port: port, process: process)
        } catch let error as EarlyExit {
            // Seen once under heavy load (exit status 1 after ~30 s); start once more, and say what it printed.
            FileHandle.standardError.write(Data("LocalAWSEmulator: \(error); starting it once more\n".utf8))
            let (process, port) = try await launch(arguments)
            return try await serving(port: port, process: process)
        }
    }

    /// Starts the launcher with a port file of its own; its stderr goes to a file beside it until it listens.
    private static func launch(_ arguments: [String]) async throws -> (Process, Int) {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-moto-\(UUID().uuidString).port")
        let errorLog = portFile.appendingPathExtension("stderr")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorLog) }  // a running server logs on into the unlinked file
        let process = try spawn(arguments + ["--port-file", portFile.path], standardError: try FileHandle(forWritingTo: errorLog))
        return (process, try await waitForPortFile(portFile, process: process, errorLog: errorLog))
    }

    private static func spawn(_ arguments: [String], standardError: FileHandle) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var environment = ProcessInfo.processInfo.environment
        environment["MOTO_IAM_LOAD_MANAGED_POLICIES"] = environment["MOTO_IAM_LOAD_MANAGED_POLICIES"] ?? "true"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = standardError
        process.arguments = arguments
        try process.run()
        return process
    }

    private static func serving(port: Int, process: Process) async throws -> LocalAWSEmulator {
        let endpoint = "http://127.0.0.1:\(port)"
        try await waitUntilServing(endpoint, process: process)
        return LocalAWSEmulator(endpoint: endpoint)
    }

    /// The launcher exited before it wrote its port.
    struct EarlyExit: Error, CustomStringConvertible {
        let status: Int32
        let stderr: String
        var description: String { "emulator exited with status \(status) before writing its port: \(stderr.suffix(2000))" }
    }

    static func waitForPortFile(_ file: URL, process: Process, errorLog: URL) async throws -> Int {
        for _ in 0..<600 {
            if let text = try? String(contentsOf: file, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return port
            }
            if !process.isRunning {
                throw EarlyExit(status: process.terminationStatus, stderr: (try? String(contentsOf: errorLog, encoding: .utf8)) ?? "")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EmulatorError("emulator did not write its port within 60 s")
    }

    static func waitUntilServing(_ endpoint: String, process: Process) async throws {
        guard let url = URL(string: endpoint + "/moto-api/") else { throw EmulatorError("bad endpoint") }
        for _ in 0..<600 {
            if let (_, response) = try? await URLSession.shared.data(from: url), (response as? HTTPURLResponse) != nil { return }
            if !process.isRunning { throw EmulatorError("emulator exited with status \(process.terminationStatus)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EmulatorError("emulator at \(endpoint) did not answer within 60 s")
    }

    /// A free loopback port.
    static func freePort() throws -> Int { try FreePort.pick() }
}
