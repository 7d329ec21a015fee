import Foundation
import RunbookEngine
import RunbookPostgresStore
import RunbookStoreContract
import Testing

/// The store contract (`RunStoreContract`, the same cases the SQLite and in-memory stores pass) on a real
/// PostgreSQL server, a fresh one per case.
@Suite(.serialized) struct PostgresContractTests {
    func check(_ contractCase: (any RunStore) async throws -> Void) async throws {
        try await StoreServer.with { server in try await contractCase(try server.open()) }
    }

    @Test func aCreatedRunReadsBackAndCannotBeCreatedTwice() async throws {
        try await check(RunStoreContract.aCreatedRunReadsBackAndCannotBeCreatedTwice)
    }

    @Test func aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt() async throws {
        try await check(RunStoreContract.aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt)
    }

    @Test func aDriverThatLostItsLeaseCanNeverWriteAgain() async throws {
        try await check(RunStoreContract.aDriverThatLostItsLeaseCanNeverWriteAgain)
    }

    @Test func everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords() async throws {
        try await check(RunStoreContract.everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords)
    }

    @Test func runsListNewestFirstAndStepRowsKeepTheLastWrite() async throws {
        try await check(RunStoreContract.runsListNewestFirstAndStepRowsKeepTheLastWrite)
    }

    @Test func runIDPrefixesResolveByOneRule() async throws {
        try await check(RunStoreContract.runIDPrefixesResolveByOneRule)
    }
}
