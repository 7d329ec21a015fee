import Foundation

/// Results and signals delivered to the driver; it takes everything that has arrived at once, so several
/// step completions become one checkpoint (group commit on parallel paths).
final class Mailbox<Message: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Message] = []
    private var waiter: CheckedContinuation<[Message], Never>?
    /// Once closed, what is posted (and what was left unread) goes here instead.
    private var refuse: ((Message) -> Void)?

    func post(_ message: Message) {
        lock.lock()
        if let refuse {
            lock.unlock()
            refuse(message)
            return
        }
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: [message])
            return
        }
        items.append(message)
        lock.unlock()
    }

    /// Stop taking messages: those left unread, and any posted later, are handed to `refuse`.
    func close(refusing refuse: @escaping (Message) -> Void) {
        lock.lock()
        self.refuse = refuse
        let unread = items
        items.removeAll()
        lock.unlock()
        unread.forEach(refuse)
    }

    /// Whatever has arrived, without waiting.
    func takeAvailable() -> [Message] {
        lock.lock()
        defer { lock.unlock() }
        let taken = items
        items.removeAll()
        return taken
    }

    func takeAll() async -> [Message] {
        await withCheckedContinuation { continuation in
            lock.lock()
            if items.isEmpty {
                waiter = continuation
                lock.unlock()
            } else {
                let taken = items
                items.removeAll()
                lock.unlock()
                continuation.resume(returning: taken)
            }
        }
    }
}

/// What reaches the driver: an input for the state machine, a wake-up, or a reason to stop writing at once.
enum DriverMessage: Sendable {
    case input(RunInput)
    /// The driving task was cancelled (Ctrl-C): look at `Task.isCancelled`.
    case wake
    /// A simulated crash or a lost lease.
    case halted(any Error)
    /// An event an action needs durable before it goes on (a process group it is about to let run).
    case record(NewEvent, CheckedContinuation<Void, any Error>)
}

/// Drives one run while holding its lease. It is the only writer of the run's checkpoints: it feeds what
/// happened to the run's `RunStateMachine`, commits the transition the machine decides, then starts the
/// transition's launches. Actions, polls, compensations and timers run as tasks on the global executor
/// (never on the store's thread) and only report their outcome through the mailbox.
final class RunDriver {
    let env: EngineEnvironment
    let definition: RunbookDefinition
    let lease: Lease
    let context: StepContext
    let writer: RunWriter
    /// Step outcomes, cancel requests, the deadline and lease signals, in arrival order.
    let mailbox = Mailbox<DriverMessage>()
    private var machine: RunStateMachine
    private var tasks: [String: Task<Void, Never>] = [:]
    private var interruptSeen = false
    /// Events actions asked to have recorded, committed with the next transition; their callers wait.
    private var records: [(event: NewEvent, caller: CheckedContinuation<Void, any Error>)] = []

    init(env: EngineEnvironment, definition: RunbookDefinition, run: RunRecord, steps: [StepRecord], lease: Lease, parameters: [String: String]) {
        self.env = env
        self.definition = definition
        self.lease = lease
        let secretNames = Set(definition.parameters.filter(\.secret).map(\.name))
        writer = RunWriter(store: env.store, runID: run.id, leaseToken: lease.token, hook: env.checkpointHook,
                           progress: ProgressRelay(env.progress), actor: env.actor, clock: env.clock)
        context = StepContext(
            runID: run.id, runbook: definition.name, parameters: parameters, secretNames: secretNames, options: run.options,
            registry: env.registry, random: env.random, actor: env.actor, clock: env.clock,
            redactor: Redactor(secrets: secretNames.compactMap { parameters[$0] }), callerARN: env.callerARN)
        machine = RunStateMachine(definition: definition, run: run, steps: steps, context: context)
    }

    /// The steps' records as last committed, in the definition's order.
    var steps: [StepRecord] { machine.orderedSteps }

    /// Run steps until the run succeeds, pauses, stops or fails; `carry` is committed with the first checkpoint.
    func forward(carry: RunChanges = RunChanges()) async throws -> RunStatus {
        try await drive(.forward, carry: carry)
    }

    /// Run the steps that failed after a pivot again, then go on forward.
    func retryForward(carry: RunChanges = RunChanges()) async throws -> RunStatus {
        try await drive(.retryForward, carry: carry)
    }

    /// Undo the run (see `RunStateMachine`); `retryFailed` retries compensations that failed before.
    func rollback(reason: RollbackReason, retryFailed: Bool = false, carry: RunChanges = RunChanges()) async throws -> RunStatus {
        try await drive(.rollback(reason, retryFailed: retryFailed), carry: carry)
    }

    // MARK: - The loop

