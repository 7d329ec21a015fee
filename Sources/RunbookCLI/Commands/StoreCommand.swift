import ArgumentParser
import Foundation
import RunbookEngine
import RunbookPostgresStore
import RunbookSQLite

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Move runs between stores (an SQLite file, a shared PostgreSQL store).",
        subcommands: [InitCommand.self, CopyCommand.self])

    struct InitCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create or upgrade a PostgreSQL store's schema (run it as the role that is to own the schema).",
            discussion: "Every command also does this on first use; run it explicitly when operators use a role that may not create tables (see docs/postgres-store.md).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let target = global.databasePath
            guard PostgresStoreURL.names(target) else {
                throw CLIExit.usage("store init prepares a PostgreSQL store: give --db postgres://USER@HOST:PORT/DB (an SQLite file is prepared by any command)")
            }
            let store = try global.openPostgresStore(target, create: true)
            Terminal.out("the run store \(store.url) is ready (schema runbook, version \(PostgresRunStore.schemaVersion))")
        }
    }

    struct CopyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copy every run of an SQLite database into a PostgreSQL store, with its steps, events and hashes unchanged.",
            discussion: """
                A run the destination already has is not copied (a run is never overwritten), nor is one another \
                process is driving, nor one whose history fails `audit verify`. Exit 0 when every run was copied, \
                1 when some were not (each named with the reason), 2 when a store cannot be opened.
                """)

        @Option(help: ArgumentHelp("The SQLite database to copy from.", valueName: "path")) var from: String
        @Option(help: ArgumentHelp("The PostgreSQL store to copy into: postgres://USER@HOST:PORT/DB.", valueName: "url")) var to: String

        func run() async throws {
            guard !PostgresStoreURL.names(from) else { throw CLIExit.usage("--from must be an SQLite database file; \(from) is a PostgreSQL URL") }
            guard PostgresStoreURL.names(to) else { throw CLIExit.usage("--to must be a PostgreSQL store (postgres://USER@HOST:PORT/DB); got \(to)") }
            guard FileManager.default.fileExists(atPath: from) else { throw CLIExit.usage("no runbook database at \(from)") }
            let source: SQLiteRunStore
            do {
                source = try SQLiteRunStore(path: from, create: false)
            } catch let error as DatabaseOpenError {
                throw CLIExit.usage(error.message)
            }
            OpenStores.add(source)
            let destination = try GlobalOptions.openPostgresStore(to, create: true, environment: ProcessInfo.processInfo.environment)
            let ids = try await source.allRunIDs()
            var refused = 0
            for id in ids {
                if let reason = try await copy(id, from: source, to: destination) {
                    refused += 1
                    Terminal.error("run \(id) was not copied: \(reason)")
                }
            }
            let summary = "copied \(ids.count - refused) of \(ids.count) run\(ids.count == 1 ? "" : "s") from \(from) to \(destination.url)"
            guard refused == 0 else { throw CLIExit(ExitCodes.failed, summary + "; \(refused) not copied (see above)") }
            Terminal.out(summary)
        }

        /// Copy one run; the reason it was not copied, or nil when it was.
        private func copy(_ id: String, from source: SQLiteRunStore, to destination: PostgresRunStore) async throws -> String? {
            guard let run = try await source.run(id: id) else { return "it disappeared from \(from)" }
            let steps = try await source.steps(runID: id)
            let events = try await source.events(runID: id)
            if let problem = AuditChain.verify(run: run, events: events, steps: steps) {
                return "its history in \(from) fails audit verification (\(problem.reason); event #\(problem.seq) \(problem.kind))"
            }
            let now = CommandProcess.clock.nowMilliseconds
            if let lease = try await source.lease(runID: id),
               !SQLiteRunStore.leaseIsAbandoned(lease, staleAfter: EngineEnvironment.defaultLeaseStaleAfter, now: now, localHost: ActorIdentity.current().host) {
                return "it is being driven by \(lease.holder); copy it once that process has stopped"
            }
            do {
                try await destination.importRun(run, steps: steps, events: events)
            } catch let error as RunStoreError where error.code == .duplicateRun {
                return "\(destination.url) already has a run \(id) (a run is never overwritten)"
            }
            Terminal.out("copied run \(id) (\(run.runbook), \(run.status.rawValue), \(events.count) events, head \(events.last?.hash.prefix(16) ?? "none"))")
            return nil
        }
    }
}
