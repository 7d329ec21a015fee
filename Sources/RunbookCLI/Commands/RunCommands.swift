import ArgumentParser
import Foundation
import RunbookEngine
import RunbookSQLite
import Yams

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start a run of a runbook.",
        discussion: "Prints the run id first, then progress. Secret parameters may also come from RUNBOOK_PARAM_<NAME> environment variables.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The runbook's name (or a path to its YAML file).") var name: String
    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter value (repeatable).", valueName: "name=value")) var params: [String] = []
    @Option(name: .customLong("param-file"), help: ArgumentHelp("A YAML file of parameter values.", valueName: "file")) var paramFile: String?
    @Flag(name: .shortAndLong, help: "Pass approval gates without waiting for `runbook approve`.") var yes = false
    @Option(help: "Maximum steps running at once.") var parallelism: Int = 4
    @Option(help: ArgumentHelp("Whole-run deadline, e.g. 30m; past it the run fails and rolls back.", valueName: "duration")) var deadline: String?
    @Option(help: "Why the run is started (e.g. the change or incident ticket); kept with the run.") var reason: String?
    @Flag(help: "Print one JSON object describing the run at the end instead of progress.") var json = false

    func validate() throws {
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1") }
        if let deadline, DurationText.parse(deadline) == nil {
            throw ValidationError("--deadline '\(deadline)' is not a duration (use e.g. 500ms, 10s, 5m, 1h)")
        }
    }

    func run() async throws {
        let definition = try global.loadDefinition(name)
        let resolved = try ParameterInput.resolve(params: params, file: paramFile, definition: definition, environment: global.environment)
        let store = try global.openStore(create: true)
        let runID = RunEngine.newRunID(now: CommandProcess.clock.now)
        let printer = ProgressPrinter(stepIDs: definition.steps.map(\.id), quiet: json)
        let engine = try global.engine(store: store, progress: printer.handler, callerARN: yes ? await ApproverIdentity.callerARN() : nil)
        if !json { Terminal.out("run \(runID)  (\(definition.name), \(definition.steps.count) steps, database \(global.databasePath))") }
        let deadlineAt = deadline.flatMap(DurationText.parse).map { CommandProcess.clock.nowMilliseconds + DurationText.milliseconds($0) }
        let options = RunOptions(autoApprove: yes, parallelism: parallelism, deadlineAt: deadlineAt, workingDirectory: FileManager.default.currentDirectoryPath,
                                 reason: reason.flatMap { $0.isEmpty ? nil : $0 })
        let outcome = try await Interruptible.run {
            try await engine.start(definition: definition, parameters: resolved, options: options, runID: runID)
        }
        try RunReport.finish(outcome, json: json, definition: definition)
    }
}

/// The arguments shared by the commands that act on a stored run.
struct StoredRunOptions: ParsableArguments {
    /// End with the outcome's summary (and exit code); `nothingToDo` says why a finished run was left alone.
    func report(_ outcome: RunOutcome?, _ context: RunContext, nothingToDo: (RunRecord) -> String) throws {
        guard let outcome else { return }
        if outcome.alreadyFinished && !json { Terminal.out(nothingToDo(outcome.run)) }
        try RunReport.finish(outcome, json: json, definition: context.definition)
    }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (or a unique prefix).") var runID: String
    @Option(name: .customLong("param"), help: ArgumentHelp("A secret parameter's value again (secrets are never stored).", valueName: "name=value")) var params: [String] = []
    @Flag(help: "Print one JSON object at the end instead of progress.") var json = false

    /// Load the run, build an engine that prints progress, run `body` under Ctrl-C handling.
    func drive(noteChanges: Bool = false, _ body: @escaping @Sendable (RunEngine, RunContext) async throws -> RunOutcome?) async throws -> (RunOutcome?, RunContext, any RunStore) {
        let store = try global.openStore(create: false)
        let context = try await RunContext.load(runID, store: store, global: global, params: params)
        if noteChanges && !json { context.noteDefinitionChange() }
        let printer = ProgressPrinter(stepIDs: context.stepIDs, quiet: json)
        // A run started with --yes approves its gates as it reaches them: on behalf of whoever drives it now.
        let gatesPassByYes = context.run.options.autoApprove && !context.run.status.isFinished
        let engine = try global.engine(store: store, progress: printer.handler, callerARN: gatesPassByYes ? await ApproverIdentity.callerARN() : nil)
        let outcome = try await Interruptible.run { try await body(engine, context) }
        return (outcome, context, store)
    }

