import Foundation
import RunbookEngine
import Testing

private let me = ActorIdentity.current()
private let colleague = ActorIdentity(user: "colleague", host: "another-host.example", pid: 4242)

private func newRun(_ id: String, at time: Int64 = 1_000) -> RunRecord {
    RunRecord(id: id, runbook: "contract", definition: "name: contract", definitionHash: AuditChain.sha256Hex("name: contract"),
              origin: "contract.yaml", parameters: ["target": "db-1"], providedSecrets: [],
              options: RunOptions(workingDirectory: "/tmp"), status: .running, createdAt: time, startedBy: me)
}

private func created(_ run: RunRecord) -> NewEvent {
    NewEvent(kind: .runCreated, detail: [
        "runbook": run.runbook, "definition_hash": run.definitionHash, "parameters": AuditChain.canonicalParameters(run.parameters),
        "started_by": run.startedBy.description,
    ], at: run.createdAt, actor: me)
}

/// Create `id` held by `holder` with one step `a`; returns the lease.
@discardableResult
private func create(_ store: any RunStore, _ id: String, holder: ActorIdentity = me, heartbeat: Int64 = 1_000, at time: Int64 = 1_000) async throws -> Lease {
    let run = newRun(id, at: time)
    let lease = Lease(runID: id, token: UUID().uuidString, holder: holder, heartbeatAt: heartbeat)
    try await store.createRun(run, steps: [StepRecord(runID: id, stepID: "a")], lease: lease, events: [created(run)])
    return lease
}

/// The lease, fencing, audit-chain and record semantics every store must have, stated once. Each case takes a
/// fresh, empty store; each store's test target runs every case (`RunStoreContractTests`, `PostgresContractTests`).
public enum RunStoreContract {
    public static func aCreatedRunReadsBackAndCannotBeCreatedTwice(_ store: any RunStore) async throws {
        try await create(store, "r1")
        let run = try #require(try await store.run(id: "r1"))
        #expect(run.parameters == ["target": "db-1"] && run.status == .running && run.startedBy == me)
        #expect(try await store.steps(runID: "r1").map(\.stepID) == ["a"])
        await #expect(throws: RunStoreError.self) { try await create(store, "r1") }
        #expect(try await store.run(id: "nope") == nil)
    }

