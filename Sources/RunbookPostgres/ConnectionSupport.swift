import Foundation
import PostgresNIO

/// What other modules (the PostgreSQL run store) share with the data plane: the same connection
/// configuration (verify-full TLS off loopback, time limits), deadlines and sentences for failures.
extension DatabaseTarget {
    /// The postgres-nio configuration for this target: TLS verify-full with the CA bundle, plaintext only to
    /// loopback, `statement_timeout` and the connect timeout applied.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        try DatabaseSession.makeConfiguration(self)
    }

    /// This target with `secret` removed from `text` (a sentence built from a server's or library's words).
    public func redacting(_ text: String) -> String {
        let secret = credential.secret
        guard secret.count >= 4 else { return text }
        return text.replacingOccurrences(of: secret, with: "***")
    }
}

extension DatabaseError {
    /// One sentence for a postgres-nio or NIO failure while `doing` something (the server's own message and
    /// SQLSTATE when it answered).
    public static func describing(_ error: any Error, doing what: String) -> DatabaseError {
        if let known = error as? DatabaseError { return known }
        return DatabaseSession.describe(error, doing: what)
    }
}

/// Time limits for calls that might never answer (a server behind a dead network).
public enum DatabaseDeadline {
    /// Runs `body`, throwing an unreachable `DatabaseError` when it takes longer than `limit`; the caller is
    /// released at the deadline even if `body` ignores cancellation.
    /// - Parameter late: given a value that arrived after the deadline (a connection to close).
    public static func run<T: Sendable>(_ limit: Duration, what: String, late: (@Sendable (T) async -> Void)? = nil,
                                        _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await DatabaseSession.withDeadline(limit, what: what, late: late, body)
    }
}