    /// Record an approver's decision on a gate through `body`, with their caller ARN when AWS answers, then end with
    /// the outcome; `exitCode` replaces the run's own.
    func decide(comment: String?, exitCode: Int32? = nil,
                _ body: @escaping @Sendable (RunEngine, RunContext, RunEngine.Decision) async throws -> RunOutcome) async throws {
        let decision = RunEngine.Decision(comment: comment, callerARN: await ApproverIdentity.callerARN())
        let (result, context, _) = try await drive { engine, context in try await body(engine, context, decision) }
        guard let outcome = result else { return }
        try RunReport.finish(outcome, json: json, definition: context.definition, exitCode: exitCode)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Continue an interrupted run where it stopped.",
        discussion: "Uses the definition and parameters stored with the run. Secret parameters must be given again.")

    @OptionGroup var options: StoredRunOptions

    func run() async throws {
        let (result, context, _) = try await options.drive(noteChanges: true) { engine, context in
            try await engine.resume(runID: context.run.id, secrets: context.secrets)
        }
        try options.report(result, context) { "run \($0.id) already finished (\($0.status.rawValue)); nothing to do" }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Undo what a run did, in reverse order (also retries a failed rollback).")

    @OptionGroup var options: StoredRunOptions

    func run() async throws {
        let (result, context, _) = try await options.drive { engine, context in
            try await engine.rollback(runID: context.run.id, secrets: context.secrets)
        }
        try options.report(result, context) { "run \($0.id) is already \($0.status.rawValue); nothing to undo" }
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a step's gate, then continue the run.",
        discussion: "Recorded with the OS user and host, the AWS caller ARN when AWS credentials are configured, and the comment.")

    @OptionGroup var options: StoredRunOptions
    @Argument(help: "The step to approve.") var step: String
    @Option(help: "Why (e.g. the change ticket); kept in the run's history.") var comment: String?

    func run() async throws {
        let step = self.step
        try await options.decide(comment: comment) { engine, context, decision in
            try await engine.approve(runID: context.run.id, stepID: step, secrets: context.secrets, decision: decision)
        }
    }
}

struct DeclineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decline",
        abstract: "Decline a step's gate: the run rolls back, recorded as declined.",
        discussion: "Recorded with the OS user and host, the AWS caller ARN when AWS credentials are configured, and the comment.")

    @OptionGroup var options: StoredRunOptions
    @Argument(help: "The step whose gate to decline.") var step: String
    @Option(help: "Why (required); kept in the run's history.") var comment: String

    func validate() throws {
        guard !comment.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--comment must say why the step is declined") }
    }

    func run() async throws {
        let step = self.step
        // The rollback is what the decliner asked for: it ends 0.
        try await options.decide(comment: comment, exitCode: ExitCodes.succeeded) { engine, context, decision in
            try await engine.decline(runID: context.run.id, stepID: step, secrets: context.secrets, decision: decision)
        }
    }
}

