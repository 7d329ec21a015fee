import Foundation

/// The result of driving a run (or of looking at one that had already finished).
public struct RunOutcome: Sendable {
    public var run: RunRecord
    /// Steps in the definition's order.
    public var steps: [StepRecord]
    /// True when the run had already finished and nothing was done.
    public var alreadyFinished: Bool

    public init(run: RunRecord, steps: [StepRecord], alreadyFinished: Bool = false) {
        self.run = run
        self.steps = steps
        self.alreadyFinished = alreadyFinished
    }
}

/// An engine-level refusal, in one or two plain sentences.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case runNotFound, leaseHeld, missingSecret, notAllowed, definition
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Starts, resumes, rolls back, approves and cancels runs. Every transition is checkpointed in the store
/// before the engine goes on, so a run killed at any moment resumes where it was.
public struct RunEngine: Sendable {
    public let environment: EngineEnvironment
    /// Stored definitions already parsed, by hash: a definition is parsed once per engine, not per call.
    private let parsed = DefinitionCache()

    public init(environment: EngineEnvironment) {
        self.environment = environment
    }

    /// A new run id: UTC time plus random hex, sortable and short enough to type.
    public static func newRunID(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let random = (0..<3).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(formatter.string(from: now))-\(random)"
    }

    /// Start a new run of `definition` with resolved `parameters` (secrets included in clear; they are
    /// redacted before anything is stored).
    public func start(definition: RunbookDefinition, parameters: [String: String], options: RunOptions, runID: String? = nil) async throws -> RunOutcome {
        let env = environment
        let id = runID ?? Self.newRunID()
        let now = env.clock.now()
        let secretNames = Set(definition.parameters.filter(\.secret).map(\.name))
        var stored: [String: String] = [:]
        for (name, value) in parameters { stored[name] = secretNames.contains(name) ? Redactor.mask : value }
        let provided = secretNames.filter { parameters[$0] != nil }.sorted()
        let run = RunRecord(
            id: id, runbook: definition.name, definition: definition.source, definitionHash: definition.sourceHash,
            origin: definition.origin, parameters: stored, providedSecrets: provided, options: options, status: .running,
            createdAt: now, startedBy: env.actor)
        let steps = definition.steps.map { StepRecord(runID: id, stepID: $0.id) }
        let lease = Lease(runID: id, token: UUID().uuidString, holder: env.actor, heartbeatAt: now)
        let created = NewEvent(kind: .runCreated, detail: [
            "runbook": definition.name, "definition_hash": definition.sourceHash, "origin": definition.origin,
            "parameters": AuditChain.canonicalParameters(stored), "started_by": env.actor.description,
            "options": "parallelism=\(options.parallelism) yes=\(options.autoApprove)" + (options.deadlineAt.map { " deadline=\($0)" } ?? ""),
        ], at: now, actor: env.actor)
        try env.checkpointHook.map { try $0(.beforeCommit("run created")) }
        try await env.store.createRun(run, steps: steps, lease: lease, events: [created])
        try env.checkpointHook.map { try $0(.afterCommit("run created")) }
        env.progress(ProgressEvent(runID: id, stepID: nil, attempt: nil, kind: .runCreated, detail: created.detail, at: now))
        let driver = RunDriver(env: env, definition: definition, run: run, steps: steps, lease: lease, parameters: parameters)
        return try await drive(driver) { try await $0.forward() }
    }

