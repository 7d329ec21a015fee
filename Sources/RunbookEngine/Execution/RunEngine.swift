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
        case runNotFound, leaseHeld, missingSecret, wrongSecret, notAllowed, definition
        /// The run's stored rows disagree with its hash-chained history.
        case tampered
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

    public init(environment: EngineEnvironment) {
        self.environment = environment
    }

    /// A new run id: UTC time `now` plus random hex, sortable and short enough to type.
    public static func newRunID(now: Date) -> String {
        let iso = ISOTimestamp.string(milliseconds: Int64((now.timeIntervalSince1970 * 1000).rounded(.down)))
        let time = iso.prefix(19).filter { $0 != "-" && $0 != ":" }.replacingOccurrences(of: "T", with: "-")
        return "\(time)-\(AuditChain.hex((0..<3).map { _ in UInt8.random(in: 0...255) }))"
    }

    /// Start a new run of `definition` with resolved `parameters` (secrets included in clear; they are
    /// redacted before anything is stored).
    public func start(definition: RunbookDefinition, parameters: [String: String], options: RunOptions, runID: String? = nil) async throws -> RunOutcome {
        let env = environment
        let id = runID ?? Self.newRunID(now: env.clock.now)
        let now = env.clock.nowMilliseconds
        let secretNames = Set(definition.parameters.filter(\.secret).map(\.name))
        var stored: [String: String] = [:]
        for (name, value) in parameters { stored[name] = secretNames.contains(name) && !value.isEmpty ? Redactor.mask : value }
        // Only secrets with a value must be given again on resume; an empty one has nothing to hide.
        let provided = secretNames.filter { !(parameters[$0] ?? "").isEmpty }.sorted()
        var fingerprints: [String: String] = [:]
        for name in provided { fingerprints[name] = try SecretCheck.fingerprint(of: parameters[name] ?? "") }
        let run = RunRecord(
            id: id, runbook: definition.name, definition: definition.source, definitionHash: definition.sourceHash,
            origin: definition.origin, parameters: stored, providedSecrets: provided, options: options, status: .running,
            createdAt: now, startedBy: env.actor)
        let steps = definition.steps.map { StepRecord(runID: id, stepID: $0.id) }
        let lease = Lease(runID: id, token: UUID().uuidString, holder: env.actor, heartbeatAt: now)
        var detail = [
            "runbook": definition.name, "definition_hash": definition.sourceHash, "origin": definition.origin,
            "parameters": AuditChain.canonicalParameters(stored), "started_by": env.actor.description,
            "options": RunStateAudit.legacyOptions(options), RunStateAudit.optionsKey: RunStateAudit.canonicalOptions(options),
            RunStateAudit.secretsKey: provided.joined(separator: ","), RunStateAudit.stampsKey: "1",
        ]
        if !fingerprints.isEmpty { detail[Self.secretChecksKey] = AuditChain.canonicalParameters(fingerprints) }
        let created = NewEvent(kind: .runCreated, detail: detail, at: now, actor: env.actor)
        try env.checkpointHook.map { try $0(.beforeCommit("run created")) }
        try await env.store.createRun(run, steps: steps, lease: lease, events: [created])
        try env.checkpointHook.map { try $0(.afterCommit("run created")) }
        env.progress?(ProgressEvent(runID: id, stepID: nil, attempt: nil, kind: .runCreated, detail: created.detail, at: now))
        let driver = RunDriver(env: env, definition: definition, run: run, steps: steps, lease: lease, parameters: parameters)
        return try await drive(driver) { try await $0.forward() }
    }

    /// Continue an interrupted run with exactly the definition and parameters it started with.
    /// `secrets` supplies the secret parameters again (they are never stored).
    public func resume(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome {
        let (run, steps) = try await load(runID)
        return try await resume(run, steps, secrets: secrets)
    }

    /// - Parameter history: the run's events as verified just before by the caller (approve), if it did.
    private func resume(_ run: RunRecord, _ steps: [StepRecord], secrets: [String: String], history: [AuditEvent]? = nil) async throws -> RunOutcome {
        if run.status.isFinished {
            return RunOutcome(run: run, steps: ordered(steps, run), alreadyFinished: true)
        }
        if run.status == .rollbackFailed {
            throw EngineError(.notAllowed, "run \(run.id) ended rollback_failed; run `runbook rollback \(run.id)` to try the remaining compensations again")
        }
        let (driver, note) = try await takeOver(run, steps, secrets: secrets, verb: "resumed", history: history)
        if run.status == .rollingBack {
            return try await drive(driver) { try await $0.rollback(reason: run.cancelRequested ? .cancel : .failure(run.message ?? "failure"), carry: RunChanges(events: note)) }
        }
        if run.status == .failed || run.status == .completedWithExceptions {
            // Forward recovery after a pivot, or the steps that were allowed to fail: they run again with a fresh retry budget.
            return try await drive(driver) { try await $0.retryForward(carry: RunChanges(events: note)) }
        }
        let resumed = NewEvent(kind: .runStatus, detail: ["status": RunStatus.running.rawValue], at: environment.clock.nowMilliseconds, actor: environment.actor)
        return try await drive(driver) { try await $0.forward(carry: RunChanges(runStatus: .running, message: .some(nil), events: note + [resumed])) }
    }

    /// Undo what a run did (a succeeded run on request, a run whose rollback failed, an interrupted run).
    public func rollback(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome {
        let (run, steps) = try await load(runID)
        if run.status == .rolledBack || run.status == .cancelled {
            return RunOutcome(run: run, steps: ordered(steps, run), alreadyFinished: true)
        }
        let (driver, note) = try await takeOver(run, steps, secrets: secrets, verb: "rollback requested")
        let reason: RollbackReason = run.status == .rollbackFailed || run.status == .rollingBack
            ? .failure(run.message ?? "earlier failure") : .requested
        return try await drive(driver) { try await $0.rollback(reason: reason, retryFailed: true, carry: RunChanges(events: note)) }
    }

    /// Who decided an approval gate, beyond the OS user and host of ``EngineEnvironment/actor``.
    public struct Decision: Sendable {
        /// Why, in the approver's words (a change or incident ticket, a reason to decline).
        public var comment: String?
        /// The AWS caller (STS GetCallerIdentity) of the approver's credentials, when configured.
        public var callerARN: String?
        public init(comment: String? = nil, callerARN: String? = nil) {
            self.comment = comment
            self.callerARN = callerARN
        }
    }

    /// Record that the actor approved `stepID`'s gate, then continue the run.
    public func approve(runID: String, stepID: String, secrets: [String: String] = [:], decision: Decision = Decision()) async throws -> RunOutcome {
        let env = environment
        let (run, _, record, history) = try await openGate(runID: runID, stepID: stepID, secrets: secrets, verb: "approve")
        var approvedRecord = record
        approvedRecord.approvedBy = env.actor.user
        let approved = NewEvent(stepID: stepID, kind: .stepApproved, detail: Self.detail(env.actor, decision), at: env.clock.nowMilliseconds, actor: env.actor)
        let stamped = RunChanges(steps: [approvedRecord], events: [approved]).stamped(actor: env.actor, at: approved.at)
        try await env.store.appendUnleased(runID: run.id, steps: stamped.steps, events: stamped.events)
        env.progress?(ProgressEvent(runID: run.id, stepID: stepID, attempt: nil, kind: .stepApproved, detail: approved.detail, at: approved.at))
        // Verified above; since then only this approval was appended, by this process.
        let (current, currentSteps) = try await load(run.id)
        return try await resume(current, currentSteps, secrets: secrets, history: history)
    }

    /// Record that the actor declined `stepID`'s gate, then roll the run back (its outcome says it was declined).
    public func decline(runID: String, stepID: String, secrets: [String: String] = [:], decision: Decision) async throws -> RunOutcome {
        let env = environment
        let (run, _, _, _) = try await openGate(runID: runID, stepID: stepID, secrets: secrets, verb: "decline")
        let declined = NewEvent(stepID: stepID, kind: .stepDeclined, detail: Self.detail(env.actor, decision), at: env.clock.nowMilliseconds, actor: env.actor)
        try await env.store.appendUnleased(runID: run.id, steps: [], events: [declined])
        env.progress?(ProgressEvent(runID: run.id, stepID: stepID, attempt: nil, kind: .stepDeclined, detail: declined.detail, at: declined.at))
        let (current, currentSteps) = try await load(run.id)
        let (driver, note) = try await takeOver(current, currentSteps, secrets: secrets, verb: "declined")
        let why = "step '\(stepID)' was declined by \(env.actor.user)" + (decision.comment.map { ": \($0)" } ?? "")
        return try await drive(driver) { try await $0.rollback(reason: .failure(why), retryFailed: false, carry: RunChanges(events: note)) }
    }

    /// The gate `stepID` of `runID`, checked to be open for a decision: the run, its steps, the step's record and
    /// the verified history.
    private func openGate(runID: String, stepID: String, secrets: [String: String], verb: String)
        async throws -> (RunRecord, [StepRecord], StepRecord, [AuditEvent]) {
        let env = environment
        let (run, steps) = try await load(runID)
        let definition = try parse(run)
        guard let step = definition.step(stepID) else {
            throw EngineError(.notAllowed, "run \(run.id) has no step '\(stepID)' (steps: \(definition.steps.map(\.id).joined(separator: ", ")))")
        }
        guard step.approvalRequired || env.registry.action(named: step.call.action)?.isApprovalGate == true else {
            throw EngineError(.notAllowed, "step '\(stepID)' of run \(run.id) has no approval gate")
        }
        guard let record = steps.first(where: { $0.stepID == stepID }) else {
            throw EngineError(.notAllowed, "run \(run.id) has no record of step '\(stepID)'")
        }
        if let by = record.approvedBy {
            throw EngineError(.notAllowed, "step '\(stepID)' of run \(run.id) was already approved by \(by)")
        }
        guard !run.status.isFinished, run.status != .rollingBack, run.status != .rollbackFailed, run.status != .failed || record.status == .pending else {
            throw EngineError(.notAllowed, "run \(run.id) is \(run.status.rawValue); there is nothing to \(verb)")
        }
        try await refuseIfDriven(run)
        let history = try await verifiedHistory(run, steps, verb: verb)
        _ = try restoredParameters(run, history: history, secrets: secrets)
        return (run, steps, record, history)
    }

    static func detail(_ actor: ActorIdentity, _ decision: Decision) -> [String: String] {
        var detail = ["by": actor.user, "host": actor.host]
        if let comment = decision.comment { detail["comment"] = comment }
        if let arn = decision.callerARN { detail["caller_arn"] = arn }
        return detail
    }

    /// Stop a run and roll it back. When another live process drives it, ask that process to do it.
    /// Returns nil when the request was handed to the driving process.
    public func cancel(runID: String, secrets: [String: String] = [:]) async throws -> RunOutcome? {
        let env = environment
        let (run, _) = try await load(runID)
        if run.status.isFinished {
            throw EngineError(.notAllowed, "run \(run.id) already finished (\(run.status.rawValue)); to undo a succeeded run use `runbook rollback \(run.id)`")
        }
        let request = NewEvent(kind: .cancelRequested, detail: ["by": env.actor.user], at: env.clock.nowMilliseconds, actor: env.actor)
        if let lease = try await env.store.lease(runID: run.id),
           !InMemoryRunStore.leaseIsAbandoned(lease, staleAfter: env.leaseStaleAfter, now: env.clock.nowMilliseconds, localHost: env.actor.host) {
            try await env.store.requestCancel(runID: run.id, event: request)
            return nil
        }
        try await env.store.requestCancel(runID: run.id, event: request)
        let (cancelled, current) = try await load(run.id)
        let (driver, note) = try await takeOver(cancelled, current, secrets: secrets, verb: "cancel")
        return try await drive(driver) { try await $0.rollback(reason: .cancel, carry: RunChanges(events: note)) }
    }

    // MARK: - Helpers

    private func load(_ runID: String) async throws -> (RunRecord, [StepRecord]) {
        let store = environment.store
        let run: RunRecord
        do {
            run = try await store.run(named: runID, in: "this database")
        } catch let error as RunStoreError where error.code == .runNotFound {
            throw EngineError(.runNotFound, error.message)
        }
        let id = run.id
        // Read the step records on the store's thread while this one parses the stored definition (the
        // parse is cached by hash for the caller): on a long run the two cost about the same.
        async let steps = store.steps(runID: id)
        _ = try? parse(run)
        return (run, try await steps)
    }

    private func parse(_ run: RunRecord) throws -> RunbookDefinition {
        do {
            return try RunbookParser.parseStored(run.definition, origin: "run \(run.id)", registry: environment.registry)
        } catch {
            throw EngineError(.definition, "the definition stored with run \(run.id) no longer validates: \(error)")
        }
    }

    private func ordered(_ steps: [StepRecord], _ run: RunRecord) -> [StepRecord] {
        guard let definition = try? parse(run) else { return steps }
        let byID = Dictionary(steps.map { ($0.stepID, $0) }, uniquingKeysWith: { a, _ in a })
        return definition.steps.compactMap { byID[$0.id] }
    }

    /// The `run_created` detail key holding each given secret's `SecretCheck` fingerprint.
    static let secretChecksKey = "secret_checks"

    /// Take the run's lease and build a driver with the stored definition and the re-supplied secrets. The
    /// lease is checked first (a run another process drives is its business), then the run's rows against
    /// its hash-chained history, then the secrets.
    private func takeOver(_ run: RunRecord, _ steps: [StepRecord], secrets: [String: String], verb: String,
                          history verified: [AuditEvent]? = nil) async throws -> (RunDriver, [NewEvent]) {
        let env = environment
        try await refuseIfDriven(run)
        let history: [AuditEvent]
        if let verified { history = verified } else { history = try await verifiedHistory(run, steps, verb: verb) }
        let definition = try parse(run)
        let parameters = try restoredParameters(run, history: history, secrets: secrets)
        let claim: (lease: Lease, replaced: Lease?)
        do {
            claim = try await env.store.acquireLease(runID: run.id, holder: env.actor, staleAfter: env.leaseStaleAfter, now: env.clock.nowMilliseconds)
        } catch let error as RunStoreError where error.code == .leaseHeld {
            throw EngineError(.leaseHeld, "run \(run.id) is being driven by another process (\(error.holder?.holder.description ?? "unknown")); wait for it, or stop it first")
        }
        var events: [NewEvent] = []
        var detail = ["action": verb]
        if let replaced = claim.replaced {
            detail["previous_holder"] = replaced.holder.description
            detail["previous_heartbeat"] = String(replaced.heartbeatAt)
        }
        events.append(NewEvent(kind: .leaseTaken, detail: detail, at: env.clock.nowMilliseconds, actor: env.actor))
        events.append(NewEvent(kind: .runResumed, detail: ["status_before": run.status.rawValue, "action": verb], at: env.clock.nowMilliseconds, actor: env.actor))
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

    /// Refuse (exit 4) when a live process holds the run's lease.
    private func refuseIfDriven(_ run: RunRecord) async throws {
        let env = environment
        guard let lease = try await env.store.lease(runID: run.id),
              !InMemoryRunStore.leaseIsAbandoned(lease, staleAfter: env.leaseStaleAfter, now: env.clock.nowMilliseconds, localHost: env.actor.host)
        else { return }
        throw EngineError(.leaseHeld, "run \(run.id) is being driven by another process (\(lease.holder)); wait for it, or stop it first")
    }

    /// The run's events, after checking them and the stored rows the engine is about to act on.
    private func verifiedHistory(_ run: RunRecord, _ steps: [StepRecord], verb: String) async throws -> [AuditEvent] {
        let events = try await environment.store.events(runID: run.id)
        if let problem = AuditChain.verify(run: run, events: events, steps: steps) {
            throw EngineError(.tampered, "run \(run.id)'s stored state does not match its audit history (\(problem.reason); event #\(problem.seq) \(problem.kind)), so it was not \(verb == "resumed" ? "resumed" : "touched") (\(verb)). `runbook audit verify \(run.id)` names the problem; restore the database from a backup")
        }
        return events
    }

    /// The run's parameters with its secrets as given again; refuses missing secrets and values that do not
    /// match the fingerprints recorded when the run started.
    private func restoredParameters(_ run: RunRecord, history: [AuditEvent], secrets: [String: String]) throws -> [String: String] {
        var parameters = run.parameters
        var missing: [String] = []
        var wrong: [String] = []
        let fingerprints = history.first?.detail[Self.secretChecksKey].map(AuditChain.decodeCanonicalParameters) ?? [:]
        for name in run.providedSecrets {
            guard let value = secrets[name] else {
                missing.append(name)
                continue
            }
            if let fingerprint = fingerprints[name], !SecretCheck.matches(value, fingerprint: fingerprint) { wrong.append(name) }
            parameters[name] = value
        }
        if !missing.isEmpty {
            throw EngineError(.missingSecret, "run \(run.id) was started with secret parameter\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")), which \(missing.count > 1 ? "are" : "is") never stored; pass \(missing.map { "--param \($0)=…" }.joined(separator: " ")) again (or set \(missing.map { "RUNBOOK_PARAM_\($0.uppercased())" }.joined(separator: ", ")))")
        }
        if !wrong.isEmpty {
            throw EngineError(.wrongSecret, "the value given for secret parameter\(wrong.count > 1 ? "s" : "") \(wrong.map { "'\($0)'" }.joined(separator: ", ")) is not the value run \(run.id) started with; pass the original value")
        }
        return parameters
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
        try? await env.store.releaseLease(runID: driver.lease.runID, leaseToken: driver.lease.token)
        guard let run = try await env.store.run(id: driver.lease.runID) else {
            throw EngineError(.runNotFound, "run \(driver.lease.runID) disappeared from the database")
        }
        // The driver's step records are what it committed; no need to read them back.
        return RunOutcome(run: run, steps: driver.steps)
    }
}