/// The AWS identity of whoever approves or declines, when AWS credentials are configured.
enum ApproverIdentity {
    /// The caller ARN from STS GetCallerIdentity, or nil when AWS is not configured or does not answer within 15 s
    /// (then a warning says the approval names the OS user and host only).
    static func callerARN() async -> String? {
        guard let client = try? CommandProcess.awsClients.client() else { return nil }
        let arn = await withTaskGroup(of: String?.self) { group in
            group.addTask { try? await client.whoami().arn }
            group.addTask {
                try? await Task.sleep(for: .seconds(15))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if arn == nil {
            Terminal.warning("AWS credentials are configured but STS GetCallerIdentity gave no caller ARN within 15 s; approvals record the OS user and host only")
        }
        return arn
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Stop a run and roll it back.",
        discussion: """
            When another process is driving the run, it is asked to stop (its running steps are stopped, no \
            further step starts) and roll back, and cancel waits up to 60 s for it to finish. Exit codes: 0 the \
            run was cancelled and rolled back; 1 it had already finished before the cancel was seen, or its \
            rollback failed; 4 the driving process was still at it after 60 s (the cancel stays requested).
            """)

    /// How long to wait for the process driving the run to act on the cancel.
    static let driverWait: Duration = .seconds(60)

    @OptionGroup var options: StoredRunOptions

    func run() async throws {
        let (result, context, store) = try await options.drive { engine, context in
            try await engine.cancel(runID: context.run.id, secrets: context.secrets)
        }
        if let outcome = result { return try report(outcome, context) }
        let id = context.run.id
        let lease = try await store.lease(runID: id)
        let holder = lease?.holder.description ?? "another process"
        Terminal.out("asked \(holder), which is driving run \(id), to stop and roll back; waiting for it to finish (up to \(DurationText.format(Self.driverWait)))")
        guard try await Self.awaitRelease(of: lease, store: store, within: Self.driverWait) else {
            let status = try await store.run(id: id)?.status.rawValue ?? "unknown"
            throw CLIExit(ExitCodes.leaseHeld, "run \(id) is still being driven by \(holder) after \(DurationText.format(Self.driverWait)) (status \(status)); the cancel stays requested and no further step will start; follow it with `runbook history \(id)`")
        }
        guard let run = try await store.run(id: id) else { throw CLIExit(ExitCodes.failed, "run \(id) disappeared from the database") }
        if run.status.isFinished || run.status == .rollbackFailed {
            let byID = Dictionary(try await store.steps(runID: id).map { ($0.stepID, $0) }, uniquingKeysWith: { a, _ in a })
            let outcome = RunOutcome(run: run, steps: context.stepIDs.compactMap { byID[$0] })
            return try report(outcome, context, handedOff: true)
        }
        // The driver stopped short of the rollback (it died, or paused before it saw the cancel): do it here.
        let (again, _, _) = try await options.drive { engine, context in
            try await engine.cancel(runID: context.run.id, secrets: context.secrets)
        }
        guard let outcome = again else {
            throw CLIExit(ExitCodes.leaseHeld, "run \(id) was taken up by another process before it could be rolled back; the cancel stays requested")
        }
        try report(outcome, context)
    }

    /// Say how the run ended; exit 0 only when it ended cancelled (rolled back because of the cancel).
    private func report(_ outcome: RunOutcome, _ context: RunContext, handedOff: Bool = false) throws {
        let run = outcome.run
        let code = run.status == .cancelled ? ExitCodes.succeeded : ExitCodes.failed
        if options.json || !handedOff {
            return try RunReport.finish(outcome, json: options.json, definition: context.definition, exitCode: code)
        }
        switch run.status {
        case .cancelled:
            Terminal.out("run \(run.id) cancelled and rolled back")
        case .succeeded:
            throw CLIExit(code, "run \(run.id) had already finished (succeeded) before the cancel was seen; undo it with `runbook rollback \(run.id)`")
        case .rollbackFailed:
            throw CLIExit(code, "run \(run.id) stopped, but its rollback did not complete: \(run.message ?? "see `runbook history \(run.id)`")")
        default:
            throw CLIExit(code, "run \(run.id) had already finished (\(run.status.rawValue)) before the cancel was seen: \(run.message ?? "see `runbook history \(run.id)`")")
        }
    }

    /// Wait until the process holding `lease` lets the run go (releases the lease or dies); false when it
    /// still holds it after `limit`.
    static func awaitRelease(of lease: Lease?, store: any RunStore, within limit: Duration) async throws -> Bool {
        guard let lease else { return true }
        let clock = CommandProcess.clock
        let deadline = clock.monotonicNow + limit
        let host = ActorIdentity.current().host
        while clock.monotonicNow < deadline {
            guard let current = try await store.lease(runID: lease.runID), current.token == lease.token else { return true }
            if SQLiteRunStore.leaseIsAbandoned(current, staleAfter: 30_000, now: clock.nowMilliseconds, localHost: host) { return true }
            try await clock.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// A stored run and what commands acting on it need: its steps, the secrets given again, the current file.
struct RunContext {
    var run: RunRecord
    var definition: RunbookDefinition?
    var stepIDs: [String]
    var secrets: [String: String]
    var currentFileHash: String?
    var currentFilePath: String?

    static func load(_ idOrPrefix: String, store: any RunStore, global: GlobalOptions, params: [String]) async throws -> RunContext {
        let run = try await global.storedRun(idOrPrefix, in: store)
        let registry = global.registry
        let definition = try? RunbookParser.parseStored(run.definition, origin: "run \(run.id)", registry: registry)
        var secrets = try ParameterInput.commandLineValues(params, secrets: Set(run.providedSecrets))
        for name in run.providedSecrets where secrets[name] == nil {
            if let value = global.environment["RUNBOOK_PARAM_\(ParameterInput.environmentName(name))"] { secrets[name] = value }
        }
        var context = RunContext(run: run, definition: definition, stepIDs: definition?.steps.map(\.id) ?? [], secrets: secrets)
        // Only the current file's hash is needed to say whether it changed: no need to parse it.
        for ext in ["yaml", "yml"] {
            let path = global.runbookDirectory + "/\(run.runbook).\(ext)"
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                context.currentFileHash = RunbookParser.sourceHash(of: text)
                context.currentFilePath = path
                break
            }
        }
        return context
    }

    func noteDefinitionChange() {
        if let hash = currentFileHash, hash != run.definitionHash {
            Terminal.warning("\(currentFilePath ?? run.runbook) changed since run \(run.id) started; resuming with the definition stored with the run (sha256 \(run.definitionHash.prefix(12)))")
        }
    }
}

/// Gathers parameter values from `--param-file`, `--param` and, for secrets, `RUNBOOK_PARAM_<NAME>`.
///
/// A `--param` overrides the file's value for the same name; the environment only fills secrets given neither way.
enum ParameterInput {
    /// The run's parameters: collected, defaults applied, types checked; problems exit 2 naming the file.
    static func resolve(params: [String], file: String?, definition: RunbookDefinition, environment: [String: String]) throws -> [String: String] {
        let provided = try collect(params: params, file: file, definition: definition, environment: environment)
        do {
            return try ParameterResolver.resolve(definition: definition, provided: provided)
        } catch {
            throw CLIExit.usage("\(definition.origin): \(error)")
        }
    }

    static func collect(params: [String], file: String?, definition: RunbookDefinition, environment: [String: String]) throws -> [String: String] {
        var values = try file.map(fileValues) ?? [:]
        let secrets = Set(definition.parameters.filter(\.secret).map(\.name))
        for (name, value) in try commandLineValues(params, secrets: secrets) { values[name] = value }
        for name in secrets where values[name] == nil {
            if let value = environment[ParameterResolver.environmentVariable(for: name)] { values[name] = value }
        }
        return values
    }

    /// The `--param name=value` pairs; a name given more than once is refused (naming its values unless secret).
    static func commandLineValues(_ params: [String], secrets: Set<String>) throws -> [String: String] {
        var given: [String: [String]] = [:]
        var order: [String] = []
        for item in params {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CLIExit.usage("--param '\(item)' must look like name=value")
            }
            let name = String(item[..<equals])
            if given[name] == nil { order.append(name) }
            given[name, default: []].append(String(item[item.index(after: equals)...]))
        }
        let repeated = order.compactMap { name -> String? in
            guard let values = given[name], values.count > 1 else { return nil }
            let times = values.count == 2 ? "twice" : "\(values.count) times"
            let shown = secrets.contains(name)
                ? "the values are not shown: the parameter is secret"
                : values.dropLast().map { "'\($0)'" }.joined(separator: ", ") + ", then '\(values[values.count - 1])'"
            return "--param \(name) is given \(times) (\(shown)); give it once"
        }
        guard repeated.isEmpty else { throw CLIExit.usage(repeated.joined(separator: "\n")) }
        return given.compactMapValues(\.first)
    }

    /// The `name: value` pairs of a `--param-file`, each value as written; anything else is one sentence per
    /// problem naming the file (and the line, once the file reads as YAML).
    static func fileValues(_ file: String) throws -> [String: String] {
        let text = try readText(file)
        let root: Node?
        do {
            root = try RunbookParser.compose(text, file: file, limits: .parameterFile)
        } catch {
            throw CLIExit.usage(error.description)
        }
        guard let root else { return [:] }
        func at(_ node: Node, _ message: String) -> String {
            "\(file):\(node.mark?.line ?? 1):\(node.mark?.column ?? 1): \(message)"
        }
        guard case .mapping(let mapping) = root else {
            throw CLIExit.usage(at(root, "the parameter file must be a YAML map of name: value, got \(describe(root))"))
        }
        var values: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        var problems: [String] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let key) = keyNode else {
                problems.append(at(keyNode, "parameter names must be plain text, got \(describe(keyNode))"))
                continue
            }
            if let line = firstLine[key.string] {
                problems.append(at(keyNode, "parameter '\(key.string)' is given twice in the parameter file (first at line \(line))"))
                continue
            }
            firstLine[key.string] = keyNode.mark?.line ?? 1
            guard case .scalar(let value) = valueNode else {
                problems.append(at(valueNode, "parameter '\(key.string)' must be a single value, got \(describe(valueNode))"))
                continue
            }
            values[key.string] = isNull(value) ? "" : value.string
        }
        guard problems.isEmpty else { throw CLIExit.usage(problems.joined(separator: "\n")) }
        return values
    }

    /// The file's text, or a sentence saying why it cannot be read.
    static func readText(_ file: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw CLIExit.usage("parameter file \(file) does not exist")
        }
        guard !isDirectory.boolValue else { throw CLIExit.usage("parameter file \(file) is a directory, not a file") }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIExit.usage("cannot read parameter file \(file) (check its permissions)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CLIExit.usage("parameter file \(file) is not UTF-8 text; write it as a YAML map of name: value")
        }
        return text
    }

