import Foundation
import RunbookEngine
import RunbookPostgresStore

extension GlobalOptions {
    /// Open the PostgreSQL store `text` names (`--db postgres://…`). A bad URL, a wrong or missing password,
    /// an unreachable server, or a foreign or newer schema exits 2 in one sentence naming the server; the
    /// password (from `PGPASSWORD` or the password file) is never shown.
    func openPostgresStore(_ text: String, create: Bool) throws -> PostgresRunStore {
        try Self.openPostgresStore(text, create: create, environment: environment)
    }

    static func openPostgresStore(_ text: String, create: Bool, environment: [String: String]) throws -> PostgresRunStore {
        let home = environment["HOME"] ?? NSHomeDirectory()
        do {
            let url = try PostgresStoreURL(text, home: home)
            let (password, warnings) = PasswordLookup.password(for: url, environment: environment, home: home)
            for warning in warnings { Terminal.warning(warning) }
            return try PostgresRunStore(url: url, password: password, create: create, retryWindow: try storeRetryWindow(environment))
        } catch let error as PostgresStoreError {
            throw CLIExit(error.exitCode, error.message)
        }
    }

    /// How long a driver keeps trying to reach a PostgreSQL store that went away before it exits interrupted:
    /// `RUNBOOK_STORE_RETRY` (a duration such as 10s; for tests and unusual networks), else 20 s.
    static func storeRetryWindow(_ environment: [String: String]) throws -> Duration {
        guard let text = environment["RUNBOOK_STORE_RETRY"], !text.isEmpty else { return PostgresRunStore.defaultRetryWindow }
        guard let window = DurationText.parse(text) else {
            throw CLIExit.usage("RUNBOOK_STORE_RETRY '\(text)' is not a duration (use e.g. 500ms, 10s, 1m)")
        }
        return window
    }
}