    public static func aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt(_ store: any RunStore) async throws {
        // Held by this (live) process: refused, naming the holder.
        try await create(store, "live", holder: me, heartbeat: 10_000)
        do {
            _ = try await store.acquireLease(runID: "live", holder: colleague, staleAfter: 30_000, now: 20_000)
            Issue.record("a live holder's lease was taken")
        } catch let error as RunStoreError {
            #expect(error.code == .leaseHeld && error.holder?.holder == me)
        }
        // Another host with a recent heartbeat: held; once its heartbeat is stale: taken, with the old lease returned.
        let remote = try await create(store, "remote", holder: colleague, heartbeat: 10_000)
        await #expect(throws: RunStoreError.self) {
            _ = try await store.acquireLease(runID: "remote", holder: me, staleAfter: 30_000, now: 39_000)
        }
        let taken = try await store.acquireLease(runID: "remote", holder: me, staleAfter: 30_000, now: 41_000)
        #expect(taken.replaced == remote && taken.lease.holder == me && taken.lease.token != remote.token)
        // This host, a process that no longer exists: taken at once, however fresh its heartbeat.
        let dead = ActorIdentity(user: me.user, host: me.host, pid: Int32.max - 7)
        try await create(store, "dead", holder: dead, heartbeat: 50_000)
        let claimed = try await store.acquireLease(runID: "dead", holder: me, staleAfter: 30_000, now: 50_001)
        #expect(claimed.replaced?.holder == dead)
        await #expect(throws: RunStoreError.self) {
            _ = try await store.acquireLease(runID: "missing", holder: me, staleAfter: 30_000, now: 1)
        }
    }

    public static func aDriverThatLostItsLeaseCanNeverWriteAgain(_ store: any RunStore) async throws {
        let old = try await create(store, "r1", holder: colleague, heartbeat: 0)
        let new = try await store.acquireLease(runID: "r1", holder: me, staleAfter: 30_000, now: 60_000).lease
        let write = RunChanges(runStatus: .failed, steps: [StepRecord(runID: "r1", stepID: "a", status: .succeeded)],
                               events: [NewEvent(stepID: "a", kind: .stepSucceeded, at: 60_001, actor: colleague)])
        for attempt in [{ try await store.commit(runID: "r1", leaseToken: old.token, write) },
                        { _ = try await store.heartbeat(runID: "r1", leaseToken: old.token, now: 60_002) }] {
            do {
                try await attempt()
                Issue.record("a fenced-out driver wrote")
            } catch let error as RunStoreError {
                #expect(error.code == .leaseLost)
            }
        }
        try await store.releaseLease(runID: "r1", leaseToken: old.token)
        #expect(try await store.lease(runID: "r1")?.token == new.token, "releasing with a stale token changes nothing")
        #expect(try await store.run(id: "r1")?.status == .running)
        #expect(try await store.steps(runID: "r1").first?.status == .pending)
        #expect(try await store.events(runID: "r1").count == 1)
        try await store.commit(runID: "r1", leaseToken: new.token, write)
        #expect(try await store.run(id: "r1")?.status == .failed)
    }

    public static func everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords(_ store: any RunStore) async throws {
        let lease = try await create(store, "r1")
        try await store.commit(runID: "r1", leaseToken: lease.token, RunChanges(
            steps: [StepRecord(runID: "r1", stepID: "a", status: .running, attempts: 1)],
            events: [NewEvent(stepID: "a", attempt: 1, kind: .stepStarted, at: 2_000, actor: me, state: "digest-1")]))
        try await store.appendUnleased(runID: "r1", steps: [], events: [NewEvent(stepID: "a", kind: .stepApproved, detail: ["by": "auditor"], at: 2_001, actor: colleague)])
        try await store.requestCancel(runID: "r1", event: NewEvent(kind: .cancelRequested, detail: ["by": "auditor"], at: 2_002, actor: colleague))
        #expect(try await store.heartbeat(runID: "r1", leaseToken: lease.token, now: 2_003), "a cancel request is reported to the driver")
        let events = try await store.events(runID: "r1")
        #expect(events.map(\.seq) == [1, 2, 3, 4])
        #expect(events.map(\.kind) == ["run_created", "step_started", "step_approved", "cancel_requested"])
        #expect(events[1].state == "digest-1" && events[2].state == nil)
        #expect(zip(events.dropFirst(), events).allSatisfy { $0.previousHash == $1.hash })
        #expect(events.first?.previousHash == AuditChain.genesis)
        let run = try #require(try await store.run(id: "r1"))
        #expect(run.cancelRequested)
        #expect(run.chainHead == ChainHead(seq: 4, hash: events[3].hash))
        #expect(AuditChain.verify(run: run, events: events) == nil)
        await #expect(throws: RunStoreError.self) {
            try await store.appendUnleased(runID: "missing", steps: [], events: [created(newRun("missing"))])
        }
    }

    public static func runsListNewestFirstAndStepRowsKeepTheLastWrite(_ store: any RunStore) async throws {
        let first = try await create(store, "20261201-000001-aaaaaa", at: 1_000)
        try await create(store, "20261201-000002-bbbbbb", at: 2_000)
        #expect(try await store.runs(limit: 10).map(\.id) == ["20261201-000002-bbbbbb", "20261201-000001-aaaaaa"])
        #expect(try await store.runs(limit: 1).count == 1)
        #expect(try await store.allRunIDs() == ["20261201-000001-aaaaaa", "20261201-000002-bbbbbb"])
        for status in [StepStatus.running, .waiting, .succeeded] {
            try await store.commit(runID: first.runID, leaseToken: first.token, RunChanges(
                steps: [StepRecord(runID: first.runID, stepID: "a", status: status, outputs: ["status": status.rawValue])]))
        }
        let rows = try await store.steps(runID: first.runID)
        #expect(rows.count == 1 && rows[0].status == .succeeded && rows[0].outputs == ["status": "succeeded"])
    }

    /// Exact id first, then a byte-wise prefix (case matters; `%` and `_` are plain characters), newest first.
    public static func runIDPrefixesResolveByOneRule(_ store: any RunStore) async throws {
        let ids = ["20260101-000001-ab12cd", "20260101-000002-ab34ef", "20260102-000001-ff0000", "abc", "abcd", "x%y", "x_z"]
        for (position, id) in ids.enumerated() { try await create(store, id, at: Int64(position)) }
        let expected: [String: RunIDMatch] = [
            "2026": .ambiguous(candidates: ["20260102-000001-ff0000", "20260101-000002-ab34ef", "20260101-000001-ab12cd"], total: 3),
            "20260101": .ambiguous(candidates: ["20260101-000002-ab34ef", "20260101-000001-ab12cd"], total: 2),
            "20260101-000001": .unique("20260101-000001-ab12cd"),
            "20260101-000001-AB": .notFound,
            "20260102": .unique("20260102-000001-ff0000"),
            "abc": .unique("abc"),
            "ab": .ambiguous(candidates: ["abcd", "abc"], total: 2),
            "x%": .unique("x%y"),
            "x_": .unique("x_z"),
            "x": .ambiguous(candidates: ["x_z", "x%y"], total: 2),
            "": .notFound,
            "nope": .notFound,
            "20260102-000001-ff0000": .unique("20260102-000001-ff0000"),
        ]
        for (prefix, match) in expected.sorted(by: { $0.key < $1.key }) {
            let resolved = try await store.resolveRunID(prefix)
            #expect(resolved == match, "'\(prefix)': \(resolved)")
        }
    }
}
