/// A data-plane failure, as one sentence naming the database it concerns.
///
/// `sqlState` is the server's SQLSTATE when the server answered (e.g. `25006` for a write refused by a
/// read-only transaction), nil for connection, TLS and timeout failures.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let sqlState: String?
    /// Whether the server could not be reached in time or at all (as opposed to refusing a statement).
    public let isUnreachable: Bool

    init(_ message: String, sqlState: String? = nil, isUnreachable: Bool = false) {
        self.message = message
        self.sqlState = sqlState
        self.isUnreachable = isUnreachable
    }

    public var description: String { message }

    /// SQLSTATE 25006: the transaction is read-only (what a fenced writer answers to a write).
    public var isReadOnlyRefusal: Bool { sqlState == "25006" }
}
