import ArgumentParser
import Foundation
import RunbookActions
import RunbookEngine
import RunbookPostgresStore
import RunbookSQLite

/// The `runbook` command.
public struct RunbookCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Durable runbooks for database disaster recovery: checkpointed, resumable, rolled back in reverse, audited.",
        discussion: "Exit codes: 0 succeeded; 1 failed (rolled back or not); 2 usage or validation error; "
            + "3 awaiting approval; 4 run is driven by another process; 5 interrupted; 6 completed with exceptions (resume retries).",
        subcommands: [
            ListCommand.self, ShowCommand.self, ValidateCommand.self, PlanCommand.self, RunCommand.self,
            ResumeCommand.self, RollbackCommand.self, ApproveCommand.self, DeclineCommand.self, CancelCommand.self,
            RunsCommand.self, HistoryCommand.self, ReportCommand.self, AuditCommand.self, AWSCommand.self, StoreCommand.self,
        ]
    )

    public init() {}

    /// Parse `arguments`, run the command, and exit with the documented exit code. Never prints a stack trace.
    public static func main(arguments: [String]) async -> Never {
        // A reader that goes away (`runbook run … | head`) must not kill a driver mid-run: writes then fail
        // with EPIPE, which `Terminal` handles. Steps get default signal handling back.
        signal(SIGPIPE, SIG_IGN)
        do {
            try await runCommand(arguments)
            await CommandProcess.leave(ExitCodes.succeeded)
        } catch {
            let exit = (error as? any ExitCoded) ?? CommandLineExit(error)
            if let message = exit.exitMessage {
                if exit.exitCode == ExitCodes.succeeded { print(message) } else { Terminal.error(message) }
            }
            await CommandProcess.leave(exit.exitCode)
        }
    }

    private static func runCommand(_ arguments: [String]) async throws {
        var command = try parseAsRoot(hoistingGlobalOptions(arguments))
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    }
}

/// An error that is not `ExitCoded`, as ArgumentParser reports it: a help request (exit 0, the text on
/// standard output), a usage or validation error (exit 2, with the usage), or anything else (exit 1).
struct CommandLineExit: ExitCoded {
    let exitCode: Int32
    let exitMessage: String?

    init(_ error: any Error) {
        let code = RunbookCommand.exitCode(for: error)
        if code == .success {
            (exitCode, exitMessage) = (ExitCodes.succeeded, RunbookCommand.fullMessage(for: error))
        } else if let exit = error as? ExitCode {
            (exitCode, exitMessage) = (exit.rawValue, nil)
        } else if error is ValidationError || code == .validationFailure {
            let message = RunbookCommand.fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            (exitCode, exitMessage) = (ExitCodes.usage, message)
        } else {
            (exitCode, exitMessage) = (ExitCodes.failed, String(describing: error))
        }
    }
}

/// What the commands of this process share and must let go of before it exits: one clock, the AWS client
/// the AWS actions use (created at first use) and the stores it opened.
enum CommandProcess {
    static let clock: any RunClock = SystemClock()
    static let awsClients = AWSClientProvider(environment: ProcessInfo.processInfo.environment, clock: clock)

    /// Shut the AWS client down and close the stores (checkpointing their WAL into the main file), then exit:
    /// `exit` runs no deinit, so without this the last writes could stay in the -wal file only and the HTTP
    /// client's connections would never be closed.
    static func leave(_ code: Int32) async -> Never {
        try? await awsClients.shutdown()
        OpenStores.closeAll()
        Foundation.exit(code)
    }

    /// Exit from a signal handler, at once: the AWS client gets half a second to shut down (the Swift tasks
    /// that would do it may be stuck, so this waits on an OS timer, not on the run's clock); the stores stay
    /// as they are and the next command folds their WAL in, so the run stays resumable.
    static func leaveAtOnce(_ code: Int32) -> Never {
        let shutDown = DispatchSemaphore(value: 0)
        Task.detached {
            try? await awsClients.shutdown()
            shutDown.signal()
        }
        _ = shutDown.wait(timeout: .now() + .milliseconds(500))
        Foundation.exit(code)
    }
}

/// The stores this process opened, closed by `CommandProcess.leave` before it exits.
enum OpenStores {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var stores: [SQLiteRunStore] = []

    static func add(_ store: SQLiteRunStore) {
        lock.withLock { stores.append(store) }
    }

    static func closeAll() {
        let open = lock.withLock {
            defer { stores.removeAll() }
            return stores
        }
        for store in open { store.close() }
    }
}

extension RunbookCommand {
    /// Global options may come before the subcommand (`runbook --db x.sqlite runs`); ArgumentParser reads them
    /// after it, so move them there (after the last subcommand word, e.g. `audit verify`).
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var hoisted: [String] = []
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if ["--db", "--runbooks", "--signing-key"].contains(argument), index + 1 < arguments.count, rest.isEmpty {
                hoisted += [argument, arguments[index + 1]]
                index += 2
                continue
            }
            if ["--db=", "--runbooks=", "--signing-key="].contains(where: argument.hasPrefix) && rest.isEmpty {
                hoisted.append(argument)
                index += 1
                continue
            }
            rest = Array(arguments[index...])
            break
        }
        guard !hoisted.isEmpty, !rest.isEmpty else { return arguments }
        // Keep subcommand words (and `aws`/`audit` second words) first.
        var words = 0
        let groups: Set<String> = ["audit", "aws", "store"]
        if !rest[0].hasPrefix("-") { words = 1 }
        if words == 1, groups.contains(rest[0]), rest.count > 1, !rest[1].hasPrefix("-") { words = 2 }
        return Array(rest[..<words]) + hoisted + Array(rest[words...])
    }
}