    private func drive(_ first: RunInput, carry: RunChanges) async throws -> RunStatus {
        let deadline = startDeadline(for: first)
        defer {
            deadline?.cancel()
            writer.progress.flush()
        }
        do {
            let status = try await loop(first, carry: carry)
            await stopTasks()
            return status
        } catch {
            await stopTasks()
            throw error
        }
    }

    private func loop(_ first: RunInput, carry: RunChanges) async throws -> RunStatus {
        var inputs = [first]
        var carry = carry
        while true {
            if Task.isCancelled && !interruptSeen {
                interruptSeen = true
                inputs.append(.interrupted)
            }
            let transition = machine.apply(inputs, now: env.clock.nowMilliseconds)
            let cancelSeen = try await commit(transition, carry: carry)
            carry = RunChanges()
            inputs = []
            if cancelSeen {
                // The store saw a cancel request: nothing this transition launches may start.
                inputs.append(transition.launching.isEmpty ? .cancelRequested : .launchesRefused)
                if !transition.launching.isEmpty { continue }
            }
            if transition.stopInFlight { tasks.values.forEach { $0.cancel() } }
            for launch in transition.launches { await start(launch) }
            if let status = transition.finished { return status }
            inputs += try await nextInputs()
        }
    }

    /// Commit a transition with what came before it and the events actions asked for, then let those actions
    /// go on (or fail, when the commit did).
    private func commit(_ transition: Transition, carry: RunChanges) async throws -> Bool {
        let asked = records
        records.removeAll()
        var changes = carry.followed(by: transition.changes)
        changes.events += asked.map(\.event)
        do {
            let cancelSeen = try await writer.commit(transition.label, changes, launching: transition.launching)
            for record in asked { record.caller.resume() }
            return cancelSeen
        } catch {
            for record in asked { record.caller.resume(throwing: error) }
            throw error
        }
    }

    /// Wait for the next inputs. Outcomes arriving at nearly the same moment share the next checkpoint: the
    /// other tasks get a moment (a scheduler turn, no timer) to report before it is committed.
    private func nextInputs() async throws -> [RunInput] {
        let mailbox = self.mailbox
        var messages = await withTaskCancellationHandler {
            await mailbox.takeAll()
        } onCancel: {
            mailbox.post(.wake)
        }
        var turns = 0
        while messages.count < tasks.count && turns < 3 {
            await Task.yield()
            messages += mailbox.takeAvailable()
            turns += 1
        }
        var inputs: [RunInput] = []
        var halt: (any Error)?
        // Every message is taken before a halt is acted on: a record request must not be dropped unanswered.
        for message in messages {
            switch message {
            case .input(let input):
                inputs.append(input)
                if let step = input.finishedStep { tasks[step] = nil }
            case .wake:
                continue
            case .record(let event, let caller):
                records.append((event, caller))
            case .halted(let error):
                halt = halt ?? error
            }
        }
        if let halt { throw EngineHalt(underlying: halt) }
        return inputs
    }

    private func startDeadline(for first: RunInput) -> Task<Void, Never>? {
        guard case .forward = first, let deadline = context.options.deadlineAt else { return nil }
        return Task(executorPreference: globalConcurrentExecutor) { [env, mailbox] in
            let wait = deadline - env.clock.nowMilliseconds
            if wait > 0 { try? await env.clock.sleep(for: .milliseconds(wait)) }
            if !Task.isCancelled { mailbox.post(.input(.deadlinePassed)) }
        }
    }

