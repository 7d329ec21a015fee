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

        func get(_ key: String) async throws -> LocalAWSEmulator {
            if let task = dedicated[key] { return try await task.value }
            let t = Task { try await LocalAWSEmulator.start() }
            dedicated[key] = t
            return try await t.value
        }
    }

    /// An emulator of its own for the suites that share `key` (started once per test process): for tests
    /// that change global emulator settings, such as status transitions, without affecting other suites.
    public static func dedicated(_ key: String) async throws -> LocalAWSEmulator {
        try await Starter.instance.get(key)
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

    static func start() async throws -> LocalAWSEmulator {
        if let endpoint = ProcessInfo.processInfo.environment["RUNBOOK_TEST_AWS_ENDPOINT"], !endpoint.isEmpty {
            return LocalAWSEmulator(endpoint: endpoint)
        }
        let root = repositoryRoot()
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-moto-\(UUID().uuidString).port")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let pid = String(ProcessInfo.processInfo.processIdentifier)
        var environment = ProcessInfo.processInfo.environment
        environment["MOTO_IAM_LOAD_MANAGED_POLICIES"] = environment["MOTO_IAM_LOAD_MANAGED_POLICIES"] ?? "true"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let launcher = root?.appendingPathComponent("Tests/Emulator/emulator.py")
        let port: Int
        if let launcher, FileManager.default.fileExists(atPath: launcher.path) {
            process.arguments = ["python3", launcher.path, "--host", "127.0.0.1", "--port", "0", "--port-file", portFile.path, "--parent-pid", pid]
            try process.run()
            port = try await waitForPortFile(portFile, process: process)
        } else {
            // Stock moto: pick a free port; a small shell watchdog stops moto when the test process exits.
            port = try freePort()
            let script = "python3 -m moto.server -H 127.0.0.1 -p \(port) >/dev/null 2>&1 & child=$!; "
                + "while kill -0 \(pid) 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null"
            process.arguments = ["sh", "-c", script]
            try process.run()
        }
        let endpoint = "http://127.0.0.1:\(port)"
        try await waitUntilServing(endpoint, process: process)
        return LocalAWSEmulator(endpoint: endpoint)
    }

    static func waitForPortFile(_ file: URL, process: Process) async throws -> Int {
        for _ in 0..<600 {
            if let text = try? String(contentsOf: file, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return port
            }
            if !process.isRunning { throw EmulatorError("emulator exited with status \(process.terminationStatus) before writing its port") }
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

    /// Asks the kernel for a free loopback port (bind to 0, read it back, close).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EmulatorError("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw EmulatorError("bind() failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else { throw EmulatorError("getsockname() failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
