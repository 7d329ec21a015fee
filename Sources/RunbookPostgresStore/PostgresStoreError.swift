import RunbookEngine

/// Why the PostgreSQL store cannot be used, in one plain sentence that names the server (never a password).
///
/// Exit 2 for a store that cannot be opened or used (bad URL, wrong password, unreachable, foreign or newer
/// schema); exit 5 when the server went away while a run was being driven (the run stays resumable).
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, ExitCoded {
    public var message: String
    public var exitCode: Int32
    /// Whether the server could not be reached (as opposed to refusing what was asked).
    public var isUnreachable: Bool

    public init(_ message: String, exitCode: Int32, isUnreachable: Bool = false) {
        self.message = message
        self.exitCode = exitCode
        self.isUnreachable = isUnreachable
    }

    static func usage(_ message: String) -> PostgresStoreError { PostgresStoreError(message, exitCode: ExitCodes.usage) }

    public var description: String { message }
    public var exitMessage: String? { message }
}
