import Foundation
import Logging
import NIOPosix
import PostgresNIO
import RunbookPostgres
import RunbookPostgresStore

/// A database of its own on the server `--db` names, for one benchmark run: created at the start and dropped
/// (with any connection still open to it) at the end, so a team's run store never holds benchmark runs.
public final class PostgresBenchDatabase: Sendable {
    /// The throwaway database's name (`runbook_bench_PID_HEX`).
    public let name: String
    /// Its URL, as `runbook --db` takes it (the given URL with the database replaced; no password).
    public let urlText: String
    /// The server's `server_version`, `synchronous_commit`, `fsync` and `wal_sync_method`.
    public let settings: [String: String]
    let url: PostgresStoreURL
    let password: String?
    /// The database the URL named, where the throwaway one is created and dropped from.
    let serverTarget: DatabaseTarget
    private static let logger = Logger(label: "runbook.bench", factory: { _ in SwiftLogNoOpLogHandler() })

    private init(name: String, urlText: String, settings: [String: String], url: PostgresStoreURL, password: String?, serverTarget: DatabaseTarget) {
        self.name = name
        self.urlText = urlText
        self.settings = settings
        self.url = url
        self.password = password
        self.serverTarget = serverTarget
    }

    /// Create the throwaway database on the server `text` names (the role needs `CREATEDB`).
    public static func create(_ text: String, environment: [String: String], home: String) async throws -> PostgresBenchDatabase {
        let given = try PostgresStoreURL(text, home: home)
        let (password, _) = PasswordLookup.password(for: given, environment: environment, home: home)
        let serverTarget = given.target(password: password)
        let name = "runbook_bench_\(getpid())_\(UUID().uuidString.prefix(6).lowercased())"
        guard var components = URLComponents(string: text) else { throw BenchmarkFailure("--db \(given) is not a URL") }
        components.path = "/" + name
        guard let urlText = components.string else { throw BenchmarkFailure("--db \(given): cannot name the benchmark's database") }
        let settings = try await DatabaseSession.with(serverTarget) { session in
            try await session.rows(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), doing: "creating the benchmark's database \(name)")
            let row = try await session.rows("""
                SELECT current_setting('server_version'), current_setting('synchronous_commit'),
                       current_setting('fsync'), current_setting('wal_sync_method')
                """, doing: "reading the server's settings").first ?? []
            let keys = ["server_version", "synchronous_commit", "fsync", "wal_sync_method"]
            return Dictionary(uniqueKeysWithValues: zip(keys, row.map { $0 ?? "?" }))
        }
        return PostgresBenchDatabase(name: name, urlText: urlText, settings: settings,
                                     url: try PostgresStoreURL(urlText, home: home), password: password, serverTarget: serverTarget)
    }

    /// Drop the throwaway database, closing the connections still open to it.
    public func drop() async throws {
        _ = try await DatabaseSession.with(serverTarget) { session in
            try await session.rows(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), doing: "dropping the benchmark's database \(name)")
        }
    }

    /// A run store on the throwaway database (its schema is created by the first one).
    func openStore() throws -> PostgresRunStore {
        try PostgresRunStore(url: url, password: password, create: true)
    }

    /// The floor on this server: `commits` single-row `INSERT`s, each its own transaction (autocommit: one round
    /// trip, one WAL flush with `synchronous_commit = on`), on one connection, after 20 warm-up commits.
    func floor(commits: Int) async throws -> FloorBenchmark.Result {
        let configuration = try url.target(password: password).connectionConfiguration()
        let connection = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                              id: 1, logger: Self.logger)
        do {
            let result = try await floor(commits: commits, on: connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func floor(commits: Int, on connection: PostgresConnection) async throws -> FloorBenchmark.Result {
        let logger = Self.logger
        try await connection.query("SET synchronous_commit = on", logger: logger)
        try await connection.query("DROP TABLE IF EXISTS bench_floor", logger: logger)
        try await connection.query("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, payload text NOT NULL)", logger: logger)
        let payload = String(repeating: "x", count: 200)
        for _ in 0..<20 { try await connection.query("INSERT INTO bench_floor (payload) VALUES (\(payload))", logger: logger) }
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<commits { try await connection.query("INSERT INTO bench_floor (payload) VALUES (\(payload))", logger: logger) }
        let elapsed = clock.now - start
        var rows = 0
        for try await (count) in try await connection.query("SELECT count(*) FROM bench_floor", logger: logger).decode(Int.self) { rows = count }
        return FloorBenchmark.Result(commits: commits, seconds: elapsed.seconds, rows: rows)
    }
}
