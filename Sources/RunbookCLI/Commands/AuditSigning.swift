import Foundation
import RunbookEngine

/// Reads the signing key (`--signing-key`, `RUNBOOK_SIGNING_KEY`) and the public key `audit verify` checks with.
enum SigningKeyFile {
    /// The private key in `path`; exit 2 when it is missing, readable or writable by other users (as ssh
    /// refuses such a key), or not a key. The messages never quote the file's content.
    static func load(_ path: String) throws -> AuditSigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CLIExit.usage("signing key \(path) (--signing-key or RUNBOOK_SIGNING_KEY) does not exist; create one with `runbook audit keygen --output \(path)`; nothing was run")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CLIExit.usage("signing key \(path) is not a file; nothing was run") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CLIExit.usage("signing key \(path) is accessible by other users (mode \(String(mode, radix: 8))); nothing was run — make it private with `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CLIExit.usage("cannot read signing key \(path) (check its permissions); nothing was run")
        }
        do {
            return try AuditSigningKey(pem: text)
        } catch {
            throw CLIExit.usage("signing key \(path) \(error.message); nothing was run")
        }
    }

    /// The public key `argument` is (`ed25519:BASE64`) or names a file holding; exit 2 otherwise.
    static func publicKey(_ argument: String) throws -> AuditPublicKey {
        if let key = AuditPublicKey(text: argument) { return key }
        guard FileManager.default.fileExists(atPath: argument) else {
            throw CLIExit.usage("--public-key is neither an Ed25519 public key (ed25519:BASE64, as `runbook audit keygen` prints it) nor a file holding one")
        }
        guard let data = FileManager.default.contents(atPath: argument), let text = String(data: data, encoding: .utf8) else {
            throw CLIExit.usage("cannot read the public key file \(argument)")
        }
        if let key = AuditPublicKey(text: text) { return key }
        if text.contains("PRIVATE KEY") {
            throw CLIExit.usage("\(argument) holds a private key; pass the public key instead (ed25519:BASE64, printed by `runbook audit keygen`)")
        }
        throw CLIExit.usage("\(argument) holds no Ed25519 public key (expected ed25519:BASE64, as `runbook audit keygen` prints it, or a PEM public key)")
    }
}

/// A store that signs a run's chain head with `key` — a `chain_signed` event appended to the run's chain —
/// when the engine lets the run go (it finished, paused for approval or was interrupted) and after every
/// approval, so that every command that drives a run signs where it stops. Signing never fails the run: a
/// signature that cannot be made is warned about and the command ends as the run does.
struct SigningRunStore: RunStore {
    let base: any RunStore
    let key: AuditSigningKey
    let actor: ActorIdentity
    let clock: any RunClock
    /// The head this process last signed per run, so an unchanged head is not signed twice.
    private let signed = SignedHeads()

    init(base: any RunStore, key: AuditSigningKey, actor: ActorIdentity, clock: any RunClock) {
        self.base = base
        self.key = key
        self.actor = actor
        self.clock = clock
    }

    func createRun(_ run: RunRecord, steps: [StepRecord], lease: Lease, events: [NewEvent]) async throws {
        try await base.createRun(run, steps: steps, lease: lease, events: events)
    }

    func commit(runID: String, leaseToken: String, _ changes: RunChanges) async throws {
        try await base.commit(runID: runID, leaseToken: leaseToken, changes)
        if Self.approves(changes.events) { await sign(runID, at: .approval) }
    }

    func commit(runID: String, leaseToken: String, _ changes: RunChanges, launching launches: RunChanges) async throws -> Bool {
        let cancelled = try await base.commit(runID: runID, leaseToken: leaseToken, changes, launching: launches)
        if Self.approves(changes.events + (cancelled ? [] : launches.events)) { await sign(runID, at: .approval) }
        return cancelled
    }

    func acquireLease(runID: String, holder: ActorIdentity, staleAfter: Int64, now: Int64) async throws -> (lease: Lease, replaced: Lease?) {
        try await base.acquireLease(runID: runID, holder: holder, staleAfter: staleAfter, now: now)
    }

    func heartbeat(runID: String, leaseToken: String, now: Int64) async throws -> Bool {
        try await base.heartbeat(runID: runID, leaseToken: leaseToken, now: now)
    }

    /// The driver is done with the run: sign where it stopped, while the lease still keeps other writers out.
    func releaseLease(runID: String, leaseToken: String) async throws {
        await sign(runID, at: .stopped)
        try await base.releaseLease(runID: runID, leaseToken: leaseToken)
    }

    func lease(runID: String) async throws -> Lease? { try await base.lease(runID: runID) }

    func requestCancel(runID: String, event: NewEvent) async throws {
        try await base.requestCancel(runID: runID, event: event)
    }

    func appendUnleased(runID: String, steps: [StepRecord], events: [NewEvent]) async throws {
        try await base.appendUnleased(runID: runID, steps: steps, events: events)
        if Self.approves(events) { await sign(runID, at: .approval) }
    }

    func run(id: String) async throws -> RunRecord? { try await base.run(id: id) }
    func resolveRunID(_ prefix: String) async throws -> RunIDMatch { try await base.resolveRunID(prefix) }
    func runs(limit: Int) async throws -> [RunRecord] { try await base.runs(limit: limit) }
    func steps(runID: String) async throws -> [StepRecord] { try await base.steps(runID: runID) }
    func events(runID: String) async throws -> [AuditEvent] { try await base.events(runID: runID) }
    func events(runID: String, kind: EventKind) async throws -> [AuditEvent] { try await base.events(runID: runID, kind: kind) }
    func allRunIDs() async throws -> [String] { try await base.allRunIDs() }
    var preferredTaskExecutor: (any TaskExecutor)? { base.preferredTaskExecutor }

    static func approves(_ events: [NewEvent]) -> Bool { events.contains { $0.kind == .stepApproved } }

    /// Append a signature of the run's current head; warn instead of failing.
    private func sign(_ runID: String, at point: AuditSignatures.Point) async {
        do {
            guard let run = try await base.run(id: runID), let head = run.chainHead, head != signed.head(of: runID) else { return }
            let event = try AuditSignatures.signatureEvent(runID: runID, head: head, status: run.status, point: point,
                                                           key: key, actor: actor, at: clock.nowMilliseconds)
            try await base.appendUnleased(runID: runID, steps: [], events: [event])
            if let after = try await base.run(id: runID)?.chainHead { signed.set(after, of: runID) }
            Terminal.warning("signed run \(runID)'s history up to event #\(head.seq) (\(point == .approval ? "approval" : run.status.rawValue)) with key \(key.fingerprint)")
        } catch {
            Terminal.warning("could not sign run \(runID)'s history (\(error)); the run itself is recorded as usual, and `audit verify --public-key` will name it as not signed at its end")
        }
    }
}

/// The last head each run was signed at by this process.
private final class SignedHeads: @unchecked Sendable {
    private let lock = NSLock()
    private var heads: [String: ChainHead] = [:]

    func head(of runID: String) -> ChainHead? { lock.withLock { heads[runID] } }
    func set(_ head: ChainHead, of runID: String) { lock.withLock { heads[runID] = head } }
}
