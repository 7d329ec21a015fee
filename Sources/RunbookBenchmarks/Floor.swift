import CSQLite
import Foundation

/// The physical floor: one `INSERT` in its own transaction, WAL + `synchronous=FULL`, through the raw
/// sqlite3 C API, in a fresh database file in the same directory as the engine's databases.
public enum FloorBenchmark {
    public struct Result: Sendable {
        public var commits: Int
        public var seconds: Double
        public var microsecondsPerCommit: Double { seconds * 1e6 / Double(commits) }
        /// Rows in the table afterwards (a correctness check).
        public var rows: Int
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `commits` transactions of one INSERT each (~200-byte payload, roughly a step row), after 20 warm-up commits.
    public static func run(path: String, commits: Int) throws -> Result {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db else {
            throw Failure(description: "cannot open \(path)")
        }
        defer { sqlite3_close_v2(db) }
        func exec(_ sql: String) throws {
            var message: UnsafeMutablePointer<CChar>?
            if sqlite3_exec(db, sql, nil, nil, &message) != SQLITE_OK {
                let text = message.map { String(cString: $0) } ?? "?"
                sqlite3_free(message)
                throw Failure(description: "\(sql): \(text)")
            }
        }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=FULL")
        try exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "INSERT INTO t (payload) VALUES (?)", -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: "prepare failed: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        let payload = String(repeating: "x", count: 200)
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func insertOne() throws {
            try exec("BEGIN IMMEDIATE")
            sqlite3_reset(statement)
            sqlite3_bind_text(statement, 1, payload, -1, transient)
            guard sqlite3_step(statement) == SQLITE_DONE else {
                throw Failure(description: "insert failed: \(String(cString: sqlite3_errmsg(db)))")
            }
            try exec("COMMIT")
        }
        for _ in 0..<20 { try insertOne() }
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<commits { try insertOne() }
        let elapsed = clock.now - start
        var count: OpaquePointer?
        sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &count, nil)
        defer { sqlite3_finalize(count) }
        sqlite3_step(count)
        let rows = Int(sqlite3_column_int64(count, 0))
        return Result(commits: commits, seconds: elapsed.seconds, rows: rows)
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
