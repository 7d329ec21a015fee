import Foundation

/// A throwaway PostgreSQL server (Debian `postgresql`) for one test: its own data directory, a free
/// loopback port, a password-authenticated test role, and optionally TLS. Always call ``stop()``.
///
/// The server runs as the `postgres` OS user when the tests run as root (PostgreSQL refuses root), and
/// dies with the test process (parent-death signal), so no server outlives a killed test run.
public final class PostgresServer: Sendable {
    public let host = "127.0.0.1"
    public let port: Int
    /// A LOGIN role with CREATEDB and pg_signal_backend, like an RDS master user (not a superuser).
    public let user = "runbook_test"
    public let password: String
    public let directory: URL
    /// The server settings given to `start`, used again by `restart`.
    let arguments: [String]
    private let current: ServerProcess
    var process: Process { current.process }

    private init(port: Int, password: String, directory: URL, arguments: [String], process: Process) {
        self.port = port
        self.password = password
        self.directory = directory
        self.arguments = arguments
        self.current = ServerProcess(process)
    }

    /// Certificate and key files for `ssl=on`.
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String
        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// Starts a server and waits until it accepts connections.
    public static func start(tls: TLSFiles? = nil, settings: [String: String] = [:]) async throws -> PostgresServer {
        let tools = try PostgresTools.locate()
        let directory = try PostgresTools.freshDirectory()
        let data = directory.appendingPathComponent("data")
        try await PostgresTools.copyTemplate(to: data)
        var options = settings
        if let tls {
            for (name, source) in [("server.crt", tls.certificate), ("server.key", tls.key)] {
                let destination = data.appendingPathComponent(name).path
                try FileManager.default.copyItem(atPath: source, toPath: destination)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: destination)
            }
            try PostgresTools.giveToServerUser(data.path)
            options["ssl"] = "on"
        }
        let port = try FreePort.pick()
        let arguments = ["-D", data.path, "-p", "\(port)", "-k", directory.path, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                         "-c", "dynamic_shared_memory_type=mmap"]
            + options.sorted(by: { $0.key < $1.key }).flatMap { ["-c", "\($0.key)=\($0.value)"] }
        let process = try tools.run("postgres", arguments, log: directory.appendingPathComponent("server.log"))
        let password = "pw-" + UUID().uuidString.prefix(12).lowercased()
        let server = PostgresServer(port: port, password: password, directory: directory, arguments: arguments, process: process)
        do {
            try await server.waitUntilReady(tools)
            try server.admin("CREATE ROLE runbook_test LOGIN CREATEDB PASSWORD '\(password)'; GRANT pg_signal_backend TO runbook_test; "
                             + "GRANT pg_monitor TO runbook_test; GRANT CREATE ON SCHEMA public TO runbook_test;")
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Starts a server with an empty database `name` owned by the test role, as the run store's set-up has it.
    public static func start(database name: String) async throws -> PostgresServer {
        let server = try await start()
        do {
            try server.admin("CREATE DATABASE \(name) OWNER runbook_test")
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Runs SQL as the bootstrap superuser over the Unix socket (in `database`); returns psql's unaligned output.
    @discardableResult
    public func admin(database: String = "postgres", _ sql: String) throws -> String {
        try PostgresTools.locate().output("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", directory.path,
                                                   "-p", "\(port)", "-U", "postgres", "-d", database, "-c", sql])
    }

    /// Starts the server again on the same port and data directory after `crash()` (crash recovery runs),
    /// and waits until it accepts connections. Retries while the crashed server's backends still hold its
    /// shared memory.
    public func restart() async throws {
        let tools = try PostgresTools.locate()
        let deadline = Date().addingTimeInterval(30)
        while true {
            let process = try tools.run("postgres", arguments, log: directory.appendingPathComponent("server-restart.log"))
            current.replace(process)
            do {
                try await waitUntilReady(tools)
                return
            } catch where Date() < deadline {
                if process.isRunning { kill(process.processIdentifier, SIGQUIT) }
                process.waitUntilExit()
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Stops the server at once (SIGQUIT: immediate shutdown) and removes its files.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGQUIT)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Kills the server as a crash would (SIGKILL; backends exit once they see the postmaster gone).
    public func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The server's log so far, for failure messages.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    func waitUntilReady(_ tools: PostgresTools) async throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else { throw PostgresTools.Failure("postgres exited at start:\n\(log)") }
            if (try? tools.output("pg_isready", ["-q", "-h", directory.path, "-p", "\(port)"])) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PostgresTools.Failure("postgres did not accept connections within 30 s:\n\(log)")
    }
}

/// The server's current postmaster process (replaced by `restart`).
final class ServerProcess: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Process

    init(_ process: Process) { stored = process }

    var process: Process { lock.withLock { stored } }

    func replace(_ process: Process) { lock.withLock { stored = process } }
}

/// Finds PostgreSQL's server programs and runs them as the right OS user.
struct PostgresTools: Sendable {
    let binDirectory: String
    /// `postgres` when the tests run as root, else nil (run as ourselves).
    let serverUser: String?

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func locate() throws -> PostgresTools {
        let environment = ProcessInfo.processInfo.environment
        let candidates = environment["RUNBOOK_PG_BINDIR"].map { [$0] }
            ?? ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
                .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/postgres") }) else {
            throw Failure("PostgreSQL server programs not found: install Debian's postgresql package (apt-get install postgresql) "
                          + "or set RUNBOOK_PG_BINDIR to the directory holding postgres and initdb")
        }
        return PostgresTools(binDirectory: bin, serverUser: geteuid() == 0 ? "postgres" : nil)
    }

    /// Starts `tool` as the server user, dying with this process.
    func run(_ tool: String, _ arguments: [String], log: URL?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        var prefix = ["--pdeathsig", "KILL"]
        if let serverUser { prefix = ["--reuid", serverUser, "--regid", serverUser, "--init-groups"] + prefix }
        process.arguments = prefix + ["--", binDirectory + "/" + tool] + arguments
        process.currentDirectoryURL = Self.neutralDirectory
        process.standardInput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            try giveToServerUserIfRoot(log.path)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try SpawningThread.shared.perform { try process.run() }
        return process
    }

    /// Runs `tool` to completion and returns its standard output; throws with its output when it fails.
    @discardableResult
    func output(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        var prefix = ["--pdeathsig", "KILL"]
        if let serverUser { prefix = ["--reuid", serverUser, "--regid", serverUser, "--init-groups"] + prefix }
        process.arguments = prefix + ["--", binDirectory + "/" + tool] + arguments
        process.currentDirectoryURL = Self.neutralDirectory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw Failure("\(tool) failed (\(process.terminationStatus)): \(text)") }
        return text
    }

