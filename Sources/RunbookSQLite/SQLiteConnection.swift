import CSQLite
import Foundation
import RunbookEngine

/// An SQLite failure: the result code, SQLite's message and the SQL that failed.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`SQLITE_CONSTRAINT_TRIGGER`, …).
    public var extendedCode: Int32
    public var message: String
    public var sql: String?

    /// The primary result code (`SQLITE_CONSTRAINT`, `SQLITE_BUSY`, …).
    public var code: Int32 { extendedCode & 0xff }

    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    public var description: String {
        "SQLite error \(extendedCode): \(message)" + (sql.map { " (in: \($0))" } ?? "")
    }
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A value bound to or read from a statement.
enum SQLiteValue {
    case null
    case integer(Int64)
    case text(String)
}

/// One open SQLite connection. Not thread-safe: its owner confines it to one serial queue.
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String
    private var cache: [String: SQLiteStatement] = [:]
    /// Set by `close`; every later call fails instead of touching the freed handle.
    private(set) var isClosed = false

    /// Open an existing database file read-write (never creates one; the caller creates the file with mode 0600).
    /// - Parameter unchangeable: open it read-only, without locks or -wal/-shm files, for a file that nobody
    ///   can change (its directory is not writable and it has no WAL).
    init(path: String, unchangeable: Bool = false) throws {
        var db: OpaquePointer?
        let flags = unchangeable ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(unchangeable ? Self.immutableURI(path) : path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(extendedCode: rc, message: message)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        close(.checkpoint)
    }

    /// A `file:` URI for `path` with `immutable=1`.
    private static func immutableURI(_ path: String) -> String {
        "file:" + TextEscaping.replacing(path, ["%": "%25", "?": "%3f", "#": "%23"]) + "?immutable=1"
    }

    /// What `close` does with the WAL.
    enum CloseMode {
        /// Copy the WAL into the main file and empty it first, so the main file alone holds everything (SQLite
        /// then deletes -wal and -shm when this is the last connection). Other connections are not waited
        /// for: one that is busy is not the last, and does it when it closes.
        case checkpoint
        /// Leave the WAL exactly as it is (a refused file whose WAL was there before it was opened).
        case leaveWAL
        /// SQLite's own close: as the last connection it checkpoints and deletes -wal and -shm.
        case plain
    }

    /// Close the connection once; later calls do nothing, and statements fail instead of using the handle.
    func close(_ mode: CloseMode) {
        guard !isClosed else { return }
        isClosed = true
        cache.removeAll()
        switch mode {
        case .checkpoint:
            sqlite3_busy_timeout(handle, 0)
            sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
        case .leaveWAL:
            runbook_sqlite3_skip_checkpoint_on_close(handle)
        case .plain:
            break
        }
        sqlite3_close_v2(handle)
    }

    private func ensureOpen(_ sql: String) throws {
        if isClosed { throw SQLiteError(extendedCode: SQLITE_MISUSE, message: "the database connection is closed", sql: sql) }
    }

    func error(_ rc: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(extendedCode: sqlite3_extended_errcode(handle) == 0 ? rc : sqlite3_extended_errcode(handle),
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Run one or more statements that return no rows.
    func execute(_ sql: String) throws {
        try ensureOpen(sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: message, sql: sql)
        }
    }

    /// A prepared statement for `sql`, reused across calls.
    func statement(_ sql: String) throws -> SQLiteStatement {
        try ensureOpen(sql)
        if let cached = cache[sql] { return cached }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        cache[sql] = statement
        return statement
    }

    /// Run `sql` with `values`, discarding rows.
    func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        let statement = try statement(sql)
        try statement.run(values)
    }

    /// Run `sql` with `values`, mapping each row.
    func query<T>(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteStatement) throws -> T) throws -> [T] {
        let statement = try statement(sql)
        return try statement.query(values, row)
    }

    /// The first column of the first row, as an integer.
    func scalarInt(_ sql: String, _ values: [SQLiteValue] = []) throws -> Int64? {
        try query(sql, values) { $0.isNull(0) ? nil : $0.int(0) }.first ?? nil
    }

    /// Run `body` in a `BEGIN IMMEDIATE` transaction; roll back and rethrow on error.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        // Prepared once and reused (`run`), like every other statement on the commit path.
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement, finalized on deinit.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(connection: SQLiteConnection, sql: String) throws {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw connection.error(rc, sql: sql) }
        self.statement = statement
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    private func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .text(let s): rc = sqlite3_bind_text(statement, index, s, -1, SQLITE_TRANSIENT)
            }
            guard rc == SQLITE_OK else { throw connection.error(rc, sql: sql) }
        }
    }

    func run(_ values: [SQLiteValue]) throws {
        try bind(values)
        defer { sqlite3_reset(statement) }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            if rc != SQLITE_ROW { throw connection.error(rc, sql: sql) }
        }
    }

    func query<T>(_ values: [SQLiteValue], _ row: (SQLiteStatement) throws -> T) throws -> [T] {
        try bind(values)
        defer { sqlite3_reset(statement) }
        var rows: [T] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw connection.error(rc, sql: sql) }
            rows.append(try row(self))
        }
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }
    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: pointer)
    }
    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}
