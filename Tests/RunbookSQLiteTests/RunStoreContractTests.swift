import Foundation
import RunbookEngine
import RunbookSQLite
import RunbookStoreContract
import Testing

/// A store under test with its own scratch space, removed by `close`.
struct StoreUnderTest: Sendable {
    let store: any RunStore
    let close: @Sendable () -> Void
}

/// How to make a fresh, empty store of one kind. Every `RunStore` implementation adds a case here (or, when it
/// needs a server, runs `RunStoreContract` from its own test target) and must pass it unchanged.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory, sqlite

    var testDescription: String { rawValue }

    func make() throws -> StoreUnderTest {
        switch self {
        case .inMemory:
            return StoreUnderTest(store: InMemoryRunStore(), close: {})
        case .sqlite:
            let scratch = try ScratchDirectory()
            return StoreUnderTest(store: try SQLiteRunStore(path: scratch.file("runbook.sqlite")), close: { scratch.remove() })
        }
    }

    /// Run one contract case on a fresh store of this kind.
    func check(_ contractCase: (any RunStore) async throws -> Void) async throws {
        let subject = try make()
        defer { subject.close() }
        try await contractCase(subject.store)
    }
}

/// The store contract (`RunStoreContract`, shared with the PostgreSQL store's tests) on the in-process stores.
@Suite struct RunStoreContractTests {
    @Test(arguments: StoreKind.allCases)
    func aCreatedRunReadsBackAndCannotBeCreatedTwice(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.aCreatedRunReadsBackAndCannotBeCreatedTwice)
    }

    @Test(arguments: StoreKind.allCases)
    func aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.aLiveHolderKeepsTheLeaseAndAStaleOrDeadOneLosesIt)
    }

    @Test(arguments: StoreKind.allCases)
    func aDriverThatLostItsLeaseCanNeverWriteAgain(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.aDriverThatLostItsLeaseCanNeverWriteAgain)
    }

    @Test(arguments: StoreKind.allCases)
    func everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.everyWriteExtendsOneLinearHashChainWhoseHeadTheRunRecords)
    }

    @Test(arguments: StoreKind.allCases)
    func runsListNewestFirstAndStepRowsKeepTheLastWrite(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.runsListNewestFirstAndStepRowsKeepTheLastWrite)
    }

    /// Exact id first, then a byte-wise prefix (case matters; `%` and `_` are plain characters), newest first.
    @Test(arguments: StoreKind.allCases)
    func runIDPrefixesResolveByOneRule(kind: StoreKind) async throws {
        try await kind.check(RunStoreContract.runIDPrefixesResolveByOneRule)
    }
}
