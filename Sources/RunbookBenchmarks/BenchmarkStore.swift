import Foundation
import RunbookEngine
import RunbookPostgresStore
import RunbookSQLite

/// Where the cases keep their runs: a fresh SQLite file per repetition in a directory, or a throwaway database
/// on a PostgreSQL server (`--db postgres://…`), created for the benchmark and dropped at its end.
public enum BenchmarkStore: Sendable {
    case sqlite
    case postgres(PostgresBenchDatabase)

    /// A store for one repetition of `name`, and what removes it afterwards.
    func open(_ name: String, directory: String) throws -> (store: any RunStore, remove: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let path = BenchmarkCases.freshDatabase(directory, name)
            return (try SQLiteRunStore(path: path), { BenchmarkCases.removeDatabase(path) })
        case .postgres(let database):
            return (try database.openStore(), {})
        }
    }

    /// The `--db` value the `runbook` child of the process case gets, and what removes that store afterwards.
    func processDatabase(directory: String) -> (argument: String, remove: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let path = BenchmarkCases.freshDatabase(directory, "process")
            return (path, { BenchmarkCases.removeDatabase(path) })
        case .postgres(let database):
            return (database.urlText, {})
        }
    }

    /// One repetition of the floor: `commits` single-row durable commits on this store's medium.
    func floor(directory: String, commits: Int) async throws -> Sample {
        switch self {
        case .sqlite:
            return try BenchmarkCases.floor(directory: directory, commits: commits)
        case .postgres(let database):
            let result = try await database.floor(commits: commits)
            guard result.rows == commits + 20 else { throw BenchmarkFailure("floor: \(result.rows) rows, expected \(commits + 20)") }
            return Sample(seconds: result.seconds, units: commits, writes: commits, writeSeconds: result.seconds)
        }
    }

    var name: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }
}