    /// What a node is, without its text (a scalar there may be a secret).
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar: "a single value"
        case .sequence: "a list"
        case .mapping: "a map"
        }
    }

    static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func environmentName(_ name: String) -> String {
        String(ParameterResolver.environmentVariable(for: name).dropFirst("RUNBOOK_PARAM_".count))
    }
}

/// Ctrl-C, SIGTERM, SIGQUIT, SIGHUP (the terminal or SSH session went away) and a closed standard output
/// (SIGPIPE, or a write finding it closed) stop scheduling, stop the running steps' process groups, record
/// the run as interrupted, and exit 5. A second Ctrl-C, SIGTERM or SIGQUIT exits at once (the steps'
/// processes die with the driver); SIGHUP and SIGPIPE come in bursts, so repeats of those are ignored.
enum Interruptible {
    /// The signals handled, with the name said when one arrives.
    static let signals: [(number: Int32, name: String)] = [
        (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGQUIT, "SIGQUIT"), (SIGHUP, "SIGHUP"), (SIGPIPE, "SIGPIPE"),
    ]

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let state = InterruptState()
        let interrupt: @Sendable (String, Bool) -> Void = { cause, repeatExits in
            switch state.mark() {
            case .first:
                Terminal.warning("interrupted (\(cause)): stopping the running steps and recording the run as interrupted (Ctrl-C again to exit at once)")
                task.cancel()
            case .again where repeatExits:
                Terminal.error("interrupted again; exiting now (the run stays resumable)")
                CommandProcess.leaveAtOnce(ExitCodes.interrupted)
            case .again:
                break
            }
        }
        for (number, _) in signals { signal(number, SIG_IGN) }
        let sources = signals.map { number, name -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { interrupt(name, number != SIGHUP && number != SIGPIPE) }
            source.resume()
            return source
        }
        Terminal.setOutputClosedHandler { interrupt("standard output was closed", false) }
        defer {
            Terminal.setOutputClosedHandler(nil)
            sources.forEach { $0.cancel() }
            // SIGPIPE stays ignored: the summary printed next may find standard output closed too.
            for (number, _) in signals where number != SIGPIPE { signal(number, SIG_DFL) }
        }
        return try await task.value
    }
}

private final class InterruptState: @unchecked Sendable {
    enum Mark { case first, again }
    private let lock = NSLock()
    private var seen = false

    func mark() -> Mark {
        lock.withLock {
            defer { seen = true }
            return seen ? .again : .first
        }
    }
}