/// Leave with `exitCode`, after printing `exitMessage` (one or two plain sentences) to stderr.
struct CLIExit: ExitCoded {
    var exitCode: Int32
    var exitMessage: String?

    init(_ code: Int32, _ message: String? = nil) {
        exitCode = code
        exitMessage = message
    }

    static func usage(_ message: String) -> CLIExit { CLIExit(ExitCodes.usage, message) }
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The state database: an SQLite file, or postgres://USER@HOST:PORT/DB for a shared store (env RUNBOOK_DB).", valueName: "path|url"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("Directory of runbooks (env RUNBOOK_PATH; default ./Runbooks).", valueName: "dir"))
    var runbooks: String?

    @Option(name: .customLong("signing-key"), help: ArgumentHelp(
        "Sign each run's chain head with this Ed25519 key file when the run stops and at every approval (env RUNBOOK_SIGNING_KEY; see docs/audit-signing.md).",
        valueName: "file"))
    var signingKey: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `--signing-key`, else `RUNBOOK_SIGNING_KEY`, else none (runs are not signed).
    var signingKeyPath: String? {
        if let signingKey, !signingKey.isEmpty { return signingKey }
        if let env = environment["RUNBOOK_SIGNING_KEY"], !env.isEmpty { return env }
        return nil
    }

    /// `--db`, else `RUNBOOK_DB`, else `$XDG_STATE_HOME/runbook/runbook.sqlite`, else `~/.local/state/runbook/runbook.sqlite`.
    var databasePath: String {
        if let db, !db.isEmpty { return db }
        if let env = environment["RUNBOOK_DB"], !env.isEmpty { return env }
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty { return state + "/runbook/runbook.sqlite" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/runbook/runbook.sqlite"
    }

    var runbookDirectory: String {
        if let runbooks, !runbooks.isEmpty { return runbooks }
        return RunbookLibrary.defaultDirectory(environment: environment, cwd: FileManager.default.currentDirectoryPath)
    }

    var library: RunbookLibrary { RunbookLibrary(directory: runbookDirectory) }

    /// The action registry: built-in and AWS actions.
    var registry: ActionRegistry { ActionCatalog.registry() }

    /// Open the store; `create: false` for commands that act on existing runs, `reading: true` for those that
    /// only read (they skip the integrity check that reads every page; damage they meet is still reported).
    func openStore(create: Bool, reading: Bool = false) throws -> any RunStore {
        if PostgresStoreURL.names(databasePath) { return try openPostgresStore(databasePath, create: create) }
        do {
            let store = try SQLiteRunStore(path: databasePath, create: create, checkIntegrity: !reading)
            OpenStores.add(store)
            for note in store.notes { Terminal.warning(note) }
            return store
        } catch let error as DatabaseOpenError {
            if !create && !FileManager.default.fileExists(atPath: databasePath) {
                throw CLIExit.usage("no runbook database at \(databasePath): nothing has run yet with this database (set --db or RUNBOOK_DB to use another)")
            }
            throw CLIExit.usage(error.message)
        }
    }

    /// The stored run `idOrPrefix` names; exit 2 when it names none, or several (listing them, newest first).
    func storedRun(_ idOrPrefix: String, in store: any RunStore) async throws -> RunRecord {
        do {
            return try await store.run(named: idOrPrefix, in: databasePath)
        } catch let error as RunStoreError where error.code == .runNotFound {
            throw CLIExit.usage(error.message)
        }
    }

    /// Load a runbook by name or path, turning validation failures into exit code 2 with every diagnostic.
    func loadDefinition(_ nameOrPath: String) throws -> RunbookDefinition {
        do {
            return try library.load(nameOrPath: nameOrPath, registry: registry)
        } catch let failure as ValidationFailure {
            throw CLIExit.usage(failure.diagnostics.map(\.description).joined(separator: "\n"))
        } catch let error as CLIExit {
            throw error
        } catch {
            throw CLIExit.usage(String(describing: error))
        }
    }

    /// An engine on `store`; with a signing key, through `SigningRunStore` so the run is signed where it stops
    /// (exit 2 before anything is written when the key file is unusable).
    /// - Parameter callerARN: the AWS identity of the operator, recorded with the approvals `--yes` gives.
    func engine(store: any RunStore, progress: (@Sendable (ProgressEvent) -> Void)?, callerARN: String? = nil) throws -> RunEngine {
        let registry = self.registry
        var engineStore = store
        if let path = signingKeyPath {
            engineStore = SigningRunStore(base: store, key: try SigningKeyFile.load(path), actor: .current(), clock: CommandProcess.clock)
        }
        return RunEngine(environment: EngineEnvironment(store: engineStore, registry: registry, clock: CommandProcess.clock, progress: progress,
                                                        callerARN: callerARN))
    }
}

/// Where the registry of actions is assembled: built-in actions, the AWS actions and the database actions.
public enum ActionCatalog {
    public static func registry() -> ActionRegistry {
        var registry = BuiltinActions.registry()
        let clients = CommandProcess.awsClients
        for action in AWSActions.all(provider: clients) + DatabaseActions.all(provider: clients) { registry.register(action) }
        return registry
    }
}
