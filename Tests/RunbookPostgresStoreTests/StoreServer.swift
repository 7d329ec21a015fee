import Foundation
import RunbookPostgresStore
import RunbookTestSupport

/// A throwaway PostgreSQL server with an empty database `runbook_store` owned by the test role, as the
/// store's documented set-up has it. Always call `stop()`.
struct StoreServer: Sendable {
    let server: PostgresServer
    static let database = "runbook_store"

    static func start() async throws -> StoreServer {
        StoreServer(server: try await PostgresServer.start(database: database))
    }

    /// Runs `body` with a fresh server, stopping it afterwards whatever happens.
    static func with<T: Sendable>(_ body: (StoreServer) async throws -> T) async throws -> T {
        let server = try await start()
        defer { server.stop() }
        return try await body(server)
    }

    var url: String { "postgres://\(server.user)@\(server.host):\(server.port)/\(Self.database)" }

    /// Open the store as the test role, with its password.
    func open(create: Bool = true, retryWindow: Duration = .seconds(30)) throws -> PostgresRunStore {
        try PostgresRunStore(url: try PostgresStoreURL(url, home: "/nonexistent"), password: server.password, create: create, retryWindow: retryWindow)
    }

    /// SQL as the superuser in the store's database; psql's unaligned output, trimmed.
    @discardableResult
    func admin(_ sql: String) throws -> String {
        try server.admin(database: Self.database, sql).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() { server.stop() }
}