    /// Stop whatever is still running and wait until it has: nothing started by this driver outlives it. An
    /// action still waiting for its record (or asking for one now) is told the driver stopped.
    private func stopTasks() async {
        for record in records { record.caller.resume(throwing: CancellationError()) }
        records.removeAll()
        mailbox.close { message in
            if case .record(_, let caller) = message { caller.resume(throwing: CancellationError()) }
        }
        let running = Array(tasks.values)
        tasks.removeAll()
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    // MARK: - Launches

    private func start(_ launch: Launch) async {
        let mailbox = self.mailbox
        switch launch {
        case .timer(let step, let delay):
            let clock = env.clock
            tasks[step] = Task(executorPreference: globalConcurrentExecutor) {
                do {
                    try await clock.sleep(for: delay)
                    mailbox.post(.input(.timerFired(step: step)))
                } catch {
                    mailbox.post(.input(.stopped(step: step)))
                }
            }
        case .perform(let call) where context.registry.action(named: call.actionName)?.computesInMemory == true:
            mailbox.post(await Self.performInPlace(call, context: context, writer: writer))
        case .perform(let call):
            tasks[call.step.id] = Self.performing(call, context: context, writer: writer, mailbox: mailbox)
        }
    }

    /// An in-memory action, performed on the driver's own executor: it returns before anything could time it
    /// out, and it starts no processes.
    private static func performInPlace(_ call: StepCall, context: StepContext, writer: RunWriter) async -> DriverMessage {
        var unlimited = call
        unlimited.limit = nil
        let name = call.actionName
        return await perform(unlimited, context: context, writer: writer) { _ in
            throw ActionFailure("action '\(name)' computes in memory and cannot start processes", retryable: false)
        }
    }

    /// A task on the global executor performing `call` and posting how it ended.
    private static func performing(_ call: StepCall, context: StepContext, writer: RunWriter, mailbox: Mailbox<DriverMessage>) -> Task<Void, Never> {
        Task(executorPreference: globalConcurrentExecutor) {
            // A process group is recorded by the driver, under the lease, before the action lets it run.
            let record: @Sendable (StepProcess) async throws -> Void = { process in
                var detail = process.detail
                detail["purpose"] = call.purpose.rawValue
                let event = context.event(.processStarted, step: call.step.id, attempt: call.attempt, detail, at: context.clock.nowMilliseconds)
                try await withCheckedThrowingContinuation { mailbox.post(.record(event, $0)) }
            }
            mailbox.post(await perform(call, context: context, writer: writer, record: record))
        }
    }

    /// Perform one call with its time limit, between the two side-effect checkpoints, and say how it ended.
    private static func perform(_ call: StepCall, context: StepContext, writer: RunWriter,
                                record: @escaping @Sendable (StepProcess) async throws -> Void) async -> DriverMessage {
        let id = call.step.id
        guard let action = context.registry.action(named: call.actionName) else {
            return .input(call.finished(.failed(ActionFailure("unknown action '\(call.actionName)'", retryable: false))))
        }
        var prepared = context.invocation(step: id, attempt: call.attempt, purpose: call.purpose, inputs: call.inputs, stepOutputs: call.stepOutputs)
        prepared.recordProcess = record
        let invocation = prepared
        let outcome: ActionOutcome
        do {
            try writer.checkpoint(.beforeSideEffect(step: id, purpose: call.purpose))
            let outputs = try await context.withTimeout(call.limit, what: call.what) {
                call.undo ? try await action.undo(invocation) : try await action.perform(invocation)
            }
            outcome = .succeeded(outputs)
        } catch let halt as EngineHalt {
            return .halted(halt.underlying)
        } catch is CancellationError {
            return .input(.stopped(step: id))
        } catch {
            if Task.isCancelled { return .input(.stopped(step: id)) }
            outcome = .failed(error as? ActionFailure ?? ActionFailure(String(describing: error), retryable: true))
        }
        do {
            try writer.checkpoint(.afterSideEffect(step: id, purpose: call.purpose))
        } catch let halt as EngineHalt {
            return .halted(halt.underlying)
        } catch {
            return .halted(error)
        }
        return .input(call.finished(outcome))
    }

    /// Refresh the lease every `heartbeatInterval` until cancelled (the whole time the driver holds it,
    /// rollback included); report cancel requests and a lost lease through the mailbox.
    static func heartbeat(env: EngineEnvironment, lease: Lease, mailbox: Mailbox<DriverMessage>) async {
        while !Task.isCancelled {
            do {
                try await env.clock.sleep(until: env.clock.monotonicNow + env.heartbeatInterval)
            } catch {
                return
            }
            do {
                if try await env.store.heartbeat(runID: lease.runID, leaseToken: lease.token, now: env.clock.nowMilliseconds) {
                    mailbox.post(.input(.cancelRequested))
                }
            } catch let error as RunStoreError where error.code == .leaseLost {
                mailbox.post(.halted(error))
                return
            } catch let error as any ExitCoded where error.exitCode == ExitCodes.interrupted {
                // The store gave up reaching its server: stop before someone else may take the run over.
                mailbox.post(.halted(error))
                return
            } catch {
                // A transient storage error: the next heartbeat tries again; commits check the lease anyway.
            }
        }
    }
}

extension StepCall {
    /// The input reporting how this call ended.
    func finished(_ outcome: ActionOutcome) -> RunInput {
        switch purpose {
        case .poll: return .pollFinished(step: step.id, outcome)
        case .compensation: return .compensationFinished(step: step.id, outcome)
        case .action, .plan: return .actionFinished(step: step.id, outcome)
        }
    }
}

extension RunInput {
    /// The step whose launch this input ends, if any.
    var finishedStep: String? {
        switch self {
        case .actionFinished(let step, _), .pollFinished(let step, _), .compensationFinished(let step, _),
             .timerFired(let step), .stopped(let step):
            return step
        default:
            return nil
        }
    }
}

extension RunChanges {
    /// These changes, then `later`'s: steps and events in order, the later status, message and end time winning.
    func followed(by later: RunChanges) -> RunChanges {
        RunChanges(runStatus: later.runStatus ?? runStatus, message: later.message ?? message, finishedAt: later.finishedAt ?? finishedAt,
                   steps: steps + later.steps, events: events + later.events)
    }
}