    /// Where the tools run: the server user may not enter the test's own directory (a checkout under a
    /// `mktemp -d` is 0700 root), and psql says so on its output.
    static let neutralDirectory = URL(fileURLWithPath: "/")

    func giveToServerUserIfRoot(_ path: String) throws {
        if serverUser != nil { try Self.giveToServerUser(path) }
    }

    /// chown -R to the server user (a no-op when not root).
    static func giveToServerUser(_ path: String) throws {
        guard geteuid() == 0 else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/chown")
        process.arguments = ["-R", "postgres:postgres", path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure("chown -R postgres \(path) failed") }
    }

    /// A new directory the server user may write in.
    static func freshDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-pg-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        try giveToServerUser(directory.path)
        return directory
    }

    /// Copies a data directory made once per test process by initdb (initdb costs about a second).
    static func copyTemplate(to destination: URL) async throws {
        let template = try await Template.shared.path()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", template, destination.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure("copying the initdb template failed") }
    }

    private actor Template {
        static let shared = Template()
        var made: Task<String, any Error>?

        func path() async throws -> String {
            if let made { return try await made.value }
            let task = Task { () throws -> String in
                let tools = try PostgresTools.locate()
                let directory = try PostgresTools.freshDirectory()
                let data = directory.appendingPathComponent("template").path
                try tools.output("initdb", ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                                            "--no-sync", "-E", "UTF8", "--locale=C"])
                return data
            }
            made = task
            return try await task.value
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released: the caller starts its server at once).
public enum FreePort {
    public static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTools.Failure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PostgresTools.Failure("could not bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Starts processes from one thread that lives as long as the test process. A child's PDEATHSIG fires when the
/// *thread* that started it exits, and Swift's pool retires idle threads: a server started from one of them was
/// killed a minute into a long test.
final class SpawningThread: @unchecked Sendable {
    static let shared = SpawningThread()
    private let lock = NSLock()
    private var jobs: [() -> Void] = []
    private let pending = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                pending.wait()
                let job = lock.withLock { jobs.removeFirst() }
                job()
            }
        }
        thread.name = "process spawner"
        thread.start()
    }

    /// Runs `body` on the spawning thread and waits for it (a spawn: microseconds).
    func perform(_ body: @escaping () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        var failure: (any Error)?
        lock.withLock {
            jobs.append {
                do { try body() } catch { failure = error }
                done.signal()
            }
        }
        pending.signal()
        done.wait()
        if let failure { throw failure }
    }
}