    /// Continue an interrupted run with exactly the definition and parameters it started with.
    /// `secrets` supplies the secret parameters again (they are never stored).
    public func resume(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome {
        let (run, steps) = try await load(runID)
        return try await resume(run, steps, secrets: secrets)
    }

    private func resume(_ run: RunRecord, _ steps: [StepRecord], secrets: [String: String]) async throws -> RunOutcome {
        if run.status.isFinished {
            return RunOutcome(run: run, steps: ordered(steps, run), alreadyFinished: true)
        }
        if run.status == .rollbackFailed {
            throw EngineError(.notAllowed, "run \(run.id) ended rollback_failed; run `runbook rollback \(run.id)` to try the remaining compensations again")
        }
        let (driver, note) = try await takeOver(run, steps, secrets: secrets, verb: "resumed")
        if run.status == .rollingBack {
            return try await drive(driver) { try await $0.rollback(reason: run.cancelRequested ? .cancel : .failure(run.message ?? "failure"), carry: RunChanges(events: note)) }
        }
        if run.status == .failed {
            // Forward recovery after a pivot: failed steps run again with a fresh retry budget.
            var note = note
            for (id, record) in driver.steps where record.status == .failed {
                var reset = record
                reset.status = .pending
                reset.error = nil
                reset.completionOrder = nil
                reset.finishedAt = nil
                reset.waiterDeadline = nil
                driver.steps[id] = reset
                note.append(driver.context.event(.runStatus, step: id, ["retry_forward": "true"]))
            }
            var changes = RunChanges(runStatus: .running, message: .some(nil), steps: Array(driver.steps.values.filter { $0.status == .pending }), events: note)
            changes.events.append(driver.context.event(.runStatus, step: nil, ["status": RunStatus.running.rawValue]))
            try await driver.writer.commit("retry forward", changes)
            return try await drive(driver) { try await $0.forward() }
        }
        var events = note
        events.append(driver.context.event(.runStatus, step: nil, ["status": RunStatus.running.rawValue]))
        try await driver.writer.commit("resumed", RunChanges(runStatus: .running, message: .some(nil), events: events))
        return try await drive(driver) { try await $0.forward() }
    }

    /// Undo what a run did (a succeeded run on request, a run whose rollback failed, an interrupted run).
    public func rollback(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome {
        let (run, steps) = try await load(runID)
        if run.status == .rolledBack || run.status == .cancelled {
            return RunOutcome(run: run, steps: ordered(steps, run), alreadyFinished: true)
        }
        let (driver, note) = try await takeOver(run, steps, secrets: secrets, verb: "rollback requested")
        var reset = driver.steps
        for (id, record) in reset where record.status == .compensationFailed {
            reset[id]?.status = .compensating
        }
        driver.steps = reset
        let reason: RollbackReason = run.status == .rollbackFailed || run.status == .rollingBack
            ? .failure(run.message ?? "earlier failure") : .requested
        if driver.run.status == .rollbackFailed { driver.run.status = .running }
        return try await drive(driver) { try await $0.rollback(reason: reason, carry: RunChanges(events: note)) }
    }

    /// Record that `who` approved `stepID`'s gate, then continue the run.
    public func approve(runID: String, stepID: String, secrets: [String: String] = [:]) async throws -> RunOutcome {
        let env = environment
        let (run, steps) = try await load(runID)
        let definition = try parse(run)
        guard let step = definition.step(stepID) else {
            throw EngineError(.notAllowed, "run \(run.id) has no step '\(stepID)' (steps: \(definition.steps.map(\.id).joined(separator: ", ")))")
        }
        guard step.approvalRequired || env.registry.action(named: step.call.action)?.isApprovalGate == true else {
            throw EngineError(.notAllowed, "step '\(stepID)' of run \(run.id) has no approval gate")
        }
        guard var record = steps.first(where: { $0.stepID == stepID }) else {
            throw EngineError(.notAllowed, "run \(run.id) has no record of step '\(stepID)'")
        }
        if let by = record.approvedBy {
            throw EngineError(.notAllowed, "step '\(stepID)' of run \(run.id) was already approved by \(by)")
        }
        guard !run.status.isFinished, run.status != .rollingBack, run.status != .rollbackFailed, run.status != .failed || record.status == .pending else {
            throw EngineError(.notAllowed, "run \(run.id) is \(run.status.rawValue); there is nothing to approve")
        }
        record.approvedBy = env.actor.user
        let approved = NewEvent(stepID: stepID, kind: .stepApproved, detail: ["by": env.actor.user, "host": env.actor.host], at: env.clock.now(), actor: env.actor)
        try await env.store.appendUnleased(runID: run.id, steps: [record], events: [approved])
        env.progress(ProgressEvent(runID: run.id, stepID: stepID, attempt: nil, kind: .stepApproved, detail: approved.detail, at: approved.at))
        let updated = steps.map { $0.stepID == stepID ? record : $0 }
        return try await resume(run, updated, secrets: secrets)
    }

    /// Stop a run and roll it back. When another live process drives it, ask that process to do it.
    /// Returns nil when the request was handed to the driving process.
    public func cancel(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome? {
        let env = environment
        let (run, steps) = try await load(runID)
        if run.status.isFinished {
            throw EngineError(.notAllowed, "run \(run.id) already finished (\(run.status.rawValue)); to undo a succeeded run use `runbook rollback \(run.id)`")
        }
        let request = NewEvent(kind: .cancelRequested, detail: ["by": env.actor.user], at: env.clock.now(), actor: env.actor)
        if let lease = try await env.store.lease(runID: run.id),
           !InMemoryRunStore.leaseIsAbandoned(lease, staleAfter: env.leaseStaleAfter, now: env.clock.now(), localHost: env.actor.host) {
            try await env.store.requestCancel(runID: run.id, event: request)
            return nil
        }
        try await env.store.requestCancel(runID: run.id, event: request)
        var cancelled = run
        cancelled.cancelRequested = true
        let (driver, note) = try await takeOver(cancelled, steps, secrets: secrets, verb: "cancel")
        return try await drive(driver) { try await $0.rollback(reason: .cancel, carry: RunChanges(events: note)) }
    }

    // MARK: - Helpers

    private func load(_ runID: String) async throws -> (RunRecord, [StepRecord]) {
        let store = environment.store
        guard let id = try await store.resolveRunID(runID), let run = try await store.run(id: id) else {
            throw EngineError(.runNotFound, "no run '\(runID)' in this database (see `runbook runs`)")
        }
        // Read the step records on the store's thread while this one parses the stored definition (the
        // parse is cached by hash for the caller): on a long run the two cost about the same.
        async let steps = store.steps(runID: id)
        _ = try? parse(run)
        return (run, try await steps)
    }

    private func parse(_ run: RunRecord) throws -> RunbookDefinition {
        if let cached = parsed[run.definitionHash] { return cached }
        do {
            let definition = try environment.parseDefinition(run.definition, "run \(run.id)")
            parsed[run.definitionHash] = definition
            return definition
        } catch {
            throw EngineError(.definition, "the definition stored with run \(run.id) no longer validates: \(error)")
        }
    }

    private func ordered(_ steps: [StepRecord], _ run: RunRecord) -> [StepRecord] {
        guard let definition = try? parse(run) else { return steps }
        let byID = Dictionary(steps.map { ($0.stepID, $0) }, uniquingKeysWith: { a, _ in a })
        return definition.steps.compactMap { byID[$0.id] }
    }

    /// Take the run's lease and build a driver with the stored definition and the re-supplied secrets.
    private func takeOver(_ run: RunRecord, _ steps: [StepRecord], secrets: [String: String], verb: String) async throws -> (RunDriver, [NewEvent]) {
        let env = environment
        let definition = try parse(run)
        var parameters = run.parameters
        var missing: [String] = []
        for name in run.providedSecrets {
            if let value = secrets[name] { parameters[name] = value } else { missing.append(name) }
        }
        if !missing.isEmpty {
            throw EngineError(.missingSecret, "run \(run.id) was started with secret parameter\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")), which \(missing.count > 1 ? "are" : "is") never stored; pass \(missing.map { "--param \($0)=…" }.joined(separator: " ")) again")
        }
        let claim: (lease: Lease, replaced: Lease?)
        do {
            claim = try await env.store.acquireLease(runID: run.id, holder: env.actor, staleAfter: env.leaseStaleAfter, now: env.clock.now())
        } catch let error as RunStoreError where error.code == .leaseHeld {
            throw EngineError(.leaseHeld, "run \(run.id) is being driven by another process (\(error.holder?.holder.description ?? "unknown")); wait for it, or stop it first")
        }
        var events: [NewEvent] = []
        var detail = ["action": verb]
        if let replaced = claim.replaced {
            detail["previous_holder"] = replaced.holder.description
            detail["previous_heartbeat"] = String(replaced.heartbeatAt)
        }
        events.append(NewEvent(kind: .leaseTaken, detail: detail, at: env.clock.now(), actor: env.actor))
        events.append(NewEvent(kind: .runResumed, detail: ["status_before": run.status.rawValue, "action": verb], at: env.clock.now(), actor: env.actor))
        // Nothing the previous driver started may still run when its steps run again.
        do {
            events += try await stopOrphanedProcesses(run, steps)
        } catch {
            try? await env.store.releaseLease(runID: run.id, leaseToken: claim.lease.token)
            throw error
        }
        let driver = RunDriver(env: env, definition: definition, run: run, steps: steps, lease: claim.lease, parameters: parameters)
        return (driver, events)
    }

    /// Run `body`, then release the lease and report the run as stored.
    private func drive(_ driver: RunDriver, _ body: (RunDriver) async throws -> RunStatus) async throws -> RunOutcome {
        let env = environment
        let heartbeat = Task { [lease = driver.lease, mailbox = driver.mailbox] in
            await RunDriver.heartbeat(env: env, lease: lease, mailbox: mailbox)
        }
        defer { heartbeat.cancel() }
        do {
            _ = try await withTaskExecutorPreference(env.store.preferredTaskExecutor) { try await body(driver) }
        } catch let halt as EngineHalt {
            // A simulated crash or a lost lease: no more writes, the lease stays (it goes stale).
            if let storeError = halt.underlying as? RunStoreError, storeError.code == .leaseLost {
                throw EngineError(.leaseHeld, storeError.message)
            }
            throw halt.underlying
        }
        try? await env.store.releaseLease(runID: driver.run.id, leaseToken: driver.lease.token)
        guard let run = try await env.store.run(id: driver.run.id) else {
            throw EngineError(.runNotFound, "run \(driver.run.id) disappeared from the database")
        }
        // The driver's step records are what it committed; no need to read them back.
        return RunOutcome(run: run, steps: driver.definition.steps.compactMap { driver.steps[$0.id] })
    }
}

/// Parsed definitions by source hash (a definition's hash names its exact text).
final class DefinitionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var byHash: [String: RunbookDefinition] = [:]

    subscript(hash: String) -> RunbookDefinition? {
        get { lock.withLock { byHash[hash] } }
        set { lock.withLock { byHash[hash] = newValue } }
    }
}
